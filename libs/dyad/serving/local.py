"""A local Ray Serve running a Serve config: what ``dyad serve`` and the tests both start.

``LocalServe`` starts Ray in this process (``address="local"``: never joins a stray cluster),
starts Serve with the config's proxy and gRPC options, deploys the config's applications the
way ``serve run config.yaml`` does, and waits until every application is RUNNING — or fails
with the application's own message when one cannot start. Ray's ports stay off the ones this
stack's neighbours use by default (Redis 6379, MinIO 9000, the dashboard 8265).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from dyad.errors import FailedPrecondition, Unavailable

log = logging.getLogger("dyad.serving")


class LocalServe:
    """Ray + Serve in this process for ``config`` (already fitted to the machine)."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        num_cpus: int,
        num_gpus: int = 0,
        env: dict[str, str] | None = None,
        temp_dir: str | Path | None = None,
        metrics_port: int = 0,
    ) -> None:
        self.config = config
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.env = dict(env or {})
        #: Where Ray exports its own metrics (Serve's request counts and latencies); 0: off.
        self.metrics_port = metrics_port
        # Ray's socket paths are length-limited: keep its temp dir short.
        self._own_root = temp_dir is None
        self.root = Path(temp_dir or tempfile.mkdtemp(prefix="dyad-ray-"))
        self._started = False

    @property
    def grpc_port(self) -> int:
        return int(self.config.get("grpc_options", {}).get("port", 9000))

    @property
    def apps(self) -> list[str]:
        return [str(a["name"]) for a in self.config["applications"]]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self, *, timeout_s: float = 180.0) -> None:
        import ray
        from ray import serve
        from ray.serve.config import HTTPOptions, gRPCOptions
        from ray.serve.schema import ServeDeploySchema

        os.environ.update(self.env)
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # one process: nothing to authenticate
        # ray.init installs its own SIGTERM handler (log and abort); the caller's own handlers
        # must keep deciding how this process stops, so they are put back right after.
        saved = _signal_handlers()
        metrics: dict[str, Any] = (
            {"_metrics_export_port": self.metrics_port} if self.metrics_port else {}
        )
        ray.init(
            address="local",
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            include_dashboard=False,
            _temp_dir=str(self.root / "ray"),
            runtime_env={"env_vars": self.env},
            log_to_driver=False,
            **metrics,
        )
        _restore(saved)
        self._started = True
        try:
            schema = ServeDeploySchema.model_validate(self.config)
            http = self.config.get("http_options", {})
            serve.start(
                http_options=HTTPOptions(host=http.get("host", "127.0.0.1"), port=http["port"]),
                grpc_options=gRPCOptions(**schema.grpc_options.model_dump()),
                proxy_location=schema.proxy_location,
            )
            _client().deploy_apps(schema)
            self.wait_running(timeout_s)
        except BaseException:
            self.stop()
            raise

    def wait_running(self, timeout_s: float) -> None:
        """Block until every application is RUNNING; fail with Serve's message otherwise."""
        from ray import serve

        deadline = time.monotonic() + timeout_s
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            apps = serve.status().applications
            states = {n: apps[n].status.value if n in apps else "MISSING" for n in self.apps}
            failed = {
                n: apps[n].message for n, s in states.items() if s in ("DEPLOY_FAILED", "UNHEALTHY")
            }
            if failed:
                raise FailedPrecondition(f"Ray Serve could not start {failed}")
            if all(s == "RUNNING" for s in states.values()):
                return
            time.sleep(0.5)
        raise Unavailable(f"Ray Serve applications not running after {timeout_s:g} s: {states}")

    def stop(self) -> None:
        if self._started:
            import ray
            from ray import serve

            try:
                serve.shutdown()
            finally:
                ray.shutdown()
                self._started = False
        for key in self.env:
            os.environ.pop(key, None)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}


def _restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)


def _client() -> Any:
    # Deploying a whole config (not one Application) is what `serve run config.yaml` does; Ray
    # exposes it only through the controller client (ray is pinned in requirements.txt).
    from ray.serve.context import _get_global_client

    return _get_global_client()
