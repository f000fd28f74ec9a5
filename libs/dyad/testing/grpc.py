"""Run a test against a real in-process gRPC server (``DyadServer``) on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from dyad.rpc import DyadServer, insecure_channel


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
