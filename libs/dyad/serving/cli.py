"""``dyad serve [--config FILE]``: every service on a local Ray Serve, from the deploy config.

The config (``deploy/ray/serve_config.yaml``) is written for a GPU cluster; on a machine
without a GPU the fractional ``num_gpus`` would leave every GPU stage pending forever, so they
are dropped (and said so), and ``--local`` caps each deployment at one replica. The adjusted
config goes to Ray's own ``serve run``, which starts a local Ray, deploys every application
behind the gRPC proxy and blocks until Ctrl-C.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from dyad.errors import InvalidInput

DEFAULT_CONFIG = Path("deploy/ray/serve_config.yaml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run every service on a local Ray Serve (gRPC on :9000)")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--grpc-port", type=int, default=0, help="override grpc_options.port")
    p.add_argument("--local", action=argparse.BooleanOptionalAction, default=True,
                   help="one replica per deployment (default on)")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print the effective config and exit")
    p.set_defaults(func=serve)


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or bool(os.environ.get("CUDA_VISIBLE_DEVICES"))


def adapt(config: dict[str, Any], *, gpu: bool, local: bool, grpc_port: int = 0) -> dict[str, Any]:
    """The config for this machine: no ``num_gpus`` without a GPU, one replica with ``local``."""
    out = copy.deepcopy(config)
    if grpc_port:
        out.setdefault("grpc_options", {})["port"] = grpc_port
    for app in out.get("applications", []):
        for dep in app.get("deployments", []):
            actor = dep.get("ray_actor_options") or {}
            if not gpu:
                actor.pop("num_gpus", None)
            if local:
                auto = dep.get("autoscaling_config")
                if auto:
                    auto["min_replicas"] = auto["max_replicas"] = 1
                    auto.pop("initial_replicas", None)
    return out


def serve(args: argparse.Namespace) -> int:
    import yaml

    if not args.config.is_file():
        raise InvalidInput("--config", f"{args.config} is not a file")
    try:
        config = yaml.safe_load(args.config.read_text())
    except yaml.YAMLError as e:
        raise InvalidInput("--config", f"not YAML: {e}") from None
    gpu = has_gpu()
    effective = adapt(config, gpu=gpu, local=args.local, grpc_port=args.grpc_port)
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
        print(f"dyad serve: gRPC on :{port} (metadata `application: <name>`); Ctrl-C stops",
              file=sys.stderr)  # fmt: skip
        try:
            return subprocess.call([str(exe) if exe.exists() else "serve", "run", f.name])
        except KeyboardInterrupt:
            return 130
