"""Client side of the error contract: channels with our limits, deadlines, status → error."""

from __future__ import annotations

from typing import Any

import grpc
from grpc import aio

from dyad import errors
from dyad.rpc.tls import DEFAULT_MAX_MESSAGE_BYTES, channel_options

_BY_CODE: dict[str, type[errors.DyadError]] = {
    cls.code: cls
    for cls in (
        errors.NotFound,
        errors.AlreadyExists,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.ResourceExhausted,
        errors.FailedPrecondition,
        errors.Unavailable,
        errors.DeadlineExceeded,
        errors.Cancelled,
        errors.Unimplemented,
        errors.Internal,
    )
}


def insecure_channel(
    target: str, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> aio.Channel:
    """An aio channel with the same message limits the servers use."""
    return aio.insecure_channel(target, options=channel_options(max_message_bytes))


def remaining_timeout(context: Any, default_s: float, *, margin_s: float = 0.05) -> float:
    """Timeout for a downstream call: what is left of the caller's deadline, less a margin.

    Propagating the deadline means a downstream stage never works on a request whose caller
    has already given up.
    """
    left = context.time_remaining() if context is not None else None
    if left is None:
        return default_s
    if left <= margin_s:
        raise errors.DeadlineExceeded("deadline passed before the downstream call")
    return min(default_s, left - margin_s)


def error_from_rpc(exc: grpc.RpcError) -> errors.DyadError:
    """The ``DyadError`` a downstream status stands for, so it can be re-raised upstream."""
    code = exc.code().name if hasattr(exc, "code") and exc.code() else "UNKNOWN"
    message = exc.details() if hasattr(exc, "details") else str(exc)
    trailers = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
    if code == "INVALID_ARGUMENT":
        # The trailer names the field; where a proxy dropped trailers (Ray Serve does on
        # errors), the message still starts with "field: ".
        head, sep, _ = message.partition(": ")
        field = str(trailers.get("dyad-error-field") or (head if sep and " " not in head else ""))
        if not field:
            return errors.InvalidInput("request", message)
        reason = message[len(field) + 2 :] if message.startswith(field + ": ") else message
        return errors.InvalidInput(field, reason)
    cls = _BY_CODE.get(code, errors.Internal)
    return cls(message or code)
