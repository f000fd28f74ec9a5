"""The service contract every Dyad gRPC service keeps (DESIGN.md §4, README "Errors"), as one
test suite each service runs against its own real server.

A service's tests subclass ``ServiceContract`` (pytest collects ``Test…`` subclasses) and say
how to build the server and which requests are bad; the suite checks, on a real in-process
server on a free port:

- health is ``NOT_SERVING`` (overall and for the service) until the warm-up ran, then
  ``SERVING``;
- a bad request is ``INVALID_ARGUMENT`` with ``field: reason`` and the field in the
  ``dyad-error-field`` trailer, unary and server streaming alike;
- an unexpected error is ``INTERNAL`` with an error id (message and ``dyad-error-id``
  trailer) and nothing of the exception or a traceback;
- the client's ``x-request-id`` comes back in the trailers, on success and on failure.

``check_served`` is the same contract through Ray Serve's gRPC proxy (the deployment side):
health, ``INVALID_ARGUMENT`` naming the field, for unary and streaming methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer
from dyad.rpc.interceptor import ERROR_FIELD_KEY, ERROR_ID_KEY, REQUEST_ID_KEY
from dyad.testing.grpc import with_server

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
#: A call that is expected to fail: (method name, request, the field it must name).
BadCall = tuple[str, Any, str]


async def rpc_error(call: Awaitable[Any] | Any) -> grpc.aio.AioRpcError:
    """The error a unary call (awaitable) or a stream (async iterable) ends with."""
    with pytest.raises(grpc.aio.AioRpcError) as e:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return e.value


def trailers(err: grpc.aio.AioRpcError) -> dict[str, str]:
    return {k: str(v) for k, v in (err.trailing_metadata() or ())}


class ServiceContract:
    """Subclass as ``TestServiceContract`` in a service's tests and fill these in."""

    #: The generated stub class of the service, and its full proto name.
    stub: ClassVar[type]
    service_name: ClassVar[str]
    #: Metadata every call of the suite carries (e.g. the gateway's bearer token).
    call_metadata: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: The service's ``__main__.build_server(platform, settings)`` and its settings.
    build_server: ClassVar[Callable[[PlatformSettings, Any], DyadServer]]
    settings: ClassVar[Any]

    def platform(self, tmp_path: Path) -> PlatformSettings:
        """A store under ``tmp_path`` and a free port."""
        return PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)

    def build(self, tmp_path: Path) -> DyadServer:
        """The service's real server (not started)."""
        return type(self).build_server(self.platform(tmp_path), self.settings)

    def bad_unary(self, tmp_path: Path) -> BadCall:
        raise NotImplementedError

    def bad_stream(self, tmp_path: Path) -> BadCall | None:
        """A bad request to a server-streaming method, or None when the service has none."""
        return None

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        """Make the servicer's core raise an unexpected exception (``monkeypatch``) and give
        a call that reaches it: (method name, request)."""
        raise NotImplementedError

    # --- the suite --------------------------------------------------------------------------
    def test_health_is_not_serving_until_warm_up(self, tmp_path: Path) -> None:
        server = self.build(tmp_path)

        async def test(channel: grpc.aio.Channel) -> None:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", self.service_name):
                req = health_pb2.HealthCheckRequest(service=name)
                assert (await health.Check(req, timeout=10)).status == NOT_SERVING
            await server.warm_up_and_serve()
            for name in ("", self.service_name):
                req = health_pb2.HealthCheckRequest(service=name)
                assert (await health.Check(req, timeout=10)).status == SERVING

        with_server(server, test, warm_up=False)

    def test_bad_requests_name_the_field(self, tmp_path: Path) -> None:
        calls = [c for c in (self.bad_unary(tmp_path), self.bad_stream(tmp_path)) if c]

        async def test(channel: grpc.aio.Channel) -> None:
            stub = self.stub(channel)
            for method, request, field in calls:
                md = ((REQUEST_ID_KEY, f"req-{method}"), *self.call_metadata)
                err = await rpc_error(getattr(stub, method)(request, metadata=md, timeout=60))
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.details())
                assert (err.details() or "").startswith(f"{field}: "), err.details()
                assert trailers(err)[ERROR_FIELD_KEY] == field
                assert trailers(err)[REQUEST_ID_KEY] == f"req-{method}"

        with_server(self.build(tmp_path), test)

    def test_unexpected_errors_are_internal_with_an_id(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        server = self.build(tmp_path)
        method, request = self.internal_failure(server.servicers[0], monkeypatch)

        async def test(channel: grpc.aio.Channel) -> None:
            stub = self.stub(channel)
            call = getattr(stub, method)(request, metadata=self.call_metadata, timeout=60)
            err = await rpc_error(call)
            details = err.details() or ""
            assert err.code() == grpc.StatusCode.INTERNAL, details
            error_id = trailers(err)[ERROR_ID_KEY]
            assert details == f"internal error (error id {error_id})"
            assert "secret" not in details and "Traceback" not in details

        with_server(server, test)

    def test_any_request_gets_a_client_status(self, tmp_path: Path) -> None:
        """Hypothesis-built requests to every method (``dyad.testing.fuzz``): only client
        statuses come back — never INTERNAL, UNKNOWN or a deadline — and the server still
        answers health SERVING afterwards. ``DYAD_FUZZ_EXAMPLES`` sets the examples per method
        (the faults tier runs many more, with fresh randomness)."""
        fuzz_methods(self.build(tmp_path), self.service_name, self.call_metadata, tmp_path)

    def test_the_request_id_comes_back(self, tmp_path: Path) -> None:
        async def test(channel: grpc.aio.Channel) -> None:
            health = health_pb2_grpc.HealthStub(channel)
            call = health.Check(
                health_pb2.HealthCheckRequest(), metadata=((REQUEST_ID_KEY, "req-42"),)
            )
            await call
            assert dict(await call.trailing_metadata())[REQUEST_ID_KEY] == "req-42"

        with_server(self.build(tmp_path), test)


def fuzz_methods(
    server: DyadServer,
    service_name: str,
    metadata: tuple[tuple[str, str], ...],
    tmp_path: Path,
) -> None:
    """Send fuzzed requests to every method of ``service_name`` on ``server`` (see
    ``ServiceContract.test_any_request_gets_a_client_status``)."""
    from google.protobuf import descriptor_pool, message_factory

    from dyad.storage import LocalStore
    from dyad.testing.fuzz import (
        RSS_GROWTH_BOUND_MB,
        ArtifactPool,
        fuzz_budget,
        fuzz_call,
        method_call,
        requests,
        rss_mb,
    )
    from dyad.testing.grpc import ServerThread

    service = descriptor_pool.Default().FindServiceByName(service_name)
    pool = ArtifactPool.build(LocalStore(str(tmp_path / "store")))
    examples, fresh = fuzz_budget(20)
    with (
        ServerThread([server]) as running,
        grpc.insecure_channel(f"127.0.0.1:{running.ports[0]}") as channel,
    ):
        before = rss_mb()
        for method in service.methods:
            if method.client_streaming:
                continue
            request_class = message_factory.GetMessageClass(method.input_type)
            strategy = requests(method.input_type, request_class, pool)
            call = method_call(channel, method)
            fuzz_call(call, method.name, strategy, metadata, [str(tmp_path)], examples, fresh)
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=30).status
        assert status == SERVING, "the server stopped serving after the fuzzed requests"
        grew = rss_mb() - before
        assert grew < RSS_GROWTH_BOUND_MB, f"the server grew by {grew:.0f} MB"


def break_with(obj: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``obj.name(...)`` raise an error whose text must never reach a client."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail of an unexpected failure")

    monkeypatch.setattr(obj, name, fail)


def check_served(
    port: int,
    app: str,
    stub_class: type,
    service_name: str,
    calls: list[BadCall],
    metadata: tuple[tuple[str, str], ...] = (),
) -> None:
    """The contract through Ray Serve's gRPC proxy for one application: health SERVING, and
    each bad call (unary or streaming) ``INVALID_ARGUMENT`` with ``field: `` leading its
    message (Serve's proxy drops trailers of failed calls; ``error_from_rpc`` recovers the
    field from the message)."""
    from dyad.rpc import insecure_channel

    md = (("application", app), *metadata)

    async def main() -> None:
        async with insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            req = health_pb2.HealthCheckRequest(service=service_name)
            assert (await health.Check(req, metadata=md, timeout=30)).status == SERVING
            stub = stub_class(channel)
            for method, request, field in calls:
                err = await rpc_error(getattr(stub, method)(request, metadata=md, timeout=60))
                assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, err.details())
                assert (err.details() or "").startswith(f"{field}: "), err.details()
                assert "Traceback" not in (err.details() or "")

    asyncio.run(main())
