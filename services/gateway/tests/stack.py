"""A real gateway for tests: its gRPC server on a free port in a background thread, on a real
redis-server and a real store (a directory, or moto's S3 server). Shared by the gateway's own
tests and the cross-service job tests in ``tests/`` (gateway + workers + SDK)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
import redis

from dyad.config import PlatformSettings
from dyad.queue import JobQueue, QueueConfig
from dyad.services.gateway.__main__ import build_server
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import ArtifactStore, open_store
from dyad.testing import RedisServer, S3Server

RED = "red-team-token-0123456789"
BLUE = "blue-team-token-0123456789"
TOKENS = f"red:{RED},blue:{BLUE}"
LIMITS = {"max_prompt_chars": 200, "max_n": 4, "max_audio_duration_s": 2.0}


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Stack:
    """A running gateway and what it runs on."""

    platform: PlatformSettings
    settings: GatewaySettings
    queue: JobQueue
    store: ArtifactStore
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stub(self) -> Any:
        from dyad.v1 import job_service_pb2_grpc as pb_grpc

        return pb_grpc.JobServiceStub(grpc.insecure_channel(self.endpoint))


class GatewayThread:
    """``build_server`` (the standalone gateway) serving from its own event loop thread."""

    def __init__(self, platform: PlatformSettings, settings: GatewaySettings) -> None:
        self.server = build_server(platform, settings)
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            try:
                self.port = await self.server.start()
                await self.server.warm_up_and_serve()
            except BaseException as e:
                self._error = e
                raise
            finally:
                self._ready.set()
            await self._stop.wait()
            await self.server.stop(0.5)

        asyncio.run(main())

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def platform_env(p: PlatformSettings) -> dict[str, str]:
    """The env vars that give a subprocess (a worker) the same platform settings."""
    return {
        "DYAD_REDIS_URL": p.redis_url,
        "DYAD_STORE_URI": p.store_uri,
        "DYAD_S3_ENDPOINT": p.s3_endpoint,
        "DYAD_S3_ACCESS_KEY": p.s3_access_key,
        "DYAD_S3_SECRET_KEY": p.s3_secret_key,
        "DYAD_QUEUE_PREFIX": p.queue_prefix,
        "DYAD_QUEUE_VISIBILITY_TIMEOUT_S": str(p.queue_visibility_timeout_s),
        "DYAD_QUEUE_BACKOFF_BASE_S": str(p.queue_backoff_base_s),
        "DYAD_LOG_LEVEL": "WARNING",
    }


def start_stack(
    redis_url: str, store_dir: Path, s3: S3Server | None = None, port: int = 0, **overrides: Any
) -> tuple[Stack, GatewayThread]:
    """A gateway (settings ``overrides``) on ``redis_url`` and a directory or S3 store."""
    store_kw: dict[str, Any] = {"store_uri": f"file://{store_dir}"}
    if s3 is not None:
        store_kw = {
            "store_uri": f"s3://t-{uuid.uuid4().hex[:12]}/dyad",
            "s3_endpoint": s3.endpoint,
            "s3_access_key": s3.access_key,
            "s3_secret_key": s3.secret_key,
        }
    platform = PlatformSettings(
        redis_url=redis_url,
        queue_prefix="t",
        queue_visibility_timeout_s=30.0,
        queue_backoff_base_s=0.05,
        grpc_port=port,
        log_level="WARNING",
        **store_kw,
    )
    settings = GatewaySettings(**{"tokens": TOKENS, "watch_poll_s": 0.2, **LIMITS, **overrides})
    gw = GatewayThread(platform, settings).__enter__()
    queue = JobQueue(
        redis.Redis.from_url(redis_url, decode_responses=True), QueueConfig.from_settings(platform)
    )
    stack = Stack(platform, settings, queue, open_store(platform), gw.port, platform_env(platform))
    return stack, gw


@pytest.fixture
def make_stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[Any]:
    """``make_stack(s3=None, **gateway_settings)`` → a running ``Stack``."""
    running: list[GatewayThread] = []

    def make(s3: S3Server | None = None, **overrides: Any) -> Stack:
        stack, gw = start_stack(redis_server.url, tmp_path / "store", s3, **overrides)
        running.append(gw)
        return stack

    yield make
    for gw in running:
        gw.__exit__()
