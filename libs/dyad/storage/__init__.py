"""Artefact stores: ``LocalStore`` (``file://``, the embedded default) and ``S3Store``."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.errors import ConfigError
from dyad.storage.base import ArtifactRef, ArtifactStore, cas_key, manifest_key, validate_key
from dyad.storage.local import LocalStore
from dyad.storage.s3 import S3Store

__all__ = [
    "ArtifactRef",
    "ArtifactStore",
    "LocalStore",
    "S3Store",
    "cas_key",
    "manifest_key",
    "open_store",
    "validate_key",
]


def open_store(settings: PlatformSettings) -> ArtifactStore:
    """The store ``DYAD_STORE_URI`` names, with the ``DYAD_S3_*`` settings for ``s3://``."""
    uri = settings.store_uri
    if uri.startswith("file://"):
        return LocalStore(uri[len("file://") :])
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not settings.s3_endpoint:
            raise ConfigError("DYAD_S3_ENDPOINT", f"needed for store {uri}")
        return S3Store(
            bucket,
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            prefix=prefix,
            region=settings.s3_region,
            secure=settings.s3_secure,
            part_size=settings.s3_part_size_bytes,
            public_endpoint=settings.s3_public_endpoint,
        )
    raise ConfigError("DYAD_STORE_URI", f"expected file:// or s3://, got {uri!r}")
