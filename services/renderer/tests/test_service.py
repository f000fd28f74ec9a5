"""The renderer over gRPC (our bootstrap), its layouts and its CLI; videos checked with ffprobe."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.config import PlatformSettings
from dyad.media import probe_video, wav_bytes, write_wav
from dyad.media.image import read_png
from dyad.motion_io import motion_bytes, save_motion
from dyad.rigs import get_rig
from dyad.services.renderer.__main__ import build_server
from dyad.services.renderer.layout import active_speaker, compose
from dyad.services.renderer.settings import RendererSettings
from dyad.storage import LocalStore
from dyad.testing import CliResult, run_cli, with_server
from dyad.timebase import SAMPLE_RATE as RATE
from dyad.v1 import common_pb2 as c
from dyad.v1 import renderer_service_pb2 as pb
from dyad.v1 import renderer_service_pb2_grpc as pb_grpc

RIG = get_rig("arkit55")
T = 30  # frames: 1.2 s
PX = 64


def _motion(phase: float) -> np.ndarray:
    m = np.zeros((T, 55), np.float32)
    t = np.arange(T) / 25.0
    m[:, RIG.channels.index("jawOpen")] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t + phase)
    m[:, RIG.channels.index("headYaw")] = 0.2 * np.sin(2 * np.pi * 0.5 * t)
    return m


def _tracks() -> tuple[np.ndarray, np.ndarray]:
    n = T * RATE // 25
    t = np.arange(n) / RATE
    a = np.where(t < 0.6, 0.3 * np.sin(2 * np.pi * 220 * t), 0.0).astype(np.float32)
    b = np.where(t >= 0.6, 0.3 * np.sin(2 * np.pi * 330 * t), 0.0).astype(np.float32)
    return a, b


def _request(store: LocalStore, **kw: Any) -> pb.RenderVideoRequest:
    a, b = _tracks()
    ma = store.put_bytes(motion_bytes(_motion(0.0), "arkit55"))
    mb = store.put_bytes(motion_bytes(_motion(1.0), "arkit55"))
    fields: dict[str, Any] = dict(
        motion_a=c.MotionClip(rig="arkit55", artifact=ma.to_proto()),
        motion_b=c.MotionClip(rig="arkit55", artifact=mb.to_proto()),
        audio=store.put_bytes(wav_bytes(np.stack([a, b], 1), RATE)).to_proto(),
        track_a=store.put_bytes(wav_bytes(a, RATE)).to_proto(),
        track_b=store.put_bytes(wav_bytes(b, RATE)).to_proto(),
        identity_a=c.Identity(name="Ana", appearance=["pale", "skin", "red", "hair"]),
        identity_b=c.Identity(name="Ben", appearance=["dark", "skin", "bald"]),
        head_size_px=PX,
    )
    fields.update(kw)
    return pb.RenderVideoRequest(**fields)


def serve(
    tmp_path: Path, test: Callable[[Any, LocalStore], Awaitable[None]], **settings: Any
) -> None:
    """``test(stub, store)`` against a real server (``dyad.testing.with_server``)."""
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    store = LocalStore(tmp_path / "store")
    server = build_server(platform, RendererSettings(head_px=PX, backend="cpu", **settings))
    with_server(server, lambda ch: test(pb_grpc.RendererServiceStub(ch), store))


def _check_video(path: Path, width: int, height: int, channels: int) -> None:
    info = probe_video(path)
    v, a = info["video"], info["audio"]
    assert v is not None and a is not None
    assert (v["codec"], v["width"], v["height"], v["num_frames"]) == ("h264", width, height, T)
    assert v["fps"] == 25
    assert (a["codec"], a["channels"]) == ("aac", channels)
    assert v["duration_s"] is not None and a["duration_s"] is not None
    assert abs(v["duration_s"] - a["duration_s"]) <= 1 / 25 + 1e-6


def test_render_video_and_per_speaker_videos(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        resp = await stub.RenderVideo(_request(store, per_speaker_videos=True), timeout=300)
        assert (resp.num_frames, resp.width, resp.height) == (T, 2 * PX, PX)
        for ref, size, ch in (
            (resp.video, (2 * PX, PX), 2),
            (resp.speaker_a_video, (PX, PX), 1),
            (resp.speaker_b_video, (PX, PX), 1),
        ):
            out = tmp_path / f"{ref.sha256}.mp4"
            out.write_bytes(store.get_bytes(ref.uri))
            _check_video(out, *size, ch)
        # picture in picture: one head square
        pip = await stub.RenderVideo(
            _request(store, layout=c.LAYOUT_PICTURE_IN_PICTURE), timeout=300
        )
        assert (pip.width, pip.height) == (PX, PX) and not pip.speaker_a_video.uri

    serve(tmp_path, t)


def test_stream_frames_and_avatars(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        chunks = [ch async for ch in stub.StreamFrames(_request(store), timeout=300)]
        frames = [read_png(p) for ch in chunks for p in ch.png_frames]
        assert len(frames) == T and frames[0].shape == (PX, 2 * PX, 3)
        assert [ch.start_frame for ch in chunks] == list(range(0, T, 5))
        # The jaw moves: frames differ; the two heads differ from each other.
        assert np.abs(frames[0].astype(int) - frames[3].astype(int)).max() > 30
        assert np.abs(frames[0][:, :PX].astype(int) - frames[0][:, PX:].astype(int)).mean() > 5

        made = await stub.CreateAvatar(
            pb.CreateAvatarRequest(identity=c.Identity(name="Cy", appearance=["blonde"])),
            timeout=120,
        )
        assert made.avatar_uri.endswith("/") is False and "avatars/" in made.avatar_uri
        preview = read_png(store.get_bytes(made.preview_png.uri))
        assert preview.shape == (PX, PX, 3)
        resp = await stub.RenderVideo(
            _request(
                store, avatar_a_uri=made.avatar_uri, layout=c.LAYOUT_SINGLE, motion_b=c.MotionClip()
            ),
            timeout=300,
        )
        assert (resp.width, resp.height, resp.num_frames) == (PX, PX, T)

    serve(tmp_path, t)


def test_bad_requests(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        short = store.put_bytes(motion_bytes(_motion(0.0)[:10], "arkit55"))
        flame = store.put_bytes(motion_bytes(np.zeros((T, 56), np.float32), "flame56"))
        cases: dict[str, tuple[Any, grpc.StatusCode]] = {
            "motion_a.artifact.uri": (pb.RenderVideoRequest(), grpc.StatusCode.INVALID_ARGUMENT),
            "motion_b.num_frames": (
                _request(store, motion_b=c.MotionClip(artifact=short.to_proto())),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            "motion_b.rig": (
                _request(store, motion_b=c.MotionClip(artifact=flame.to_proto())),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            "head_px": (_request(store, head_size_px=33), grpc.StatusCode.INVALID_ARGUMENT),
            "layout": (_request(store, layout=99), grpc.StatusCode.INVALID_ARGUMENT),
            "track_b": (_request(store, track_b=c.ArtifactRef()), grpc.StatusCode.INVALID_ARGUMENT),
            "audio": (
                _request(
                    store,
                    audio=store.put_bytes(wav_bytes(np.zeros(RATE * 5), RATE)).to_proto(),
                    track_a=c.ArtifactRef(),
                    track_b=c.ArtifactRef(),
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            "flame": (
                _request(
                    store,
                    motion_a=c.MotionClip(artifact=flame.to_proto()),
                    motion_b=c.MotionClip(artifact=flame.to_proto()),
                ),
                grpc.StatusCode.FAILED_PRECONDITION,
            ),
        }
        for field, (req, code) in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.RenderVideo(req, timeout=120)
            assert e.value.code() == code, (field, e.value.details())
            if code == grpc.StatusCode.INVALID_ARGUMENT:
                assert e.value.details().startswith(field), (field, e.value.details())
            else:
                assert "DYAD_RENDER_FLAME_MODEL" in e.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.CreateAvatar(pb.CreateAvatarRequest(head_model="smpl"), timeout=60)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.value.details().startswith("head_model")

    serve(tmp_path, t)


def test_active_speaker_holds_through_short_interjections() -> None:
    n = 100 * RATE // 25
    a = np.zeros(n, np.float32)
    b = np.zeros(n, np.float32)
    a[: n // 2] = 0.3
    b[n // 2 :] = 0.3
    b[RATE // 5 : RATE // 5 + RATE // 10] = 0.5  # a 0.1 s backchannel while A talks
    act = active_speaker(a, b, 100, RATE)
    assert act[:50].max() == 0  # no cut for the backchannel
    assert act[50 + 15 :].min() == 1  # switches to B after the hold
    big = np.full((64, 64, 3), 10, np.uint8)
    small = np.full((64, 64, 3), 200, np.uint8)
    out = compose("pip", big, small, active=0)
    assert out.shape == (64, 64, 3) and out[0, 0, 0] == 10 and out[-10, -10, 0] == 200
    assert compose("pip", big, small, active=1)[0, 0, 0] == 200
    assert compose("side", big, small).shape == (64, 128, 3)


def _dyad(*args: str) -> CliResult:
    return run_cli(*args, env={"DYAD_RENDER_BACKEND": "cpu"})


def test_cli_render_and_avatar(tmp_path: Path) -> None:
    a, b = _tracks()
    save_motion(tmp_path / "a.npz", _motion(0.0), "arkit55")
    save_motion(tmp_path / "b.npz", _motion(1.0), "arkit55")
    write_wav(tmp_path / "mix.wav", np.stack([a, b], 1), RATE)
    out = tmp_path / "conv.mp4"
    r = _dyad(
        "render",
        "--motion-a",
        str(tmp_path / "a.npz"),
        "--motion-b",
        str(tmp_path / "b.npz"),
        "--audio",
        str(tmp_path / "mix.wav"),
        "--identity-a",
        "woman, grey hair",
        "--head-px",
        str(PX),
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["frames"] == T
    _check_video(out, 2 * PX, PX, 2)

    r = _dyad("avatar", "create", "--identity", "man, 40s, beard", "--out", str(tmp_path / "av"))
    assert r.returncode == 0, r.stderr
    assert {"config.json", "model.safetensors", "avatar.ply", "preview.png"} <= set(
        p.name for p in (tmp_path / "av").iterdir()
    )
    bad = _dyad(
        "render",
        "--motion-a",
        str(tmp_path / "a.npz"),
        "--motion-b",
        str(tmp_path / "b.npz"),
        "--out",
        str(tmp_path / "x.avi"),
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith("dyad: --out")
    assert len(bad.stderr.strip().splitlines()) == 1
