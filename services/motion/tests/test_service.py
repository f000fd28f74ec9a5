"""The motion service over gRPC (our bootstrap) and from the CLI."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.cli import main
from dyad.config import PlatformSettings
from dyad.media import write_wav
from dyad.motion_io import load_motion
from dyad.services.motion.__main__ import build_server
from dyad.services.motion.settings import MotionSettings
from dyad.storage import LocalStore
from dyad.testing import with_server
from dyad.timebase import SAMPLE_RATE
from dyad.v1 import motion_service_pb2 as pb
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

from .conftest import request
from .spoken import Spoken


def serve(tmp_path: Path, test: Callable[[Any, LocalStore], Awaitable[None]]) -> None:
    """``test(stub, store)`` against a real motion server (``dyad.testing.with_server``)."""
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    store = LocalStore(tmp_path / "store")
    with_server(
        build_server(platform, MotionSettings()),
        lambda ch: test(pb_grpc.MotionServiceStub(ch), store),
    )


def test_generate_and_stream(conv: Spoken, tmp_path: Path) -> None:
    frames = -(-conv.track_a.size * 25 // 16000)

    async def t(stub: Any, store: LocalStore) -> None:
        resp = await stub.GenerateMotion(request(conv, store, seed=4), timeout=120)
        for clip in (resp.motion_a, resp.motion_b):
            assert (clip.rig, clip.fps, clip.num_frames, len(clip.channel_names)) == (
                "arkit55",
                25,
                frames,
                55,
            )
            m = load_motion(store.get_bytes(clip.artifact.uri))
            assert m.motion.shape == (frames, 55)
        flame = await stub.GenerateMotion(request(conv, store, seed=4, rig="flame56"), timeout=120)
        assert len(flame.motion_a.channel_names) == 56
        chunks = [ch async for ch in stub.StreamMotion(request(conv, store, seed=4), timeout=120)]
        assert chunks[0].channel_names and not chunks[1].channel_names
        assert sum(ch.num_frames for ch in chunks) == frames
        streamed = np.concatenate(
            [np.array(ch.values_a, np.float32).reshape(-1, 55) for ch in chunks]
        )
        whole = load_motion(store.get_bytes(resp.motion_a.artifact.uri)).motion
        np.testing.assert_allclose(streamed, whole, atol=1e-6)

    serve(tmp_path, t)


def test_bad_requests(conv: Spoken, tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        good = request(conv, store)
        cases = {
            "track_a.artifact.uri": pb.GenerateMotionRequest(timeline=good.timeline),
            "timeline": pb.GenerateMotionRequest(track_a=good.track_a, track_b=good.track_b),
            "backend": request(conv, store, backend="gpt"),
            "rig": request(conv, store, rig="mixamo"),
            "model_id": request(conv, store, model_id="x"),
        }
        for field, req in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.GenerateMotion(req, timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, e.value.details())
            assert dict(e.value.trailing_metadata())["dyad-error-field"] == field
        bad = request(conv, store)
        bad.timeline.segments[1].start_s = bad.timeline.segments[1].end_s + 1
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.GenerateMotion(bad, timeout=60)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(e.value.trailing_metadata())["dyad-error-field"].startswith(
            "timeline.segments["
        )

    serve(tmp_path, t)


def test_cli_animate(conv: Spoken, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "conv").mkdir()
    write_wav(tmp_path / "conv" / "a.wav", conv.track_a, SAMPLE_RATE, subtype="FLOAT")
    write_wav(tmp_path / "conv" / "b.wav", conv.track_b, SAMPLE_RATE, subtype="FLOAT")
    (tmp_path / "conv" / "timeline.json").write_text(json.dumps(conv.timeline.to_dict()))
    out = tmp_path / "motion"
    args = ["motion", "animate", "--timeline", str(tmp_path / "conv" / "timeline.json")]
    args += ["--audio-a", str(tmp_path / "conv" / "a.wav")]
    good = [*args, "--audio-b", str(tmp_path / "conv" / "b.wav"), "--rig", "flame56"]
    assert main([*good, "--out", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["rig"] == "flame56" and info["fps"] == 25
    m = load_motion(out / "motion_a.npz")
    assert m.rig.name == "flame56" and m.num_frames == info["frames"]
    missing = [*args, "--audio-b", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "x")]
    assert main(missing) == 2
    assert capsys.readouterr().err.startswith("dyad: --audio-b")
    assert not (tmp_path / "x").exists()
