"""``dyad serve [--config FILE]``: every service on a local Ray Serve, from the deploy config.

The config (``deploy/ray/serve_config.yaml``) is written for a GPU cluster; it is fitted to
this machine (``dyad.serving.config.fit_to_machine``: GPU shares dropped without a GPU, CPU
shares scaled so every replica fits, one replica each) and handed to Ray's own ``serve run``,
which starts a local Ray, deploys every application behind the gRPC proxy and blocks until
Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dyad.errors import InvalidInput

DEFAULT_CONFIG = Path("deploy/ray/serve_config.yaml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run every service on a local Ray Serve (gRPC on :9000)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--grpc-port", type=int, default=0, help="override grpc_options.port")
    p.add_argument("--dry-run", action="store_true", help="print the effective config and exit")
    p.set_defaults(func=serve)


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))


def serve(args: argparse.Namespace) -> int:
    import yaml

    from dyad.serving.config import fit_to_machine, load_config

    if not args.config.is_file():
        raise InvalidInput("--config", f"{args.config} is not a file")
    config = load_config(args.config)
    gpu = has_gpu()
    cpus = float(os.cpu_count() or 1)
    effective = fit_to_machine(
        config, cpus=cpus, gpus=1.0 if gpu else 0.0, grpc_port=args.grpc_port
    )
    if not gpu:
        print("dyad serve: no GPU here — GPU stages run on CPU (num_gpus dropped)", file=sys.stderr)
    text = yaml.safe_dump(effective, sort_keys=False)
    if args.dry_run:
        print(text)
        return 0
    exe = Path(sys.executable).with_name("serve")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="dyad-serve-") as f:
        f.write(text)
        f.flush()
        port = effective.get("grpc_options", {}).get("port", 9000)
        print(
            f"dyad serve: gRPC on :{port} (metadata `application: <name>`); Ctrl-C stops",
            file=sys.stderr,
        )
        try:
            return subprocess.call([str(exe) if exe.exists() else "serve", "run", f.name])
        except KeyboardInterrupt:
            return 130
