"""Run a test against a real in-process gRPC server (``DyadServer``) on a free loopback port."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.rpc import DyadServer, insecure_channel
from dyad.serving.processes import wait_until


def with_server(
    server: DyadServer,
    test: Callable[[grpc.aio.Channel], Awaitable[Any]],
    *,
    warm_up: bool = True,
) -> Any:
    """Start ``server`` (port 0 picks a free one), warm it up unless told not to, run
    ``await test(channel)`` and stop the server whatever happened; returns the test's result."""

    async def main() -> Any:
        port = await server.start()
        if warm_up:
            await server.warm_up_and_serve()
        try:
            async with insecure_channel(f"127.0.0.1:{port}") as channel:
                return await test(channel)
        finally:
            await server.stop(0.5)

    return asyncio.run(main())


class ServerThread:
    """Real servers (``DyadServer``) serving from one event loop in a background thread, for
    tests whose client side is synchronous (``ServedStages``, the SDK). Each server is started
    on its own free port and warmed up; ``ports`` lists them in order."""

    def __init__(self, servers: list[DyadServer]) -> None:
        self.servers = servers
        self.ports: list[int] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            try:
                for server in self.servers:
                    self.ports.append(await server.start())
                for server in self.servers:
                    await server.warm_up_and_serve()
            except BaseException as e:
                self._error = e
            finally:
                self._ready.set()
            if self._error is None:
                await self._stop.wait()
            for server in self.servers:
                await server.stop(0.5)

        asyncio.run(main())

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(300)
        if self._error is not None:
            self._thread.join(30)
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


def wait_serving(
    port: int, proc: subprocess.Popen[Any], what: str, timeout_s: float = 120.0
) -> None:
    """Wait until the server process ``proc`` answers health SERVING on ``port`` (a start-up
    that exits or overruns ``timeout_s`` raises, naming ``what``)."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)

        def serving() -> bool:
            reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

        wait_until(serving, what, timeout_s, proc)
