"""Client-given references against both stores: claims checked as client errors, messages
key-based (never a server path or the store's root), corrupt CAS blobs as IntegrityError."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dyad.errors import DyadError, IntegrityError, InvalidInput, NotFound
from dyad.storage import ArtifactRef, ArtifactStore, LocalStore, S3Store
from dyad.storage.base import cas_digest
from dyad.testing import S3Server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        yield S3Store(
            f"t-{os.urandom(4).hex()}",
            endpoint=server.endpoint,
            access_key=server.access_key,
            secret_key=server.secret_key,
            prefix="dyad",
        )


def _safe(e: DyadError, store: ArtifactStore, tmp_path: Path) -> None:
    assert str(tmp_path) not in e.message and store.root_uri not in e.message, e.message


def test_claims_that_do_not_match_are_client_errors(store: ArtifactStore, tmp_path: Path) -> None:
    ref = store.put_bytes(b"genuine bytes")
    other = hashlib.sha256(b"other").hexdigest()
    for bad, field in (
        (ArtifactRef(ref.uri, other, ref.size_bytes), "track_a.sha256"),
        (ArtifactRef(ref.uri, ref.sha256, ref.size_bytes + 1), "track_a.size_bytes"),
    ):
        with pytest.raises(InvalidInput) as e:
            store.get_bytes(bad, field="track_a")
        assert e.value.field == field, e.value.message
        _safe(e.value, store, tmp_path)
        with pytest.raises(InvalidInput) as e:
            store.get_file(bad, tmp_path / "out.bin", field="track_a")
        assert e.value.field == field
        assert not (tmp_path / "out.bin").exists()
    assert store.get_bytes(ref, field="track_a") == b"genuine bytes"


def test_messages_name_keys_not_server_paths(store: ArtifactStore, tmp_path: Path) -> None:
    missing = "cas/sha256/00/" + "0" * 64
    for call in (
        lambda: store.get_bytes(missing),
        lambda: store.get_bytes(store.uri(missing)),
        lambda: store.presign(missing),
    ):
        with pytest.raises(NotFound) as e:
            call()
        assert missing in e.value.message
        _safe(e.value, store, tmp_path)
    for foreign in ("file:///etc/passwd", "s3://elsewhere/cas/x", "/etc/passwd", "a/../b"):
        with pytest.raises(InvalidInput) as e2:
            store.get_bytes(ArtifactRef(foreign, "", 0), field="audio")
        assert e2.value.field == "audio.uri"
        _safe(e2.value, store, tmp_path)


def test_a_key_below_a_file_is_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    wav = store.put_bytes(b"RIFF....WAVE")
    below = store.key_of(wav.uri) + "/config.json"
    assert not store.exists(below) and store.size(below) is None
    with pytest.raises(NotFound) as e:
        store.get_bytes(below)
    _safe(e.value, store, tmp_path)


def test_a_corrupt_cas_blob_is_an_integrity_error(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    ref = store.put_bytes(b"genuine")
    key = store.key_of(ref.uri)
    assert cas_digest(key) == ref.sha256 and cas_digest("jobs/x/manifest.json") is None
    path = store.root / key
    path.chmod(0o644)
    path.write_bytes(b"rotten!")  # same size, other bytes
    with pytest.raises(IntegrityError) as e:
        store.get_bytes(ref.uri)
    assert key in e.value.message
    _safe(e.value, store, tmp_path)
    with pytest.raises(IntegrityError):
        store.get_bytes(ref, field="audio")
