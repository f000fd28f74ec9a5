"""Hostile RenderVideo requests: avatars only through the store's keys, client claims checked,
motion inside the rig's ranges — each a client error naming the field, never a server path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.motion_io import motion_bytes
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.storage import ArtifactRef, LocalStore
from dyad.v1 import common_pb2 as c
from dyad.v1 import renderer_service_pb2 as pb

from .test_service import T, _request, serve


async def _refused(stub: Any, req: pb.RenderVideoRequest, field: str, tmp_path: Path) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await stub.RenderVideo(req, timeout=120)
    details = e.value.details()
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, details)
    assert details.startswith(field + ":"), (field, details)
    assert str(tmp_path) not in details, details  # no server path in a client's message
    return details


def test_avatar_uris_resolve_only_through_the_store(tmp_path: Path) -> None:
    # A valid avatar directory on the host, outside the store: it must not be loaded.
    host_avatar = tmp_path / "host-avatar"
    create_avatar("", head="procedural", seed=1).save(host_avatar)

    async def t(stub: Any, store: LocalStore) -> None:
        wav = _request(store).track_a
        seen: dict[str, str] = {}
        for name, uri in {
            "file-etc": "file:///etc",
            "file-missing": "file:///no/such/directory",
            "abs-etc": "/etc",
            "abs-host-avatar": str(host_avatar),
            "file-host-avatar": f"file://{host_avatar}",
            "traversal": f"{store.root_uri}/../host-avatar",
            "s3-foreign": "s3://elsewhere/avatars/x",
        }.items():
            seen[name] = await _refused(
                stub, _request(store, avatar_a_uri=uri), "avatar_a_uri", tmp_path
            )
        # No existence oracle: a host directory that exists and one that does not look alike.
        assert seen["file-etc"] == seen["file-missing"]
        # A stored artefact that is not an avatar (a WAV's URI, a prefix with no avatar files).
        await _refused(stub, _request(store, avatar_b_uri=wav.uri), "avatar_b_uri", tmp_path)
        await _refused(stub, _request(store, avatar_b_uri="avatars/none"), "avatar_b_uri", tmp_path)
        store.put_named("avatars/junk/config.json", b"{not json")
        store.put_named("avatars/junk/model.safetensors", b"\0" * 16)
        await _refused(stub, _request(store, avatar_a_uri="avatars/junk"), "avatar_a_uri", tmp_path)
        # The store's own avatars still load (by URI and by key).
        made = await stub.CreateAvatar(pb.CreateAvatarRequest(seed=3), timeout=120)
        key = store.key_of(made.avatar_uri)
        for uri in (made.avatar_uri, key):
            one = _request(store, avatar_a_uri=uri, layout=c.LAYOUT_SINGLE, motion_b=c.MotionClip())
            resp = await stub.RenderVideo(one, timeout=300)
            assert resp.num_frames == T

    serve(tmp_path, t)


def test_claims_that_do_not_match_the_stored_bytes(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        req = _request(store)
        other = store.put_bytes(b"some other bytes")
        forged = ArtifactRef.from_proto(req.track_a)
        req.track_a.sha256 = other.sha256
        await _refused(stub, req, "track_a.sha256", tmp_path)
        req = _request(store)
        req.track_b.size_bytes = forged.size_bytes + 1
        await _refused(stub, req, "track_b.size_bytes", tmp_path)
        req = _request(store)
        req.motion_a.artifact.sha256 = other.sha256
        await _refused(stub, req, "motion_a.artifact.sha256", tmp_path)
        # A URI outside the store, and a missing object: neither names the store's root.
        req = _request(store)
        req.track_a.uri = "file:///etc/passwd"
        await _refused(stub, req, "track_a.uri", tmp_path)
        req = _request(store)
        req.track_a.uri = "cas/sha256/00/" + "0" * 64
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.RenderVideo(req, timeout=120)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        assert str(tmp_path) not in e.value.details()

    serve(tmp_path, t)


@pytest.mark.parametrize("value", [3e38, -3e38, 1.5])
def test_motion_outside_the_rig_ranges_is_refused(tmp_path: Path, value: float) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        bad = np.zeros((T, 55), np.float32)
        bad[T // 2, 0] = value  # a blendshape: [0, 1]
        ref = store.put_bytes(motion_bytes(bad, "arkit55", check_range=False))
        req = _request(store, motion_b=c.MotionClip(rig="arkit55", artifact=ref.to_proto()))
        details = await _refused(stub, req, "motion_b", tmp_path)
        assert "outside" in details

    serve(tmp_path, t)


def test_an_avatar_larger_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        store.put_named("avatars/huge/config.json", b"{}")
        store.put_named("avatars/huge/model.safetensors", b"\0" * 5000)
        details = await _refused(
            stub, _request(store, avatar_a_uri="avatars/huge"), "avatar_a_uri", tmp_path
        )
        assert "5002 bytes; the limit is 4096 (DYAD_RENDER_MAX_AVATAR_BYTES)" in details

    serve(tmp_path, t, max_avatar_bytes=4096)
