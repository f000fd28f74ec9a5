"""The whole served system on one machine (``dyad serve``): what the Helm chart runs on a
cluster, in one command on a laptop.

``LocalStack`` starts, in order, and stops in reverse, leaving no process behind:

1. ``redis-server`` for the job queue, AOF on, its data under ``<dir>/redis`` (jobs survive a
   restart of the stack);
2. the artefact store: ``DYAD_STORE_URI`` when it names S3/MinIO (with ``DYAD_S3_*``), else one
   local directory every process shares (``./.dyad/store`` made absolute);
3. Ray Serve in this process with every application of the Serve config fitted to the machine
   (``config.fit_to_machine``: CPU shares scaled so every replica fits, GPU shares only where
   CUDA is), the gateway among them, the gRPC proxy on ``--grpc-port`` (9000);
4. ``workers`` batch workers (``python -m dyad.services.worker``) whose stages are the served
   services (``DYAD_PIPELINE_ENDPOINT`` = the proxy).

A dev bearer token is generated once (``<dir>/tokens``, mode 0600) and the stack describes
itself in ``<dir>/stack.json`` (endpoint, application, token file, store, Redis, metrics), which
``dyad submit`` and the SDK read when no endpoint or token is given.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dyad.config import PlatformSettings
from dyad.errors import FailedPrecondition, Unavailable
from dyad.serving.config import fit_to_machine, load_config
from dyad.serving.local import LocalServe
from dyad.serving.processes import RedisServer, free_port

log = logging.getLogger("dyad.serving")

#: Where ``dyad serve`` keeps its state and ``dyad submit`` looks for it.
DIR_SETTING = "DYAD_SERVE_DIR"
DEFAULT_DIR = Path(".dyad") / "serve"
STACK_FILE, TOKENS_FILE = "stack.json", "tokens"
#: The application the Job API is routed to behind Serve's proxy.
GATEWAY_APP = "gateway"
DEV_TEAM = "local"


def stack_dir(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get(DIR_SETTING) or DEFAULT_DIR).expanduser().absolute()


def read_stack(path: str | Path | None = None) -> dict[str, Any] | None:
    """The running local stack's description, or None when there is none."""
    f = stack_dir(path) / STACK_FILE
    try:
        return dict(json.loads(f.read_text()))
    except (OSError, ValueError):
        return None


def dev_token(directory: Path) -> str:
    """The stack's dev token: made once, kept in ``tokens`` (``team:token``, mode 0600)."""
    f = directory / TOKENS_FILE
    if f.is_file():
        team, _, token = f.read_text().strip().partition(":")
        if team and token:
            return token
    token = secrets.token_urlsafe(24)
    fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"{DEV_TEAM}:{token}\n")
    os.chmod(f, 0o600)
    return token


def cuda_devices() -> int:
    """GPUs Ray may use here (0 without CUDA); torch is asked only when it is installed."""
    try:
        import torch
    except ImportError:
        return 0
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


@dataclass
class StackOptions:
    directory: Path = field(default_factory=stack_dir)
    grpc_port: int = 9000
    workers: int = 2
    config: Path | None = None
    cpus: int = 0  # 0: this machine's
    ready_timeout_s: float = 180.0


