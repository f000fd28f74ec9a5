"""Artefact stores against the local disk and a real S3-compatible server (moto)."""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dyad.config import PlatformSettings
from dyad.errors import InvalidInput, NotFound
from dyad.storage import ArtifactRef, ArtifactStore, LocalStore, S3Store, cas_key, open_store
from dyad.testing import S3Server

MiB = 1024 * 1024


def _s3(server: S3Server, bucket: str, **kw: object) -> S3Store:
    return S3Store(
        bucket,
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        part_size=5 * MiB,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        server = request.getfixturevalue("s3_server")
        yield _s3(server, f"t-{os.urandom(4).hex()}", prefix="dyad")


def test_put_get_round_trip_is_content_addressed(store: ArtifactStore) -> None:
    data = b"hello dyad"
    ref = store.put_bytes(data, "text/plain")
    digest = hashlib.sha256(data).hexdigest()
    assert ref.sha256 == digest and ref.size_bytes == len(data)
    assert ref.uri == f"{store.root_uri}/cas/sha256/{digest[:2]}/{digest}"
    assert store.exists(ref.uri) and store.exists(cas_key(digest))
    assert store.get_bytes(ref) == data
    assert store.list("cas/") == [cas_key(digest)]


def test_same_bytes_same_key_and_no_rewrite(store: ArtifactStore) -> None:
    data = os.urandom(1000)
    first = store.put_bytes(data)
    writes: list[str] = []
    orig = store._put_bytes
    store._put_bytes = lambda *a, **k: writes.append(a[0]) or orig(*a, **k)  # type: ignore[method-assign, func-returns-value]
    second = store.put_bytes(data)
    assert second == first
    assert writes == [], "an identical put must not rewrite the object"


def test_manifest_round_trip_and_replace(store: ArtifactStore) -> None:
    store.put_manifest("job-1", {"video": "cas/x", "n": 1})
    store.put_manifest("job-1", {"video": "cas/y", "n": 2})
    assert store.get_manifest("job-1") == {"video": "cas/y", "n": 2}
    assert store.list("jobs/") == ["jobs/job-1/manifest.json"]


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "a/../b", "../x", "a//b", "a/./b", "a\\b", "a\x00b", "a\nb", "x" * 1100],
)
def test_bad_keys_are_rejected(store: ArtifactStore, key: str) -> None:
    with pytest.raises(InvalidInput) as e:
        store.put_named(key, b"x")
    assert e.value.field == "key"


def test_bad_job_id_is_rejected(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInput) as e:
        store.put_manifest("../evil", {})
    assert e.value.field == "job_id"


def test_cas_prefix_is_reserved_for_hash_keys(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInput):
        store.put_named("cas/sha256/aa/" + "a" * 64, b"not that hash")


def test_missing_object_is_not_found(store: ArtifactStore) -> None:
    with pytest.raises(NotFound):
        store.get_bytes("jobs/none/manifest.json")
    assert not store.exists("jobs/none/manifest.json")


def test_foreign_uri_is_rejected(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInput) as e:
        store.get_bytes("s3://elsewhere/cas/x")
    assert e.value.field == "uri"


def test_get_verifies_hash(store: ArtifactStore) -> None:
    ref = store.put_bytes(b"genuine")
    forged = ArtifactRef(ref.uri, hashlib.sha256(b"other").hexdigest(), ref.size_bytes)
    # A claim the stored bytes do not match is the caller's error (test_storage_hostile.py).
    with pytest.raises(InvalidInput) as e:
        store.get_bytes(forged)
    assert e.value.field == "ref.sha256"


def test_concurrent_identical_puts(store: ArtifactStore) -> None:
    data = os.urandom(3 * MiB)
    barrier = threading.Barrier(8)

    def put(_: int) -> ArtifactRef:
        barrier.wait()
        return store.put_bytes(data)

    with ThreadPoolExecutor(8) as pool:
        refs = list(pool.map(put, range(8)))
    assert len(set(refs)) == 1
    assert store.get_bytes(refs[0]) == data
    assert store.list() == [store.key_of(refs[0].uri)], "no temp or duplicate objects left"
    if isinstance(store, LocalStore):
        on_disk = [p for p in store.root.rglob("*") if p.is_file()]
        assert on_disk == [store.root / store.key_of(refs[0].uri)], on_disk


