"""``LocalStore``: the embedded default, artefacts in a directory (``file://``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from dyad.errors import NotFound
from dyad.storage.base import ArtifactStore


class LocalStore(ArtifactStore):
    """Objects are files under ``root``; writes go to a temp file and are renamed into place."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root_uri = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / key

    def _write_atomic(self, key: str, fill: object, *, exclusive: bool) -> None:
        """Write via a temp file in the target directory; ``exclusive`` never replaces.

        CAS keys use ``exclusive``: if two writers race on the same bytes, the first link wins
        and the second discards its copy — nobody rewrites or truncates a visible object.
        """
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide artefacts from other users
            with os.fdopen(fd, "wb") as out:
                if isinstance(fill, bytes):
                    out.write(fill)
                else:
                    with open(fill, "rb") as src:  # type: ignore[call-overload]
                        shutil.copyfileobj(src, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            if exclusive:
                # Same content already in place: keep it, drop ours.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, dest)
            else:
                os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def _put_file(self, key: str, path: Path, content_type: str, sha256: str) -> None:
        self._write_atomic(key, path, exclusive=key.startswith("cas/"))

    def _put_bytes(self, key: str, data: bytes, content_type: str, sha256: str) -> None:
        self._write_atomic(key, data, exclusive=key.startswith("cas/"))

    def _size(self, key: str) -> int | None:
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):  # a key below a file's key
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def _open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFound(f"no artefact at {key}") from None

    def _list(self, prefix: str) -> Iterator[str]:
        for dirpath, _dirs, files in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            for name in files:
                if name.startswith(".") and name.endswith(".tmp"):
                    continue  # a write in progress
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    yield key

    def _delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def presign(self, key_or_uri: str, expires: timedelta = timedelta(hours=1)) -> str:
        key = self.key_of(key_or_uri)
        if self._size(key) is None:
            raise NotFound(f"no artefact at {key}")
        return self.uri(key)
