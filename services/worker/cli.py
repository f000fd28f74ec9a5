"""``dyad worker``: a batch worker process (also ``python -m dyad.services.worker``)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from dyad.config import PlatformSettings, load
from dyad.errors import EXIT_USAGE, DyadError
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.worker import Worker

if TYPE_CHECKING:
    from dyad.queue import QueueCollector

log = logging.getLogger("dyad.worker")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "worker", help="run a batch worker: claim queued jobs and run the pipeline on them"
    )
    p.add_argument("--runner", help="JobRunner `module:attr` (default: DYAD_WORKER_RUNNER)")
    p.add_argument(
        "--concurrency", type=int, help="jobs at once (default: DYAD_WORKER_CONCURRENCY)"
    )
    p.add_argument(
        "--consumer", help="consumer name (default: DYAD_WORKER_CONSUMER or host-pid-random)"
    )
    p.add_argument("--max-jobs", type=int, help="exit after this many jobs (default: never)")
    p.set_defaults(func=run_worker)


def build_worker(platform: PlatformSettings, settings: WorkerSettings) -> Worker:
    """A worker on the queue, store and runner the settings name; fails fast on each."""
    from dyad.queue import JobQueue, QueueConfig
    from dyad.services.worker.runner import load_runner
    from dyad.storage import open_store

    runner = load_runner(settings.runner)
    queue = JobQueue.from_url(platform.redis_url, QueueConfig.from_settings(platform))
    worker = Worker(queue, open_store(platform), runner, settings)
    for q in worker.queues:
        q.ensure_groups()
    return worker


def _overrides(args: argparse.Namespace, settings: WorkerSettings) -> WorkerSettings:
    given: dict[str, Any] = {
        k: v
        for k, v in {
            "runner": args.runner,
            "concurrency": args.concurrency,
            "consumer": args.consumer,
            "max_jobs": args.max_jobs,
        }.items()
        if v is not None
    }
    merged = dataclasses.replace(settings, **given)
    merged.validate()
    return merged


def queue_collector(worker: Worker) -> QueueCollector:
    """The queue gauges of the kinds ``worker`` takes, and of no other (a fit-only worker shows
    the fit queue alone; the standalone gateway exports every kind)."""
    from dyad.queue import QueueCollector

    return QueueCollector(dict(zip(worker.settings.kinds, worker.queues, strict=True)))


def run_worker(args: argparse.Namespace) -> int:
    from dyad.logs import configure

    platform = load(PlatformSettings)
    configure(platform.log_level, json_format=platform.log_json)
    worker = build_worker(platform, _overrides(args, WorkerSettings.from_env()))
    if platform.metrics_port:
        from prometheus_client import REGISTRY

        from dyad.metrics import start_metrics_server

        REGISTRY.register(queue_collector(worker))
        start_metrics_server(platform.metrics_port, platform.metrics_address)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping (a second one releases running jobs now)", signum)
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """The ``worker`` command alone, with the CLI's error contract (one line, exit 2)."""
    parser = argparse.ArgumentParser(prog="dyad")
    register(parser.add_subparsers())
    args = parser.parse_args(["worker", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except DyadError as e:
        print(f"dyad: {e.message}", file=sys.stderr)
        return 1 if e.code == "INTERNAL" else EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
