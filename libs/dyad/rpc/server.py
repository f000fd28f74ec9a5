"""grpc.aio server bootstrap shared by every service.

``DyadServer`` wires what every Dyad server must have (DESIGN.md §4):

- ``grpc.health.v1`` health, ``NOT_SERVING`` for every service until ``warmup`` has run
  (weights loaded, one forward pass), then ``SERVING``; ``NOT_SERVING`` again on shutdown so
  load balancers stop routing before the drain;
- server reflection listing every added service (grpcurl, grpcui);
- max message sizes (large payloads go through the artefact store, not messages);
- the error interceptor (status codes, request ids, metrics, default deadline);
- Prometheus ``/metrics`` on ``metrics_port`` (per-RPC counts by code, latency histograms);
- optional TLS, or mutual TLS with a client CA, from PEM files (``dyad.rpc.tls``:
  ``DYAD_GRPC_TLS_CERT``/``_KEY``/``_CLIENT_CA``);
- graceful shutdown on SIGTERM/SIGINT: refuse new calls, tell servicers that have a
  ``drain()`` method (so open-ended streams can end now, resumably), let in-flight calls
  finish within ``grace_s``, then cancel what remains.

Typical use in a service's ``__main__``::

    server = DyadServer("motion", ServerOptions.from_settings(settings), warmup=model.warm_up)
    server.add_service(motion_service_pb2_grpc.add_MotionServiceServicer_to_server,
                       MotionServicer(model), motion_service_pb2.DESCRIPTOR, "MotionService")
    asyncio.run(server.serve())
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dyad.config import PlatformSettings, load
from dyad.errors import EXIT_USAGE, DyadError
from dyad.logs import configure
from dyad.metrics import start_metrics_server
from dyad.rpc.interceptor import ErrorInterceptor
from dyad.rpc.tls import server_credentials

log = logging.getLogger("dyad.rpc.server")

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    #: 0 picks a free port; ``DyadServer.port`` tells which.
    port: int = 0
    max_message_bytes: int = 8 * 1024 * 1024
    grace_s: float = 30.0
    #: Applied to unary calls that arrive without a client deadline; None: no limit.
    default_deadline_s: float | None = 600.0
    #: Serve Prometheus ``/metrics`` on this port when the server starts; 0: off.
    metrics_port: int = 0
    #: ``/metrics`` listen address; empty: ``host``.
    metrics_host: str = ""
    #: Calls served at once; one more is refused with RESOURCE_EXHAUSTED at once (not queued,
    #: so an overloaded server neither grows its memory nor times callers out); 0: no bound.
    max_concurrent_rpcs: int = 0
    #: TLS (mTLS with a client CA) credentials (``dyad.rpc.tls``); None: plaintext.
    credentials: grpc.ServerCredentials | None = None

    @classmethod
    def from_settings(cls, s: PlatformSettings) -> ServerOptions:
        return cls(
            s.grpc_host,
            s.grpc_port,
            s.grpc_max_message_bytes,
            s.grpc_grace_s,
            s.grpc_default_deadline_s or None,
            s.metrics_port,
            s.metrics_address,
            max_concurrent_rpcs=s.grpc_max_concurrent_rpcs,
            credentials=server_credentials(s),
        )


class DyadServer:
    """One grpc.aio server with health, reflection, the error interceptor and a clean drain."""

    def __init__(
        self,
        name: str,
        options: ServerOptions | None = None,
        *,
        warmup: Callable[[], Any] | None = None,
        interceptors: list[aio.ServerInterceptor] | None = None,
    ) -> None:
        self.name = name
        self.options = options or ServerOptions()
        self._warmup = warmup
        self._service_names: list[str] = []
        self._servicers: list[tuple[Callable[[Any, aio.Server], None], Any]] = []
        self._health = health.aio.HealthServicer()
        self._interceptors = [
            ErrorInterceptor(default_deadline_s=self.options.default_deadline_s),
            *(interceptors or []),
        ]
        self._server: aio.Server | None = None
        self._stopping: asyncio.Event | None = None
        self.port: int | None = None
        self.metrics_port: int | None = None

    def add_service(
        self,
        add_to_server: Callable[[Any, aio.Server], None],
        servicer: Any,
        file_descriptor: Any,
        service: str,
    ) -> None:
        """Register a servicer; ``file_descriptor.services_by_name[service]`` names it."""
        full_name = file_descriptor.services_by_name[service].full_name
        self._servicers.append((add_to_server, servicer))
        self._service_names.append(full_name)

    @property
    def service_names(self) -> list[str]:
        return list(self._service_names)

    @property
    def servicers(self) -> list[Any]:
        """The registered servicer objects, in the order they were added."""
        return [servicer for _, servicer in self._servicers]

    async def start(self) -> int:
        """Bind and start serving; health stays NOT_SERVING until ``set_serving``."""
        mx = self.options.max_message_bytes
        server = aio.server(
            interceptors=self._interceptors,
            options=[
                ("grpc.max_receive_message_length", mx),
                ("grpc.max_send_message_length", mx),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=self.options.max_concurrent_rpcs or None,
        )
        for add, servicer in self._servicers:
            add(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        for svc in ("", *self._service_names):
            await self._health.set(svc, NOT_SERVING)
        address = f"{self.options.host}:{self.options.port}"
        if self.options.credentials is not None:
            self.port = server.add_secure_port(address, self.options.credentials)
        else:
            self.port = server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"{self.name}: could not bind {address}")
        await server.start()
        if self.options.metrics_port:
            self.metrics_port = start_metrics_server(
                self.options.metrics_port, self.options.metrics_host or self.options.host
            )
        self._server = server
        self._stopping = asyncio.Event()
        log.info("%s listening on %s:%d", self.name, self.options.host, self.port)
        return self.port

    async def set_serving(self, serving: bool = True) -> None:
        for svc in ("", *self._service_names):
            await self._health.set(svc, SERVING if serving else NOT_SERVING)

    async def warm_up_and_serve(self) -> None:
        """Run the warm-up (in a thread when it is blocking), then report SERVING."""
        if self._warmup is not None:
            result = self._warmup()
            if inspect.isawaitable(result):
                await result
        await self.set_serving(True)
        log.info("%s ready", self.name)

    def request_stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        if self._stopping is not None:
            self._stopping.set()

    async def stop(self, grace_s: float | None = None) -> None:
        """Report NOT_SERVING, refuse new calls, drain in-flight ones for up to ``grace_s``."""
        if self._server is None:
            return
        grace = self.options.grace_s if grace_s is None else grace_s
        await self._health.enter_graceful_shutdown()
        log.info("%s draining (grace %.1f s)", self.name, grace)
        for servicer in self.servicers:  # open-ended streams end now (resumable), not at grace
            drain = getattr(servicer, "drain", None)
            if callable(drain):
                drain()
        await self._server.stop(grace)
        self._server = None
        log.info("%s stopped", self.name)

    async def serve(self, *, ready: Callable[[int], Awaitable[None] | None] | None = None) -> None:
        """Start, warm up, serve until SIGTERM/SIGINT or ``request_stop``, then drain."""
        port = await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        try:
            await self.warm_up_and_serve()
            if ready is not None:
                maybe = ready(port)
                if inspect.isawaitable(maybe):
                    await maybe
            assert self._stopping is not None
            await self._stopping.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()


def single_service_server(
    name: str,
    platform: PlatformSettings,
    add_to_server: Callable[[Any, aio.Server], None],
    servicer: Any,
    file_descriptor: Any,
    service: str,
    *,
    warmup: Callable[[], Any] | None = None,
) -> DyadServer:
    """The usual shape of a service's ``__main__``: one servicer, a blocking warm-up run in a
    thread (health stays NOT_SERVING until it returns), options from the platform settings."""

    async def warm() -> None:
        if warmup is not None:
            await asyncio.to_thread(warmup)

    server = DyadServer(name, ServerOptions.from_settings(platform), warmup=warm)
    server.add_service(add_to_server, servicer, file_descriptor, service)
    return server


def serve_main(build: Callable[[PlatformSettings], DyadServer]) -> None:
    """A standalone server's ``__main__``: settings from the env, logging, ``build``, serve
    until SIGTERM. A bad setting, a missing model or a dependency down at start-up (a Dyad
    error from ``build`` or the warm-up) is one line on stderr and exit 2 (1 for an internal
    error) — what a pod's logs show in CrashLoopBackOff — not a stack trace;
    ``DYAD_DEBUG=1`` re-raises it."""
    try:
        platform = load(PlatformSettings)
        configure(platform.log_level, json_format=platform.log_json)
        run_abandoning(build(platform).serve())
    except DyadError as e:
        if os.environ.get("DYAD_DEBUG") == "1":
            raise
        print(f"dyad: {e.message}", file=sys.stderr)
        raise SystemExit(1 if e.code == "INTERNAL" else EXIT_USAGE) from None


def run_abandoning(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run(main)``, except that calls still computing in worker threads when ``main``
    returns are abandoned instead of awaited.

    Handlers run their blocking work in the loop's default executor (``asyncio.to_thread``).
    Cancelling such a call at the end of the drain cancels the RPC — the client gets
    CANCELLED — but not the thread: ``asyncio.run`` (and the interpreter's exit) would then
    wait for every thread to finish, so a server stopped in the middle of a long render kept
    computing for tens of seconds after its grace period. Here the server's stop is the end:
    once ``main`` returns (the drain, ``DYAD_GRPC_GRACE_S``, is over), idle threads exit and a
    thread still busy is left behind — the process exits at once (``os._exit``, logs flushed).
    """
    loop = asyncio.new_event_loop()
    pool = ThreadPoolExecutor(thread_name_prefix="dyad-rpc")
    loop.set_default_executor(pool)
    try:
        loop.run_until_complete(main)
        # As ``asyncio.run``: cancel what is still pending (a stream's handler suspended in an
        # await) and let it unwind, so that closing the async generators never finds one
        # still running ("aclose(): asynchronous generator is already running").
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        loop.close()
    threads = [t for t in threading.enumerate() if t.name.startswith("dyad-rpc")]
    for t in threads:
        t.join(0.2)  # idle workers exit at once on shutdown
    busy = [t for t in threads if t.is_alive()]
    if busy:
        log.warning(
            "stopped with %d call(s) still computing after the grace period: abandoned",
            len(busy),
        )
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
