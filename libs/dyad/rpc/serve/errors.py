"""The error contract of Ray Serve deployments behind Serve's gRPC proxy, unary and streaming.

Serve calls a deployment method with the request and, if it asks for it, a ``grpc_context``
(``RayServegRPCContext``). A status code set on that context before an exception propagates
is what the client receives, so ``unary`` and ``streaming`` do for deployments what
``ErrorInterceptor`` does for our own servers, with the same ``describe_error``: the request id
(the client's ``x-request-id`` or a new one) in the log context and in the trailers, the field
named for INVALID_ARGUMENT, an error id and no traceback for INTERNAL. Nothing here imports ray.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc

from dyad import logs
from dyad.rpc.interceptor import REQUEST_ID_KEY, describe_error


class RpcFailed(Exception):
    """Raised after the status is set on the Serve context; carries no traceback detail."""

    def __init__(self, code: str, message: str) -> None:
        # args must be the constructor's arguments: Ray pickles this across processes.
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.args[1]}"


class _Call:
    """One call's request id (in the log context while it runs) and its error translation."""

    def __init__(self, owner: Any, method: str, grpc_context: Any) -> None:
        md = dict(grpc_context.invocation_metadata()) if grpc_context is not None else {}
        self.request_id = str(md.get(REQUEST_ID_KEY) or uuid.uuid4().hex)
        self.where = f"{type(owner).__name__}/{method}"
        self.context = grpc_context
        # Through the module: Serve pickles deployments by value, and a ContextVar cannot be.
        self.token = logs.request_id_var.set(self.request_id)

    def ok(self) -> None:
        if self.context is not None:
            self.context.set_trailing_metadata([(REQUEST_ID_KEY, self.request_id)])

    def fail(self, exc: Exception) -> RpcFailed:
        """Set the status ``exc`` maps to on the context; the exception to raise instead."""
        code, message, trailers = describe_error(exc, self.where)
        if self.context is None:  # called directly (a handle, a test): raise the original
            raise exc
        self.context.set_code(grpc.StatusCode[code])
        self.context.set_details(message)
        self.context.set_trailing_metadata([(REQUEST_ID_KEY, self.request_id), *trailers])
        return RpcFailed(code, message)

    def close(self) -> None:
        logs.request_id_var.reset(self.token)


def unary(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an ``async def Rpc(self, request, grpc_context)`` deployment method."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, grpc_context: Any = None) -> Any:
        call = _Call(self, method.__name__, grpc_context)
        try:
            result = method(self, request, grpc_context)
            result = await result if inspect.isawaitable(result) else result
            call.ok()
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise call.fail(exc) from None
        finally:
            call.close()

    return wrapper


def streaming(method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    """Wrap an ``async def Rpc(self, request, grpc_context)`` generator (server streaming):
    an error before or between messages ends the stream with its mapped status."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, grpc_context: Any = None) -> AsyncIterator[Any]:
        call = _Call(self, method.__name__, grpc_context)
        try:
            async for item in method(self, request, grpc_context):
                yield item
            call.ok()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise call.fail(exc) from None
        finally:
            call.close()

    return wrapper
