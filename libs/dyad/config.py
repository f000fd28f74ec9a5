"""Typed settings filled from ``DYAD_*`` environment variables.

Config flows one way: environment → one frozen settings dataclass per service. A settings
class is a plain dataclass whose fields carry a default and a help text; ``load`` reads
``<prefix><FIELD_NAME>`` for each field and converts it to the field's type, raising
``ConfigError`` that names the variable when a value does not parse::

    @dataclass(frozen=True)
    class EncoderSettings:
        backend: str = setting("mel", "feature backend: mel | mfcc | wav2vec2")
        model_dir: Path | None = setting(None, "local wav2vec2 directory")

    s = load(EncoderSettings, prefix="DYAD_AUDIO_")   # reads DYAD_AUDIO_BACKEND, …

``settings_table`` renders the env var | default | meaning table that each service README carries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dyad.errors import ConfigError

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def setting(
    default: Any, help: str, *, choices: tuple[str, ...] | None = None, secret: bool = False
) -> Any:
    """A settings field with a default and a one-line meaning (shown in README tables).

    ``secret`` (keys, tokens, URLs that may carry a password): left out of the settings
    object's ``repr``, so logging or printing settings never shows it."""
    meta = {"help": help, "choices": choices, "secret": secret}
    if isinstance(default, list | dict | set):
        factory = type(default)(default)
        return dataclasses.field(default_factory=lambda: factory, metadata=meta, repr=not secret)
    return dataclasses.field(default=default, metadata=meta, repr=not secret)


def env_name(prefix: str, field_name: str) -> str:
    return f"{prefix}{field_name.upper()}"


def _convert(raw: str, typ: Any, var: str) -> Any:
    origin = typing.get_origin(typ)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if raw.strip() == "" or raw.strip().lower() == "none":
            return None
        return _convert(raw, args[0], var)
    if origin in (list, tuple):
        (item,) = typing.get_args(typ)[:1]
        items = [p.strip() for p in raw.split(",") if p.strip()]
        vals = [_convert(p, item, var) for p in items]
        return vals if origin is list else tuple(vals)
    if typ is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(var, f"expected a boolean (true/false), got {raw!r}")
    if typ in (int, float):
        try:
            return typ(raw)
        except ValueError:
            raise ConfigError(var, f"expected {typ.__name__}, got {raw!r}") from None
    if typ is Path:
        return Path(raw).expanduser()
    if typ is str:
        return raw
    raise TypeError(f"unsupported settings type {typ!r} for {var}")


