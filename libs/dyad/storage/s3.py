"""``S3Store``: artefacts in MinIO or any S3-compatible endpoint, through the ``minio`` client.

Objects larger than ``part_size`` are uploaded multipart (the object appears only when the
upload completes, so readers never see part of it). Each object carries its SHA-256 as user
metadata (``x-amz-meta-sha256``) so a CAS put can tell an existing complete copy from nothing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO, cast

import urllib3
from minio import Minio
from minio.error import S3Error

from dyad.errors import ConfigError, InvalidInput, NotFound, Unavailable
from dyad.storage.base import ArtifactStore, validate_key

log = logging.getLogger("dyad.storage.s3")

_MISSING = {"NoSuchKey", "NoSuchObject", "NoSuchBucket", "NotFound"}
_REFUSED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
}


class S3Store(ArtifactStore):
    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        prefix: str = "",
        region: str = "us-east-1",
        secure: bool = False,
        part_size: int = 16 * 1024 * 1024,
        create_bucket: bool = True,
        public_endpoint: str = "",
    ) -> None:
        if not bucket:
            raise InvalidInput("bucket", "empty bucket name")
        self.bucket = bucket
        self.prefix = (
            validate_key(prefix.strip("/"), field="prefix") + "/" if prefix.strip("/") else ""
        )
        self.part_size = part_size
        self.root_uri = f"s3://{bucket}" + (f"/{self.prefix.rstrip('/')}" if self.prefix else "")
        # Fail fast on a dead endpoint rather than retrying for minutes.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5.0, read=60.0),
            retries=urllib3.Retry(
                total=3,
                backoff_factor=0.2,
                backoff_jitter=0.3,
                status_forcelist=(500, 502, 503, 504),
            ),
            maxsize=16,
        )
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            secure=secure,
            http_client=http,
        )
        # Presigned URLs name the host clients reach (an ingress, a CDN), which may differ from
        # the cluster-internal endpoint; SigV4 signs the host, so a second client signs them.
        # Signing is local (the region is given), so it never calls that endpoint.
        self.signer = self.client
        if public_endpoint:
            scheme, sep, host = public_endpoint.rstrip("/").partition("://")
            if sep and scheme not in ("http", "https"):
                raise InvalidInput(
                    "public_endpoint", f"expected http(s)://host[:port], got {public_endpoint!r}"
                )
            self.signer = Minio(
                host if sep else scheme,
                access_key=access_key,
                secret_key=secret_key,
                region=region,
                secure=scheme == "https" if sep else secure,
            )
        if create_bucket:
            self._call(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as e:  # created by a concurrent process
                if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a client call, mapping transport failures to Unavailable and refused
        credentials to a ConfigError naming the settings (never their values)."""
        try:
            return fn(*args, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as e:
            # The endpoint, bucket and key are the operator's business, not a client's: log
            # them here, send the client only that the store is away (a retryable status).
            log.warning("S3 endpoint unreachable: %s", e)
            raise Unavailable("the artefact store is unreachable; retry later") from e
        except S3Error as e:
            if e.code in _REFUSED:
                raise ConfigError(
                    "DYAD_S3_ACCESS_KEY",
                    f"the S3 endpoint refused the credentials ({e.code}); check "
                    "DYAD_S3_ACCESS_KEY and DYAD_S3_SECRET_KEY",
                ) from None
            raise

    def _obj(self, key: str) -> str:
        return self.prefix + key

    def _put_file(self, key: str, path: Path, content_type: str, sha256: str) -> None:
        self._call(
            self.client.fput_object,
            self.bucket,
            self._obj(key),
            str(path),
            content_type=content_type,
            metadata={"sha256": sha256},
            part_size=self.part_size,
        )

    def _put_bytes(self, key: str, data: bytes, content_type: str, sha256: str) -> None:
        self._call(
            self.client.put_object,
            self.bucket,
            self._obj(key),
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata={"sha256": sha256},
            part_size=self.part_size,
        )

    def _size(self, key: str) -> int | None:
        try:
            st = self._call(self.client.stat_object, self.bucket, self._obj(key))
        except S3Error as e:
            if e.code in _MISSING:
                return None
            raise
        return int(st.size)

    def stat(self, key_or_uri: str) -> dict[str, Any]:
        """Size, ETag, content type and recorded sha256 of an object."""
        key = self.key_of(key_or_uri)
        try:
            st = self._call(self.client.stat_object, self.bucket, self._obj(key))
        except S3Error as e:
            if e.code in _MISSING:
                raise NotFound(f"no artefact at {key}") from None
            raise
        meta = {k.lower(): v for k, v in (st.metadata or {}).items()}
        return {
            "size_bytes": int(st.size),
            "etag": st.etag,
            "content_type": st.content_type,
            "sha256": meta.get("x-amz-meta-sha256"),
        }

    def _open(self, key: str) -> BinaryIO:
        try:
            resp = self._call(self.client.get_object, self.bucket, self._obj(key))
        except S3Error as e:
            if e.code in _MISSING:
                raise NotFound(f"no artefact at {key}") from None
            raise
        return cast(BinaryIO, _Body(resp))

    def _list(self, prefix: str) -> Iterator[str]:
        objs = self._call(
            self.client.list_objects, self.bucket, prefix=self._obj(prefix), recursive=True
        )
        for o in objs:
            yield o.object_name[len(self.prefix) :]

    def _delete(self, key: str) -> None:
        self._call(self.client.remove_object, self.bucket, self._obj(key))

    def presign(self, key_or_uri: str, expires: timedelta = timedelta(hours=1)) -> str:
        key = self.key_of(key_or_uri)
        if self._size(key) is None:
            raise NotFound(f"no artefact at {key}")
        if not timedelta(seconds=1) <= expires <= timedelta(days=7):
            raise InvalidInput("expires", "between 1 s and 7 days (the SigV4 limit)")
        return str(
            self._call(
                self.signer.presigned_get_object, self.bucket, self._obj(key), expires=expires
            )
        )


class _Body(io.RawIOBase):
    """A readable, closable view of a urllib3 response that releases the connection."""

    def __init__(self, resp: Any) -> None:
        self._resp = resp

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._resp.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def read(self, size: int = -1) -> bytes:
        return bytes(self._resp.read() if size is None or size < 0 else self._resp.read(size))

    def close(self) -> None:
        if not self.closed:
            self._resp.close()
            self._resp.release_conn()
        super().close()
