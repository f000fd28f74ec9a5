"""``dyad serve``: the whole served system on this machine, until Ctrl-C or SIGTERM.

Redis (the job queue), the artefact store, Ray Serve with every application of the Serve
config fitted to this machine (the gateway among them, the gRPC proxy on ``--grpc-port``) and
``--workers`` batch workers whose stages are the served services (``stack.LocalStack``). It
prints where everything is, writes a dev token and ``<dir>/stack.json`` so that ``dyad submit``
in another terminal finds the endpoint, the application and the token by itself, and stops
everything it started on the way out.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from dyad.errors import InvalidInput


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run the whole served system here: Redis, Ray Serve, gateway, workers"
    )
    p.add_argument("--grpc-port", type=int, default=9000, help="Serve's gRPC proxy (default 9000)")
    p.add_argument("--workers", type=int, default=2, help="batch workers (default 2)")
    p.add_argument(
        "--dir", type=Path, help="state directory (default: DYAD_SERVE_DIR or .dyad/serve)"
    )
    p.add_argument(
        "--config", type=Path, help="Serve config (default: deploy/ray/serve_config.yaml)"
    )
    p.add_argument("--cpus", type=int, default=0, help="CPUs to fit the replicas in (default: all)")
    p.add_argument(
        "--timeout", type=float, default=180.0, help="seconds to wait for every application"
    )
    p.add_argument("--dry-run", action="store_true", help="print the fitted Serve config and exit")
    p.set_defaults(func=serve)


def _options(args: argparse.Namespace) -> object:
    from dyad.serving.stack import StackOptions, stack_dir

    if not 1 <= args.grpc_port <= 65535:
        raise InvalidInput("--grpc-port", "between 1 and 65535")
    if not 0 <= args.workers <= 64:
        raise InvalidInput("--workers", "between 0 and 64")
    if args.cpus < 0:
        raise InvalidInput("--cpus", "must not be negative")
    if args.config is not None and not args.config.is_file():
        raise InvalidInput("--config", f"{args.config} is not a file")
    return StackOptions(
        directory=stack_dir(args.dir),
        grpc_port=args.grpc_port,
        workers=args.workers,
        config=args.config,
        cpus=args.cpus,
        ready_timeout_s=args.timeout,
    )


def serve(args: argparse.Namespace) -> int:
    import yaml

    from dyad.config import PlatformSettings, load
    from dyad.logs import configure
    from dyad.serving.stack import LocalStack, dev_token

    options = _options(args)
    platform = load(PlatformSettings)
    configure(platform.log_level, json_format=platform.log_json)
    stack = LocalStack(options, platform)  # type: ignore[arg-type]
    if args.dry_run:
        print(yaml.safe_dump(stack.fitted_config(), sort_keys=False), end="")
        return 0
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise KeyboardInterrupt  # unwinds start() or the wait below into the clean-up

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def say(line: str) -> None:
        print(f"dyad serve: {line}", file=sys.stderr, flush=True)

    try:
        stack.start(progress=say)
        token = dev_token(stack.dir)
        say(f"workers    {len(stack.workers)} (logs in {stack.dir / 'logs'})")
        say(f"metrics    Ray {stack.ray_metrics_port}, workers {stack.worker_metrics_ports}")
        print(
            f"\nDyad is serving on {stack.endpoint} (gRPC; application metadata `gateway`).\n"
            f"Dev token (team `local`): {token}  — in {stack.dir / 'tokens'} (mode 0600)\n"
            f'In another terminal: dyad submit --prompt "…" --wait --download out/\n'
            "Ctrl-C stops everything.",
            flush=True,
        )
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping…")
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if s == signal.SIGINT else handler)
        stack.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        say("stopped")
    return 0