def load(cls: type[T], *, prefix: str = "DYAD_", environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from ``environ`` (default ``os.environ``); unset variables keep defaults."""
    env = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        var = env_name(prefix, f.name)
        if var not in env:
            continue
        value = _convert(env[var], hints[f.name], var)
        choices = f.metadata.get("choices")
        if choices and value not in choices:
            raise ConfigError(var, f"expected one of {list(choices)}, got {value!r}")
        values[f.name] = value
    obj = cls(**values)
    check = getattr(obj, "validate", None)
    if callable(check):
        check()
    return obj


def settings_table(cls: type, *, prefix: str = "DYAD_") -> str:
    """Markdown table ``env var | default | meaning`` for a settings class."""
    rows = ["| env var | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        shown = "" if default is None else default
        if isinstance(shown, bool):
            shown = str(shown).lower()
        elif isinstance(shown, list | tuple):
            shown = ",".join(map(str, shown))
        help_ = f.metadata.get("help", "")
        if f.metadata.get("choices"):
            help_ += f" (one of {', '.join(f.metadata['choices'])})"
        cell = f"`{shown}`" if shown != "" else "(empty)"
        rows.append(f"| `{env_name(prefix, f.name)}` | {cell} | {help_} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class PlatformSettings:
    """Settings shared by every process: logging, metrics, stores, queue, gRPC."""

    log_level: str = setting("INFO", "log level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    log_json: bool = setting(True, "JSON logs (one object per line); false for plain text")
    store_uri: str = setting(
        "file://./.dyad/store", "artefact store root: `file://DIR` or `s3://BUCKET/PREFIX`"
    )
    s3_endpoint: str = setting("", "S3/MinIO endpoint `host:port` (for `s3://` stores)")
    s3_access_key: str = setting("", "S3 access key", secret=True)
    s3_secret_key: str = setting("", "S3 secret key", secret=True)
    s3_region: str = setting("us-east-1", "S3 region")
    s3_secure: bool = setting(False, "use HTTPS for the S3 endpoint")
    s3_part_size_bytes: int = setting(16 * 1024 * 1024, "multipart part size (≥ 5 MiB)")
    s3_public_endpoint: str = setting(
        "",
        "endpoint put in presigned download URLs, `https://host[:port]` (empty: "
        "DYAD_S3_ENDPOINT); set it where clients cannot reach the internal one",
    )
    redis_url: str = setting("redis://127.0.0.1:6379/0", "Redis for the job queue", secret=True)
    queue_prefix: str = setting("dyad", "key prefix of every queue key in Redis")
    queue_visibility_timeout_s: float = setting(
        600.0, "a delivered job not acked within this is redelivered (XAUTOCLAIM)"
    )
    queue_max_deliveries: int = setting(5, "deliveries before a job goes to the dead-letter stream")
    queue_backoff_base_s: float = setting(2.0, "retry backoff: base · 2^(attempt-1) seconds")
    queue_backoff_max_s: float = setting(300.0, "retry backoff ceiling, seconds")
    grpc_host: str = setting("127.0.0.1", "gRPC listen address")
    grpc_port: int = setting(50051, "gRPC listen port (0: pick a free one)")
    grpc_max_message_bytes: int = setting(
        8 * 1024 * 1024, "max gRPC message size; large payloads go through the store"
    )
    grpc_grace_s: float = setting(30.0, "on SIGTERM, seconds to drain in-flight calls")
    grpc_default_deadline_s: float = setting(
        600.0, "deadline for unary calls that arrive without one (0: none)"
    )
    grpc_max_concurrent_rpcs: int = setting(
        0,
        "calls a standalone server serves at once; one more is refused with RESOURCE_EXHAUSTED "
        "at once (0: no bound)",
    )
    metrics_port: int = setting(0, "Prometheus /metrics port (0: off)")
    metrics_host: str = setting("", "Prometheus /metrics listen address (empty: DYAD_GRPC_HOST)")
    grpc_tls_cert: Path | None = setting(
        None,
        "PEM certificate chain: a server serves TLS with it (and its key); a client presents "
        "it where a server requires mTLS (empty: plaintext)",
    )
    grpc_tls_key: Path | None = setting(None, "PEM private key of DYAD_GRPC_TLS_CERT")
    grpc_tls_client_ca: Path | None = setting(
        None, "PEM CA bundle: a server with it requires client certificates it signed (mTLS)"
    )
    grpc_tls_ca: Path | None = setting(
        None, "PEM CA bundle a client verifies servers with; set: clients use TLS"
    )

    @property
    def metrics_address(self) -> str:
        return self.metrics_host or self.grpc_host

    def validate(self) -> None:
        if not (self.store_uri.startswith("file://") or self.store_uri.startswith("s3://")):
            raise ConfigError(
                "DYAD_STORE_URI", f"expected file:// or s3://, got {self.store_uri!r}"
            )
        if self.s3_part_size_bytes < 5 * 1024 * 1024:
            raise ConfigError("DYAD_S3_PART_SIZE_BYTES", "S3 parts must be at least 5 MiB")
        if self.queue_max_deliveries < 1:
            raise ConfigError("DYAD_QUEUE_MAX_DELIVERIES", "must be at least 1")
        if self.queue_visibility_timeout_s <= 0:
            raise ConfigError("DYAD_QUEUE_VISIBILITY_TIMEOUT_S", "must be positive")
        if self.grpc_max_concurrent_rpcs < 0:
            raise ConfigError("DYAD_GRPC_MAX_CONCURRENT_RPCS", "must not be negative (0: no bound)")


@contextlib.contextmanager
def environ(overrides: Mapping[str, str] | None) -> Iterator[None]:
    """``os.environ`` with ``overrides`` set while the block runs, each variable put back (or
    removed) afterwards — for settings read at load time (thread counts, a CLI's env)."""
    saved = {k: os.environ.get(k) for k in overrides or {}}
    os.environ.update(overrides or {})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
