"""Optional TLS / mutual TLS for the gRPC servers and their clients, from PEM files.

Settings (``PlatformSettings``, all empty by default: plaintext, what a pod behind a
NetworkPolicy or a laptop uses):

- server: ``DYAD_GRPC_TLS_CERT`` + ``DYAD_GRPC_TLS_KEY`` serve TLS; with
  ``DYAD_GRPC_TLS_CLIENT_CA`` as well, a client must present a certificate that CA signed
  (mutual TLS) — a plaintext client or one without a certificate is refused in the handshake;
- client: ``DYAD_GRPC_TLS_CA`` verifies the server (TLS); the client presents
  ``DYAD_GRPC_TLS_CERT`` / ``DYAD_GRPC_TLS_KEY`` when they are set (for servers that require
  mTLS).

A setting naming a file that is missing or unreadable, or a certificate without its key, is a
``ConfigError`` naming the setting — at start-up, not at the first call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
from grpc import aio

from dyad.config import PlatformSettings, load
from dyad.errors import ConfigError

#: Channel options every Dyad client uses (the servers' message limit, every replica).
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def _read(setting: str, path: Path | None) -> bytes | None:
    if path is None or str(path) == "":
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(setting, f"cannot read {path}: {e.strerror or e}") from None
    if b"-----BEGIN " not in data:
        raise ConfigError(setting, f"{path} is not a PEM file")
    return data


def _pair(s: PlatformSettings) -> tuple[bytes, bytes] | None:
    cert = _read("DYAD_GRPC_TLS_CERT", s.grpc_tls_cert)
    key = _read("DYAD_GRPC_TLS_KEY", s.grpc_tls_key)
    if cert is None and key is None:
        return None
    if cert is None:
        raise ConfigError("DYAD_GRPC_TLS_CERT", "not set, but DYAD_GRPC_TLS_KEY is")
    if key is None:
        raise ConfigError("DYAD_GRPC_TLS_KEY", "not set, but DYAD_GRPC_TLS_CERT is")
    return key, cert


def server_credentials(s: PlatformSettings) -> grpc.ServerCredentials | None:
    """TLS (mTLS with a client CA) credentials for a server; None: plaintext."""
    pair = _pair(s)
    client_ca = _read("DYAD_GRPC_TLS_CLIENT_CA", s.grpc_tls_client_ca)
    if pair is None:
        if client_ca is not None:
            raise ConfigError(
                "DYAD_GRPC_TLS_CLIENT_CA", "needs DYAD_GRPC_TLS_CERT and DYAD_GRPC_TLS_KEY"
            )
        return None
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def channel_credentials(s: PlatformSettings) -> grpc.ChannelCredentials | None:
    """Credentials for a client channel: TLS when ``DYAD_GRPC_TLS_CA`` is set; None:
    plaintext."""
    ca = _read("DYAD_GRPC_TLS_CA", s.grpc_tls_ca)
    if ca is None:
        return None
    pair = _pair(s)
    return grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=pair[0] if pair else None,
        certificate_chain=pair[1] if pair else None,
    )


def channel_options(
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.lb_policy_name", "round_robin"),  # every replica a name resolves to
    ]


def _settings(settings: PlatformSettings | None) -> PlatformSettings:
    return settings if settings is not None else load(PlatformSettings)


def _channel(
    module: Any,
    target: str,
    settings: PlatformSettings | None,
    options: Sequence[tuple[str, Any]] | None,
) -> Any:
    """``module`` (``grpc`` or ``grpc.aio``)'s channel, TLS when the settings say so."""
    creds = channel_credentials(_settings(settings))
    opts = list(options) if options is not None else channel_options()
    if creds is None:
        return module.insecure_channel(target, options=opts)
    return module.secure_channel(target, creds, options=opts)


def aio_channel(
    target: str,
    *,
    settings: PlatformSettings | None = None,
    options: Sequence[tuple[str, Any]] | None = None,
) -> aio.Channel:
    """An asyncio client channel, TLS when the settings (default: the environment) say so."""
    return _channel(aio, target, settings, options)


def sync_channel(
    target: str,
    *,
    settings: PlatformSettings | None = None,
    options: Sequence[tuple[str, Any]] | None = None,
) -> grpc.Channel:
    """A blocking client channel, TLS when the settings (default: the environment) say so."""
    return _channel(grpc, target, settings, options)