def test_local_writes_are_atomic(tmp_path: Path) -> None:
    """A reader never sees a partial file: writes land in a temp file renamed into place."""
    store = LocalStore(tmp_path)
    seen: list[int] = []
    orig_replace = os.replace

    def spy_replace(src: str, dst: str) -> None:
        # At the moment of the rename the final path must not exist half-written.
        seen.append(Path(dst).stat().st_size if Path(dst).exists() else -1)
        assert Path(src).stat().st_size == 5 * MiB
        orig_replace(src, dst)

    os.replace = spy_replace  # type: ignore[assignment]
    try:
        store.put_named("big.bin", b"\0" * (5 * MiB))
    finally:
        os.replace = orig_replace
    assert seen == [-1]
    assert [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_local_failed_write_leaves_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)

    class Boom(Exception):
        pass

    def failing_fsync(fd: int) -> None:
        raise Boom

    orig = os.fsync
    os.fsync = failing_fsync  # type: ignore[assignment]
    try:
        with pytest.raises(Boom):
            store.put_bytes(b"data" * 1000)
    finally:
        os.fsync = orig
    assert list(tmp_path.rglob("*.*")) == [] or all(p.is_dir() for p in tmp_path.rglob("*"))


def test_s3_multipart_20mb_round_trip(s3_server: S3Server, tmp_path: Path) -> None:
    store = _s3(s3_server, "multipart")
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * MiB))
    ref = store.put_file(src, "application/octet-stream")
    stat = store.stat(ref.uri)
    # An S3 multipart ETag is "<md5 of part md5s>-<part count>": 20 MiB in 5 MiB parts → 4.
    assert stat["etag"].endswith("-4"), stat
    assert stat["size_bytes"] == 20 * MiB and stat["sha256"] == ref.sha256
    out = store.get_file(ref, tmp_path / "back.bin")
    assert out.read_bytes() == src.read_bytes()


def test_s3_presigned_url_plain_http(s3_server: S3Server) -> None:
    store = _s3(s3_server, "presign")
    ref = store.put_bytes(b"fetch me over http", "text/plain")
    url = store.presign(ref.uri)
    assert url.startswith(f"http://{s3_server.endpoint}/presign/cas/sha256/")
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"fetch me over http"
        assert resp.headers["Content-Type"] == "text/plain"
    # (moto does not check SigV4 signatures, so a tampered URL cannot be tested here.)


def test_s3_presigned_url_names_the_public_endpoint(s3_server: S3Server) -> None:
    """Clients reach the store by another name than the services do (an ingress): the URL is
    signed for that name, and fetching through it works."""
    port = s3_server.endpoint.rsplit(":", 1)[1]
    store = _s3(s3_server, "presign-public", public_endpoint=f"http://localhost:{port}")
    ref = store.put_bytes(b"fetched by its public name")
    url = store.presign(ref.uri)
    assert url.startswith(f"http://localhost:{port}/presign-public/cas/sha256/"), url
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.read() == b"fetched by its public name"
    tls = _s3(s3_server, "presign-public", public_endpoint="https://media.example.com")
    assert tls.presign(ref.uri).startswith("https://media.example.com/presign-public/cas/")
    with pytest.raises(InvalidInput, match="public_endpoint"):
        _s3(s3_server, "presign-public", public_endpoint="ftp://media.example.com")


def test_presign_missing_is_not_found(s3_server: S3Server, tmp_path: Path) -> None:
    for store in (_s3(s3_server, "presign-missing"), LocalStore(tmp_path)):
        with pytest.raises(NotFound):
            store.presign("cas/sha256/aa/" + "a" * 64)


def test_open_store_from_settings(s3_server: S3Server, tmp_path: Path) -> None:
    local = open_store(PlatformSettings(store_uri=f"file://{tmp_path}"))
    assert isinstance(local, LocalStore) and local.root == tmp_path.resolve()
    s3 = open_store(
        PlatformSettings(
            store_uri="s3://from-settings/pre",
            s3_endpoint=s3_server.endpoint,
            s3_access_key=s3_server.access_key,
            s3_secret_key=s3_server.secret_key,
        )
    )
    ref = s3.put_bytes(b"x")
    assert ref.uri.startswith("s3://from-settings/pre/cas/")


def test_local_objects_are_readable_by_others(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    ref = store.put_bytes(b"shared")
    named = store.put_named("jobs/j/manifest.json", b"{}")
    for key in (store.key_of(ref.uri), store.key_of(named.uri)):
        assert (tmp_path / key).stat().st_mode & 0o777 == 0o644
