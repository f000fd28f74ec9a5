"""One error hierarchy for every service (DESIGN.md §4).

Domain code raises these; one gRPC interceptor (``dyad.rpc.interceptor``) maps them to status
codes, and the CLI maps them to exit codes. Nothing here imports grpc, so ``core`` modules can
raise them freely.

The hierarchy is DESIGN.md's list plus ``FailedPrecondition`` (the system is not in a state to
serve the call: a model directory that is not configured or not loaded yet), ``Cancelled`` (a
job cancelled by its owner), ``AlreadyExists`` and ``Unimplemented`` — canonical gRPC codes
with no better home.
"""

from __future__ import annotations

from typing import ClassVar


class DyadError(Exception):
    """Base of every error a client may see. ``message`` is safe to show to a client."""

    #: Canonical gRPC status name (``grpc.StatusCode[code]``).
    code: ClassVar[str] = "UNKNOWN"
    #: Whether a client may retry the same call unchanged.
    retryable: ClassVar[bool] = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(DyadError):
    """The request is malformed; ``field`` names the offending field (dotted path)."""

    code = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(DyadError):
    code = "NOT_FOUND"


class AlreadyExists(DyadError):
    code = "ALREADY_EXISTS"


class Unauthenticated(DyadError):
    code = "UNAUTHENTICATED"


class PermissionDenied(DyadError):
    code = "PERMISSION_DENIED"


class ResourceExhausted(DyadError):
    code = "RESOURCE_EXHAUSTED"
    retryable = True


class FailedPrecondition(DyadError):
    """The call is valid but the system cannot serve it as configured (e.g. missing model)."""

    code = "FAILED_PRECONDITION"


class Unavailable(DyadError):
    code = "UNAVAILABLE"
    retryable = True


class DeadlineExceeded(DyadError):
    code = "DEADLINE_EXCEEDED"
    retryable = True


class Cancelled(DyadError):
    code = "CANCELLED"


class Unimplemented(DyadError):
    """The method exists in the proto but this server does not implement it."""

    code = "UNIMPLEMENTED"


class Internal(DyadError):
    """A bug or an unexpected failure. Clients see only ``message`` and the error id."""

    code = "INTERNAL"


class ConfigError(FailedPrecondition):
    """A setting is missing or malformed; ``setting`` names the env var to fix."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.reason = message


class IntegrityError(Internal):
    """Stored bytes do not match their recorded hash or size."""


#: Exit code of the CLI for bad input or configuration (argparse's convention).
EXIT_USAGE = 2
