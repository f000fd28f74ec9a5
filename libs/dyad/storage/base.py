"""Artefact store contract: content-addressed, atomic, idempotent (DESIGN.md §4).

Keys are relative slash-separated paths. Two kinds of object live in a store:

- **CAS blobs** ``cas/sha256/<aa>/<sha256>``: immutable; the key is the hash of the bytes, so
  the same bytes always land on the same key and a second put rewrites nothing;
- **named objects** (e.g. ``jobs/<job_id>/manifest.json``): written atomically, may be replaced.

Readers never see a partial object: local files are renamed into place, S3 objects (single or
multipart) appear only when complete.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from dyad.errors import IntegrityError, InvalidInput

CAS_PREFIX = "cas/sha256"
MANIFEST_NAME = "manifest.json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_CHUNK = 1024 * 1024
MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artefact lives and what it is; mirrors ``dyad.v1.ArtifactRef``."""

    uri: str
    sha256: str
    size_bytes: int
    content_type: str = "application/octet-stream"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ArtifactRef:
        return cls(d["uri"], d["sha256"], int(d["size_bytes"]), d.get("content_type", ""))

    def to_proto(self) -> Any:
        # lazy: `dyad` start-up (worker CLI) and the transport-free cores import this module
        from dyad.v1 import common_pb2

        return common_pb2.ArtifactRef(
            uri=self.uri,
            sha256=self.sha256,
            size_bytes=self.size_bytes,
            content_type=self.content_type,
        )

    @classmethod
    def from_proto(cls, msg: Any) -> ArtifactRef:
        return cls(msg.uri, msg.sha256, int(msg.size_bytes), msg.content_type)


def validate_key(key: str, *, field: str = "key") -> str:
    """Return ``key`` if it is a safe relative object key; InvalidInput naming ``field`` if not.

    Refused: empty keys, absolute paths, ``.``/``..``/empty components, backslashes, control
    characters, and keys over 1024 bytes (the S3 limit).
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput(field, "empty key")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidInput(field, f"key longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidInput(field, "absolute paths are not keys")
    if "\\" in key:
        raise InvalidInput(field, "backslash in key")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise InvalidInput(field, "control character in key")
    for part in key.split("/"):
        if part in ("", ".", ".."):
            raise InvalidInput(field, f"bad path component {part!r} in key")
    return key


def cas_key(sha256: str) -> str:
    """``cas/sha256/ab/ab12…`` for a lower-case hex digest."""
    if not _HEX64.match(sha256):
        raise InvalidInput("sha256", "expected 64 lower-case hex digits")
    return f"{CAS_PREFIX}/{sha256[:2]}/{sha256}"


def manifest_key(job_id: str) -> str:
    if not _JOB_ID.match(job_id):
        raise InvalidInput("job_id", "1–128 of [A-Za-z0-9_.-], starting with a letter or digit")
    return f"jobs/{job_id}/{MANIFEST_NAME}"


def sha256_file(path: Path) -> tuple[str, int]:
    """Hex digest and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def cas_digest(key: str) -> str | None:
    """The sha256 a CAS key names (``cas/sha256/ab/ab12…``), None for any other key."""
    head, _, digest = key.rpartition("/")
    if head == f"{CAS_PREFIX}/{digest[:2]}" and _HEX64.match(digest):
        return digest
    return None


def _verify(ref: str | ArtifactRef, key: str, size: int, sha256: str, field: str) -> None:
    """Check the bytes read from ``key`` (hash ``sha256``, ``size`` bytes).

    A CAS blob whose bytes are not its key's hash is corrupt storage (IntegrityError, named by
    key — never by a server path). Bytes that differ from what a client's ArtifactRef claims
    are the client's error: InvalidInput naming ``<field>.sha256`` / ``<field>.size_bytes``.
    """
    if cas_digest(key) not in (None, sha256):
        raise IntegrityError(f"stored object {key} does not match its content hash")
    if not isinstance(ref, ArtifactRef):
        return
    if ref.sha256 and ref.sha256 != sha256:
        raise InvalidInput(f"{field}.sha256", "does not match the stored bytes")
    # 0 and "" are proto3's "unset": a client that sent only a URI claims nothing.
    if ref.size_bytes and ref.size_bytes != size:
        raise InvalidInput(f"{field}.size_bytes", f"{ref.size_bytes}; the stored object is {size}")


