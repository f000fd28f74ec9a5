"""The one place where exceptions become gRPC status codes (kserve's pattern).

Handlers raise ``dyad.errors`` exceptions and never set codes themselves. This interceptor:

- gives each call a ``request_id`` (the client's ``x-request-id`` metadata, or a new one), puts
  it in the log context and sends it back in trailing metadata;
- maps ``DyadError`` subclasses to their status code; ``InvalidInput`` names the field in the
  message and in the ``dyad-error-field`` trailer;
- maps anything unexpected to ``INTERNAL`` with a fresh error id, logging the traceback with
  that id — the client gets the id (message and ``dyad-error-id`` trailer), never the trace;
- enforces a server-side default deadline on unary calls that came without one;
- records per-RPC metrics (count by code, latency).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from dyad.errors import DeadlineExceeded, DyadError, InvalidInput, Unimplemented
from dyad.logs import request_id_var
from dyad.metrics import RpcMetrics, rpc_metrics

log = logging.getLogger("dyad.rpc")

REQUEST_ID_KEY = "x-request-id"
ERROR_ID_KEY = "dyad-error-id"
ERROR_FIELD_KEY = "dyad-error-field"


def _split_method(full: str) -> tuple[str, str]:
    # "/dyad.v1.JobService/GetJob" -> ("dyad.v1.JobService", "GetJob")
    _, service, method = full.split("/", 2) if full.count("/") >= 2 else ("", "", full)
    return service, method


class _Call:
    """Book-keeping for one RPC: ids, metrics, and the error → status translation."""

    def __init__(self, method: str, metadata: Any, metrics: RpcMetrics) -> None:
        self.service, self.method = _split_method(method)
        md = dict(metadata or ())
        self.request_id = str(md.get(REQUEST_ID_KEY) or uuid.uuid4().hex)
        self.metrics = metrics
        self.code = "OK"
        self.t0 = time.perf_counter()

    def begin(self, context: aio.ServicerContext) -> Any:
        self.metrics.in_flight.labels(self.service).inc()
        return request_id_var.set(self.request_id)

    def end(self, token: Any) -> None:
        request_id_var.reset(token)
        self.metrics.in_flight.labels(self.service).dec()
        self.metrics.observe(self.service, self.method, self.code, time.perf_counter() - self.t0)

    async def fail(self, context: aio.ServicerContext, exc: BaseException) -> None:
        """Abort the call with the status ``exc`` maps to. Always raises."""
        code, message, trailers = describe_error(exc, f"{self.service}/{self.method}")
        self.code = code
        context.set_trailing_metadata(((REQUEST_ID_KEY, self.request_id), *trailers))
        await context.abort(grpc.StatusCode[code], message)


def describe_error(exc: BaseException, method: str) -> tuple[str, str, list[tuple[str, str]]]:
    """The status a client gets for ``exc``: (code name, message, trailers); logs it.

    Shared by the aio interceptor and Ray Serve deployments (``dyad.rpc.serve``), so both
    speak the same contract: the field named for INVALID_ARGUMENT, an error id (and no trace)
    for INTERNAL.
    """
    if isinstance(exc, NotImplementedError):  # what generated base servicers raise
        exc = Unimplemented(f"{method} is not implemented by this server")
    trailers: list[tuple[str, str]] = []
    if isinstance(exc, DyadError) and exc.code != "INTERNAL":
        if isinstance(exc, InvalidInput):
            trailers.append((ERROR_FIELD_KEY, exc.field))
        log.info("%s -> %s: %s", method, exc.code, exc.message)
        return exc.code, exc.message, trailers
    error_id = uuid.uuid4().hex[:16]
    what = exc.message if isinstance(exc, DyadError) else "internal error"
    log.error(
        "%s: %s %s", method, type(exc).__name__, exc, exc_info=exc, extra={"error_id": error_id}
    )
    trailers.append((ERROR_ID_KEY, error_id))
    return "INTERNAL", f"{what} (error id {error_id})", trailers


def _is_abort(exc: BaseException) -> bool:
    # context.abort() raises AbortError; it already carries a status and must pass through.
    return isinstance(exc, aio.AbortError)


class ErrorInterceptor(aio.ServerInterceptor):
    """Wraps every handler of an aio server; see the module docstring."""

    def __init__(
        self, *, default_deadline_s: float | None = None, metrics: RpcMetrics | None = None
    ):
        self.default_deadline_s = default_deadline_s
        self.metrics = metrics or rpc_metrics()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        metadata = details.invocation_metadata
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(handler.unary_unary, method, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(handler.unary_stream, method, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary(handler.stream_unary, method, metadata),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_stream_rpc_method_handler(
            self._stream(handler.stream_stream, method, metadata),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _unary(
        self, behavior: Callable[..., Any], method: str, metadata: Any
    ) -> Callable[..., Any]:
        async def wrapper(request: Any, context: aio.ServicerContext) -> Any:
            call = _Call(method, metadata, self.metrics)
            token = call.begin(context)
            try:
                result = behavior(request, context)
                if inspect.isawaitable(result):
                    timeout = None
                    if self.default_deadline_s and context.time_remaining() is None:
                        timeout = self.default_deadline_s
                    try:
                        result = await asyncio.wait_for(result, timeout)
                    except TimeoutError:
                        limit = f"{self.default_deadline_s:g} s"
                        raise DeadlineExceeded(
                            f"no client deadline; server limit of {limit} passed"
                        ) from None
                context.set_trailing_metadata(((REQUEST_ID_KEY, call.request_id),))
                return result
            except asyncio.CancelledError:
                call.code = "CANCELLED"  # client went away or its deadline passed
                raise
            except Exception as exc:
                if _is_abort(exc):
                    call.code = context.code().name if context.code() else "UNKNOWN"
                    raise
                await call.fail(context, exc)
            finally:
                call.end(token)

        return wrapper

    def _stream(
        self, behavior: Callable[..., Any], method: str, metadata: Any
    ) -> Callable[..., Any]:
        async def wrapper(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
            call = _Call(method, metadata, self.metrics)
            token = call.begin(context)
            try:
                stream = behavior(request, context)
                if hasattr(stream, "__aiter__"):
                    async for item in stream:
                        yield item
                else:
                    for item in stream:
                        yield item
                context.set_trailing_metadata(((REQUEST_ID_KEY, call.request_id),))
            except asyncio.CancelledError:
                call.code = "CANCELLED"
                raise
            except Exception as exc:
                if _is_abort(exc):
                    raise
                await call.fail(context, exc)
            finally:
                call.end(token)

        return wrapper
