"""The error contract for Ray Serve deployments behind Serve's gRPC proxy.

Serve calls a deployment method with the request and, if it asks for it, a ``grpc_context``
(``RayServegRPCContext``). A status code set on that context before an exception propagates
is what the client receives, so ``mapped`` does for deployments what ``ErrorInterceptor``
does for our own servers, with the same ``describe_error``. Nothing here imports ray.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import Callable
from typing import Any

import grpc

from dyad import logs
from dyad.rpc.interceptor import REQUEST_ID_KEY, describe_error


def mapped(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an ``async def Rpc(self, request, grpc_context)`` deployment method."""
    name = method.__name__

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, grpc_context: Any = None) -> Any:
        md = dict(grpc_context.invocation_metadata()) if grpc_context is not None else {}
        request_id = str(md.get(REQUEST_ID_KEY) or uuid.uuid4().hex)
        # Through the module: Serve pickles deployments by value, and a ContextVar cannot be.
        token = logs.request_id_var.set(request_id)
        try:
            result = method(self, request, grpc_context)
            return await result if inspect.isawaitable(result) else result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            code, message, trailers = describe_error(exc, f"{type(self).__name__}/{name}")
            if grpc_context is None:
                raise
            grpc_context.set_code(grpc.StatusCode[code])
            grpc_context.set_details(message)
            grpc_context.set_trailing_metadata([(REQUEST_ID_KEY, request_id), *trailers])
            raise RpcFailed(code, message) from None
        finally:
            logs.request_id_var.reset(token)

    return wrapper


class RpcFailed(Exception):
    """Raised after the status is set on the Serve context; carries no traceback detail."""

    def __init__(self, code: str, message: str) -> None:
        # args must be the constructor's arguments: Ray pickles this across processes.
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.args[1]}"


def replica_store() -> Any:
    """What every Ray Serve replica does first: settings from the environment, JSON logs
    configured from them, and the artefact store they name."""
    from dyad.config import PlatformSettings, load
    from dyad.storage import open_store

    platform = load(PlatformSettings)
    logs.configure(platform.log_level, json_format=platform.log_json)
    return open_store(platform)