class LocalStack:
    def __init__(self, options: StackOptions, platform: PlatformSettings) -> None:
        self.options = options
        self.platform = platform
        self.dir = options.directory
        self.redis: RedisServer | None = None
        self.serve: LocalServe | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self.cpus = options.cpus or os.cpu_count() or 1
        self.gpus = cuda_devices()
        self.ray_metrics_port = free_port()
        self.worker_metrics_ports: list[int] = []

    # --- what runs where --------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.options.grpc_port}"

    def store_env(self) -> dict[str, str]:
        p = self.platform
        if p.store_uri.startswith("s3://"):
            if not p.s3_endpoint:
                raise FailedPrecondition(f"DYAD_S3_ENDPOINT: needed for the store {p.store_uri}")
            return {
                "DYAD_STORE_URI": p.store_uri,
                "DYAD_S3_ENDPOINT": p.s3_endpoint,
                "DYAD_S3_ACCESS_KEY": p.s3_access_key,
                "DYAD_S3_SECRET_KEY": p.s3_secret_key,
                "DYAD_S3_REGION": p.s3_region,
                "DYAD_S3_SECURE": str(p.s3_secure).lower(),
            }
        local = Path(p.store_uri[len("file://") :]).expanduser().absolute()
        return {"DYAD_STORE_URI": f"file://{local}"}

    def fitted_config(self) -> dict[str, Any]:
        return fit_to_machine(
            load_config(self.options.config),
            cpus=self.cpus,
            gpus=self.gpus,
            grpc_port=self.options.grpc_port,
            http_port=free_port(),
            host="127.0.0.1",
        )

    # --- start and stop ---------------------------------------------------------------------
    def start(self, *, progress: Any = print) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        self._check_port()
        token = dev_token(self.dir)
        config = self.fitted_config()  # a bad config fails before anything starts
        try:
            self.redis = RedisServer(self.dir / "redis", fsync="everysec")
            (self.dir / "redis").mkdir(exist_ok=True)
            self.redis.start()
            progress(f"redis      {self.redis.url} (AOF in {self.dir / 'redis'})")
            env = {
                **self.store_env(),
                "DYAD_REDIS_URL": self.redis.url,
                "DYAD_QUEUE_PREFIX": self.platform.queue_prefix,
                "DYAD_GATEWAY_TOKENS_FILE": str(self.dir / TOKENS_FILE),
                "DYAD_LOG_LEVEL": self.platform.log_level,
                # Ray gives a replica with a fractional CPU share one thread; on one machine the
                # stages of a job run one after another, so each may use every core.
                "OMP_NUM_THREADS": str(self.cpus),
            }
            progress(f"store      {env['DYAD_STORE_URI']}")
            apps = len(config["applications"])
            where = f"{self.cpus} CPU(s), {self.gpus} GPU(s)"
            progress(f"ray serve  starting {apps} applications on {where}…")
            self.serve = LocalServe(
                config,
                num_cpus=self.cpus,
                num_gpus=self.gpus,
                env=env,
                metrics_port=self.ray_metrics_port,
            )
            self.serve.start(timeout_s=self.options.ready_timeout_s)
            progress(f"ray serve  {self.endpoint} — every application RUNNING")
            self._start_workers(env)
            self._write_stack(token)
        except BaseException:
            self.stop()
            raise

    def _check_port(self) -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", self.options.grpc_port))
            except OSError:
                raise FailedPrecondition(
                    f"--grpc-port: 127.0.0.1:{self.options.grpc_port} is taken (another stack, "
                    "or MinIO's default port); pick another one"
                ) from None

    def _start_workers(self, env: dict[str, str]) -> None:
        for n in range(self.options.workers):
            port = free_port()
            self.worker_metrics_ports.append(port)
            wenv = {
                **os.environ,
                **env,
                "DYAD_PIPELINE_ENDPOINT": self.endpoint,
                "DYAD_WORKER_CONSUMER": f"local-{n + 1}",
                "DYAD_METRICS_PORT": str(port),
                "DYAD_GRPC_HOST": "127.0.0.1",
                # INFO at least: the stack waits for each worker's "started" line.
                "DYAD_LOG_LEVEL": "DEBUG" if self.platform.log_level == "DEBUG" else "INFO",
            }
            out = open(self.dir / "logs" / f"worker-{n + 1}.log", "ab")  # noqa: SIM115
            self._logs.append(out)
            self.workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dyad.services.worker"],
                    env=wenv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches the stack, which stops them in order
                )
            )
        self._wait_workers()

    def _wait_workers(self, timeout_s: float = 60.0) -> None:
        """Each worker said it started (its log), or the stack fails with its last lines."""
        deadline = time.monotonic() + timeout_s
        pending = set(range(len(self.workers)))
        while pending and time.monotonic() < deadline:
            for n in sorted(pending):
                proc = self.workers[n]
                text = (self.dir / "logs" / f"worker-{n + 1}.log").read_text(errors="replace")
                if proc.poll() is not None:
                    tail = "\n".join(text.strip().splitlines()[-5:])
                    raise FailedPrecondition(f"worker {n + 1} exited at start:\n{tail}")
                if f"worker local-{n + 1} started" in text:
                    pending.discard(n)
            time.sleep(0.2)
        if pending:
            raise Unavailable(f"workers {sorted(n + 1 for n in pending)} did not start")

    def _write_stack(self, token: str) -> None:
        stack = {
            "endpoint": self.endpoint,
            "application": GATEWAY_APP,
            "token_file": str(self.dir / TOKENS_FILE),
            "team": DEV_TEAM,
            "store_uri": self.store_env()["DYAD_STORE_URI"],
            "redis_url": self.redis.url if self.redis else "",
            "metrics": {
                "ray": f"http://127.0.0.1:{self.ray_metrics_port}/metrics",
                "workers": [f"http://127.0.0.1:{p}/metrics" for p in self.worker_metrics_ports],
            },
            "pid": os.getpid(),
        }
        tmp = self.dir / f".{STACK_FILE}.tmp"
        tmp.write_text(json.dumps(stack, indent=2) + "\n")
        tmp.replace(self.dir / STACK_FILE)

    def stop(self, grace_s: float = 20.0) -> None:
        """Workers first (SIGTERM: a running job finishes or is released), then Serve and Ray,
        then Redis; whatever does not stop in time is killed."""
        (self.dir / STACK_FILE).unlink(missing_ok=True)
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for proc in self.workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()
        if self.serve is not None:
            self.serve.stop()
            self.serve = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
