"""JSON logging with request and job ids carried by context variables.

``configure()`` once per process; then every record carries ``request_id`` / ``job_id`` when
set with ``log_context(...)`` (the gRPC interceptor sets ``request_id`` per call; workers set
``job_id`` per job). One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, ids, any
``extra={...}`` fields and, for exceptions, ``exc`` (server side only — never sent to clients).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dyad_request_id", default=None
)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("dyad_job_id", default=None)

# Attributes every LogRecord has; anything else came from `extra=` and is emitted as a field.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (("request_id", request_id_var), ("job_id", job_id_var)):
            value = getattr(record, key, None) or var.get()
            if value:
                out[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value if _jsonable(value) else repr(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _ContextFilter(logging.Filter):
    """Adds the context ids to plain-text records."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", None) or request_id_var.get() or "-"
        record.job_id = getattr(record, "job_id", None) or job_id_var.get() or "-"
        return True


def _jsonable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | type(None) | list | dict)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the object it was
    when ``configure`` ran: that one may since have been closed (a CLI run under a test's
    captured stderr left every later record failing with "--- Logging error ---")."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure(level: str = "INFO", *, json_format: bool = True, stream: Any = None) -> None:
    """Install one handler on the root logger (replacing earlier ones from ``configure``):
    on ``stream``, or on the process's stderr of the moment."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_dyad", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler._dyad = True  # type: ignore[attr-defined]
    if json_format:
        handler.setFormatter(JsonFormatter())
    else:
        handler.addFilter(_ContextFilter())
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(job_id)s] %(message)s"
            )
        )
    root.addHandler(handler)
    root.setLevel(level)


@contextlib.contextmanager
def log_context(*, request_id: str | None = None, job_id: str | None = None) -> Iterator[None]:
    """Set ``request_id`` / ``job_id`` for every log record emitted inside the block."""
    tokens = []
    if request_id is not None:
        tokens.append((request_id_var, request_id_var.set(request_id)))
    if job_id is not None:
        tokens.append((job_id_var, job_id_var.set(job_id)))
    try:
        yield
    finally:
        for var, tok in reversed(tokens):
            var.reset(tok)
