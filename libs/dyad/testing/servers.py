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
import subprocess
import sys
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from dyad.serving.config import fit_to_machine, load_config
from dyad.serving.local import LocalServe
from dyad.serving.processes import RedisServer, ServerProcess, free_port, wait_until


class S3Server(ServerProcess):
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

        wait_until(up, f"moto S3 server on :{self.port}", 30.0, self.proc)

    def stop(self) -> None:
        self._terminate()


class RayServe(LocalServe):
    """The repository's Serve config (``deploy/ray/serve_config.yaml``), limited to ``apps``
    and fitted to ``num_cpus`` exactly as ``dyad serve`` fits it, on a local Ray with Serve's
    proxy on free loopback ports. ``env`` reaches the replicas and this process;
    ``user_config`` overrides a deployment's ``user_config`` and ``deployment`` its other keys
    (None removes one) by application name::

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
        deployment: dict[str, dict[str, Any]] | None = None,
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
                for key, value in (deployment or {}).get(app["name"], {}).items():
                    if value is None:  # e.g. autoscaling_config: None for a fixed replica
                        dep.pop(key, None)
                    else:
                        dep[key] = value
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
