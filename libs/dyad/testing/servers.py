"""Real servers for tests and benchmarks, on loopback and free ports (never mocks).

- ``RedisServer``: a ``redis-server`` subprocess with AOF on in its own directory, so a test
  can kill and restart it and check durability.
- ``S3Server``: moto's standalone S3-compatible server as a subprocess (no MinIO server can be
  installed here; moto speaks the S3 REST protocol, multipart and SigV4 presigning included);
- ``RayServe``: the Serve config's applications on a local Ray, as ``dyad serve`` runs them.

All are context managers; ``stop()`` always leaves no process behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from dyad.errors import FailedPrecondition
from dyad.serving.config import fit_to_machine, load_config
from dyad.serving.local import LocalServe


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: object, what: str, timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} during start-up")
        try:
            if check():  # type: ignore[operator]
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout_s} s")


class _Server(ABC):
    proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def _terminate(self, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class RedisServer(_Server):
    """``redis-server`` on a free loopback port, AOF on (``appendfsync always`` by default)."""

    def __init__(self, data_dir: str | Path | None = None, *, fsync: str = "always") -> None:
        if shutil.which("redis-server") is None:
            raise FailedPrecondition("redis-server not found: run `make setup` (installs it)")
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="dyad-redis-"))
        self.port = free_port()
        self.fsync = fsync

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                self.fsync,
                "--dir",
                str(self.data_dir),
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            _wait(client.ping, f"redis-server on :{self.port}", 10.0, self.proc)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs; only what reached the AOF survives."""
        self._terminate(signal.SIGKILL)

    def stop(self) -> None:
        self._terminate()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class S3Server(_Server):
    """moto's S3 server on a free loopback port; credentials are arbitrary but required."""

    access_key = "dyad-test"
    secret_key = "dyad-test-secret"
    region = "us-east-1"

    def __init__(self) -> None:
        self.port = free_port()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
            AWS_DEFAULT_REGION=self.region,
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )

        def up() -> bool:
            with urllib.request.urlopen(f"http://{self.endpoint}/moto-api/", timeout=0.5) as r:
                return bool(r.status == 200)

        _wait(up, f"moto S3 server on :{self.port}", 30.0, self.proc)

    def stop(self) -> None:
        self._terminate()


class RayServe(LocalServe):
    """The repository's Serve config (``deploy/ray/serve_config.yaml``), limited to ``apps``
    and fitted to ``num_cpus`` exactly as ``dyad serve`` fits it, on a local Ray with Serve's
    proxy on free loopback ports. ``env`` reaches the replicas and this process;
    ``user_config`` overrides a deployment's ``user_config`` by application name::

        with RayServe(["motion"], {"DYAD_STORE_URI": store.root_uri}) as rs:
            stub = MotionServiceStub(grpc.insecure_channel(f"127.0.0.1:{rs.grpc_port}"))
    """

    def __init__(
        self,
        apps: Iterable[str] | None,
        env: dict[str, str],
        *,
        num_cpus: int = 2,
        user_config: dict[str, dict[str, Any]] | None = None,
        metrics_port: int = 0,
    ) -> None:
        config = fit_to_machine(
            load_config(),
            cpus=num_cpus,
            apps=apps,
            grpc_port=free_port(),
            http_port=free_port(),
            host="127.0.0.1",
        )
        for app in config["applications"]:
            for dep in app["deployments"]:
                dep.setdefault("user_config", {}).update((user_config or {}).get(app["name"], {}))
        super().__init__(
            config,
            num_cpus=num_cpus,
            env={"DYAD_LOG_LEVEL": "WARNING", **env},
            metrics_port=metrics_port,
        )


class ServedStack:
    """The served system for tests, started once: a ``redis-server``, a local artefact store and
    every application of the Serve config on one local Ray fitted to ``num_cpus`` (as
    ``dyad serve`` fits it). ``tokens`` are the gateway's; ``user_config`` overrides a
    deployment's batching by application name."""

    QUEUE_PREFIX = "served"

    def __init__(
        self,
        root: Path,
        *,
        tokens: str,
        num_cpus: int = 2,
        user_config: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        from dyad.storage import LocalStore

        self.store = LocalStore(root / "store")
        (root / "redis").mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(root / "redis")
        self.tokens = tokens
        self.num_cpus = num_cpus
        self.user_config = user_config
        #: Ray's own metrics (Serve's requests per deployment) on this port.
        self.ray_metrics_port = free_port()
        self.ray: RayServe | None = None

    @property
    def env(self) -> dict[str, str]:
        """The platform settings every replica and worker of this stack shares."""
        return {
            "DYAD_STORE_URI": self.store.root_uri,
            "DYAD_REDIS_URL": self.redis.url,
            "DYAD_QUEUE_PREFIX": self.QUEUE_PREFIX,
            "DYAD_GATEWAY_TOKENS": self.tokens,
        }

    @property
    def grpc_port(self) -> int:
        assert self.ray is not None
        return self.ray.grpc_port

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def __enter__(self) -> Self:
        self.redis.start()
        try:
            self.ray = RayServe(
                None,
                self.env,
                num_cpus=self.num_cpus,
                user_config=self.user_config,
                metrics_port=self.ray_metrics_port,
            ).__enter__()
        except BaseException:
            self.redis.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.ray is not None:
                self.ray.__exit__()
        finally:
            self.redis.stop()
