"""``dyad queue``: the operator's view of the job queue, straight from Redis.

``stats`` (depth per priority, delayed, dead-lettered), ``dead`` (the dead-letter entries,
newest first, with their errors), ``requeue`` (fresh deliveries for failed jobs, after the
cause was fixed) and ``discard`` (drop dead-letter entries, the jobs stay failed). Reads
``DYAD_REDIS_URL`` and ``DYAD_QUEUE_PREFIX`` like the workers, so in a cluster it runs where a
worker runs: ``kubectl exec deploy/dyad-worker -- dyad queue stats``. Prints JSON.
``--prefix`` names another queue on that Redis: FitAvatar jobs are queued on
``<DYAD_QUEUE_PREFIX>:fit`` (``dyad queue --prefix dyad:fit stats``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from dyad.errors import InvalidInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("queue", help="inspect the job queue; requeue or discard dead letters")
    p.add_argument(
        "--prefix",
        default=None,
        help="the queue's key prefix (default: DYAD_QUEUE_PREFIX); FitAvatar jobs are on "
        "'<DYAD_QUEUE_PREFIX>:fit'",
    )
    ops = p.add_subparsers(title="operations", metavar="OPERATION", required=True)
    stats = ops.add_parser("stats", help="jobs waiting, running, delayed, dead per priority")
    stats.set_defaults(func=_stats)
    dead = ops.add_parser("dead", help="dead-letter entries, newest first, with their errors")
    dead.add_argument("--count", type=int, default=20, help="entries to show (default 20)")
    dead.set_defaults(func=_dead)
    for name, func, doc in (
        ("requeue", _requeue, "give failed jobs fresh deliveries (after fixing the cause)"),
        ("discard", _discard, "drop jobs' dead-letter entries; the jobs stay failed"),
    ):
        op = ops.add_parser(name, help=doc)
        op.add_argument("job_ids", nargs="+", metavar="JOB_ID")
        op.set_defaults(func=func)


def _queue(args: argparse.Namespace) -> Any:
    import dataclasses

    from dyad.config import PlatformSettings, load
    from dyad.queue import JobQueue, QueueConfig

    platform = load(PlatformSettings)
    cfg = QueueConfig.from_settings(platform)
    if args.prefix is not None:
        if not args.prefix.strip() or any(c.isspace() for c in args.prefix):
            raise InvalidInput("--prefix", "a Redis key prefix without spaces, e.g. dyad:fit")
        cfg = dataclasses.replace(cfg, prefix=args.prefix)
    return JobQueue.from_url(platform.redis_url, cfg)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2, sort_keys=True))


def _stats(args: argparse.Namespace) -> int:
    _print(_queue(args).stats())
    return 0


def _dead(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= 10_000:
        raise InvalidInput("--count", "between 1 and 10000")
    entries = _queue(args).dead_letters(args.count)
    for e in entries:
        with contextlib.suppress(json.JSONDecodeError):  # not JSON: shown as it is
            e["error"] = json.loads(e.get("error") or "{}")
    _print(entries)
    return 0


def _requeue(args: argparse.Namespace) -> int:
    queue, ids = _queue(args), list(dict.fromkeys(args.job_ids))
    for job_id in ids:  # every one checked (NotFound, not failed) before any is requeued
        status = queue.get(job_id).status.value
        if status != "failed":
            raise InvalidInput("JOB_ID", f"job {job_id} is {status}, not failed")
    _print([{"job_id": j, "status": queue.requeue_dead(j).status.value} for j in ids])
    return 0


def _discard(args: argparse.Namespace) -> int:
    queue, ids = _queue(args), list(dict.fromkeys(args.job_ids))
    for job_id in ids:
        queue.get(job_id)  # NotFound before anything is dropped
    _print([{"job_id": j, "discarded": queue.discard_dead(j)} for j in ids])
    return 0