class ArtifactStore(ABC):
    """What every store offers. Subclasses implement the ``_`` primitives."""

    #: ``file://…`` or ``s3://bucket[/prefix]``, without a trailing slash.
    root_uri: str

    # --- primitives -------------------------------------------------------------------
    @abstractmethod
    def _put_file(self, key: str, path: Path, content_type: str, sha256: str) -> None: ...

    @abstractmethod
    def _put_bytes(self, key: str, data: bytes, content_type: str, sha256: str) -> None: ...

    @abstractmethod
    def _size(self, key: str) -> int | None:
        """Size of the object at ``key``, None when absent."""

    @abstractmethod
    def _open(self, key: str) -> BinaryIO: ...

    @abstractmethod
    def _list(self, prefix: str) -> Iterator[str]: ...

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    @abstractmethod
    def presign(self, key_or_uri: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A URL a plain HTTP client can GET (S3), or the ``file://`` URI (local store)."""

    # --- addressing -------------------------------------------------------------------
    def uri(self, key: str) -> str:
        return f"{self.root_uri}/{validate_key(key)}"

    def key_of(self, key_or_uri: str, *, field: str = "uri") -> str:
        """The key for a key or a URI of this store; InvalidInput for a foreign URI."""
        if "://" not in key_or_uri:
            return validate_key(key_or_uri, field=field)
        root = self.root_uri + "/"
        if not key_or_uri.startswith(root):
            # The store's root is not named: for a local store it is a server path.
            raise InvalidInput(field, "not a key or URI of this service's artefact store")
        return validate_key(key_or_uri[len(root) :], field=field)

    # --- content-addressed puts -------------------------------------------------------
    def put_bytes(self, data: bytes, content_type: str = "application/octet-stream") -> ArtifactRef:
        """Store ``data`` under its hash; a repeat put of the same bytes writes nothing."""
        digest = hashlib.sha256(data).hexdigest()
        key = cas_key(digest)
        if self._size(key) != len(data):
            self._put_bytes(key, data, content_type, digest)
        return ArtifactRef(self.uri(key), digest, len(data), content_type)

    def put_file(
        self, path: str | Path, content_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        """Store a file's bytes under their hash (streamed; large files go multipart on S3)."""
        path = Path(path)
        if not path.is_file():
            raise InvalidInput("path", f"{path} is not a file")
        digest, size = sha256_file(path)
        key = cas_key(digest)
        if self._size(key) != size:
            self._put_file(key, path, content_type, digest)
        return ArtifactRef(self.uri(key), digest, size, content_type)

    # --- named objects ----------------------------------------------------------------
    def put_named(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ArtifactRef:
        """Write (or atomically replace) the object at ``key``."""
        key = validate_key(key)
        if key.startswith(CAS_PREFIX + "/"):
            raise InvalidInput("key", f"{CAS_PREFIX}/ is reserved for content-addressed puts")
        digest = hashlib.sha256(data).hexdigest()
        self._put_bytes(key, data, content_type, digest)
        return ArtifactRef(self.uri(key), digest, len(data), content_type)

    # --- reads ------------------------------------------------------------------------
    def exists(self, key_or_uri: str) -> bool:
        return self._size(self.key_of(key_or_uri)) is not None

    def size(self, key_or_uri: str, *, field: str = "uri") -> int | None:
        """Size in bytes of the object, None when absent (one stat, no download)."""
        return self._size(self.key_of(key_or_uri, field=field))

    def _key_for(self, ref: str | ArtifactRef, field: str) -> str:
        if isinstance(ref, ArtifactRef):
            return self.key_of(ref.uri, field=f"{field}.uri" if field else "uri")
        return self.key_of(ref, field=field or "uri")

    def get_bytes(self, ref: str | ArtifactRef, *, field: str = "") -> bytes:
        """The object's bytes; with an ArtifactRef, checked against its size and hash.

        ``field`` names the request field the reference came from, for InvalidInput (a URI
        outside the store, a claimed hash or size that the stored bytes do not match)."""
        key = self._key_for(ref, field)
        with self._open(key) as f:
            data = f.read()
        _verify(ref, key, len(data), hashlib.sha256(data).hexdigest(), field or "ref")
        return data

    def get_file(self, ref: str | ArtifactRef, dest: str | Path, *, field: str = "") -> Path:
        """Copy the object to ``dest`` (atomically; verified when given an ArtifactRef)."""
        dest = Path(dest)
        key = self._key_for(ref, field)
        tmp = dest.with_name(f".{dest.name}.part")
        h = hashlib.sha256()
        size = 0
        try:
            with self._open(key) as src, open(tmp, "wb") as out:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            _verify(ref, key, size, h.hexdigest(), field or "ref")
            tmp.replace(dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (a key prefix, not necessarily a folder), sorted."""
        if prefix:
            validate_key(prefix.rstrip("/"), field="prefix")
        return sorted(self._list(prefix))

    def delete(self, key_or_uri: str) -> None:
        self._delete(self.key_of(key_or_uri))

    # --- job manifests ----------------------------------------------------------------
    def put_manifest(self, job_id: str, manifest: dict[str, Any]) -> ArtifactRef:
        """Write ``jobs/<job_id>/manifest.json`` (sorted keys, so equal content, equal bytes)."""
        body = json.dumps(manifest, sort_keys=True, indent=2).encode()
        return self.put_named(manifest_key(job_id), body, "application/json")

    def get_manifest(self, job_id: str) -> dict[str, Any]:
        return dict(json.loads(self.get_bytes(manifest_key(job_id))))
