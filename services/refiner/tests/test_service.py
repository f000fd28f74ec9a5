"""The refiner service over gRPC (a real in-process server) and from the CLI."""

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
from dyad.features_io import features_bytes
from dyad.motion_io import load_motion, motion_bytes, save_motion
from dyad.protoconv import timeline_to_pb
from dyad.services.refiner.__main__ import build_server
from dyad.services.refiner.settings import RefinerSettings
from dyad.storage import LocalStore
from dyad.testing import run_cli, with_server
from dyad.testing.data import make_timeline, smooth_motion
from dyad.v1 import common_pb2 as c
from dyad.v1 import refiner_service_pb2 as pb
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc


def serve(tmp_path: Path, test: Callable[[Any, LocalStore], Awaitable[None]]) -> None:
    """``test(stub, store)`` against a real server (``dyad.testing.with_server``)."""
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    store = LocalStore(tmp_path / "store")
    server = build_server(platform, RefinerSettings())
    with_server(server, lambda ch: test(pb_grpc.RefinerServiceStub(ch), store))


def clip(store: LocalStore, motion: np.ndarray, rig: str, speaker: Any) -> c.MotionClip:
    ref = store.put_bytes(motion_bytes(motion, rig), "application/x-npz")
    return c.MotionClip(
        speaker=speaker, rig=rig, num_frames=motion.shape[0], artifact=ref.to_proto()
    )


def request(
    store: LocalStore,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    rig_b: str = "arkit55",
    **kw: Any,
) -> pb.RefineMotionRequest:
    a = smooth_motion(200, 1) if a is None else a
    b = smooth_motion(200, 2) if b is None else b
    return pb.RefineMotionRequest(
        motion_a=clip(store, a, "arkit55", c.SPEAKER_A),
        motion_b=clip(store, b, rig_b, c.SPEAKER_B),
        timeline=timeline_to_pb(make_timeline()),
        relation=c.SocialRelation(blood=True, equal=False),
        identity_a=c.Identity(name="Ana", age_band="adult"),
        identity_b=c.Identity(name="Ben", age_band="teen"),
        **kw,
    )


def features(store: LocalStore, frames: int, *, seed: int = 0, dim: int = 160) -> c.FeatureClip:
    """A feature clip in the store, as the audio encoder writes one (``[T, dim]`` float32)."""
    arr = np.random.default_rng(seed).standard_normal((frames, dim)).astype(np.float32)
    ref = store.put_bytes(features_bytes(arr), "application/x-npy")
    return c.FeatureClip(backend="mel", fps=25, num_frames=frames, dim=dim, artifact=ref.to_proto())


def test_refine_over_grpc(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        resp = await stub.RefineMotion(request(store, num_steps=2, seed=3), timeout=120)
        for m in (resp.motion_a, resp.motion_b):
            assert (m.rig, m.fps, m.num_frames, len(m.channel_names)) == ("arkit55", 25, 200, 55)
            assert load_motion(store.get_bytes(m.artifact.uri)).motion.shape == (200, 55)
        again = await stub.RefineMotion(request(store, num_steps=2, seed=3), timeout=120)
        assert again.motion_a.artifact.sha256 == resp.motion_a.artifact.sha256  # seeded
        # The audio encoder's features (here: random mel-shaped ones) condition the denoiser.
        fa, fb = features(store, 200, seed=1), features(store, 200, seed=2)
        heard = await stub.RefineMotion(
            request(store, num_steps=2, seed=3, features_a=fa, features_b=fb), timeout=120
        )
        assert heard.motion_a.artifact.sha256 != resp.motion_a.artifact.sha256
        # TCR alone: only frames near the two boundaries (73, 143) change
        only = await stub.RefineMotion(request(store, blocks=[pb.REFINER_BLOCK_TCR]), timeout=60)
        out = load_motion(store.get_bytes(only.motion_a.artifact.uri)).motion
        src = smooth_motion(200, 1)
        assert np.array_equal(out[:63], src[:63]) and not np.array_equal(out[63:83], src[63:83])

    serve(tmp_path, t)


def test_bad_requests(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        good = request(store)
        no_a = pb.RefineMotionRequest(motion_b=good.motion_b, timeline=good.timeline)
        no_tl = pb.RefineMotionRequest(motion_a=good.motion_a, motion_b=good.motion_b)
        unlabelled = request(store, b=smooth_motion(150, 2))
        unlabelled.motion_b.num_frames = 0  # the file itself has 150 frames
        cases = {
            "motion_b.rig": request(store, b=smooth_motion(200, 2, "flame56"), rig_b="flame56"),
            "motion_b.num_frames": request(store, b=smooth_motion(150, 2)),
            "motion_b": unlabelled,
            "motion_a.artifact.uri": no_a,
            "timeline": no_tl,
            "num_steps": request(store, num_steps=0),
            "blocks[1]": request(store, blocks=[pb.REFINER_BLOCK_TCR, 7]),
            "strength": request(store, strength=1.5),
            "guidance": request(store, guidance=-1.0),
            "features_b.artifact.uri": request(store, features_a=features(store, 200)),
            "features_a.dim": request(
                store,
                features_a=features(store, 200, dim=768),
                features_b=features(store, 200),
            ),
            "model_id": request(store, model_id="../x"),
        }
        for steps in (-1, 1001):
            cases[f"num_steps={steps}"] = request(store, num_steps=steps)
        for name, req in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.RefineMotion(req, timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, e.value.details())
            field = dict(e.value.trailing_metadata())["dyad-error-field"]
            assert field == name.split("=")[0], (name, field)

    serve(tmp_path, t)


def test_cli_refine(tmp_path: Path) -> None:
    (tmp_path / "timeline.json").write_text(json.dumps(make_timeline().to_dict()))
    save_motion(tmp_path / "a.npz", smooth_motion(200, 1), "arkit55")
    save_motion(tmp_path / "b.npz", smooth_motion(200, 2), "arkit55")
    base = ["refine", "--motion-a", str(tmp_path / "a.npz"), "--motion-b", str(tmp_path / "b.npz")]
    base += ["--timeline", str(tmp_path / "timeline.json")]
    r = run_cli(*base, "--fast", "--blocks", "sfbg,rfbg,tcr", "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["frames"], info["steps"], info["blocks"]) == (200, 10, ["sfbg", "rfbg", "tcr"])
    m = load_motion(tmp_path / "out" / "motion_b.npz")
    assert m.rig.name == "arkit55" and m.motion.shape == (200, 55)


def test_cli_refine_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "timeline.json").write_text(json.dumps(make_timeline().to_dict()))
    save_motion(tmp_path / "a.npz", smooth_motion(200, 1), "arkit55")
    save_motion(tmp_path / "b.npz", smooth_motion(150, 2), "arkit55")
    save_motion(tmp_path / "f.npz", smooth_motion(200, 2, "flame56"), "flame56")
    base = [
        "refine",
        "--motion-a",
        str(tmp_path / "a.npz"),
        "--timeline",
        str(tmp_path / "timeline.json"),
        "--out",
        str(tmp_path / "x"),
    ]
    cases = {
        "--steps": ["--motion-b", str(tmp_path / "a.npz"), "--steps", "0"],
        "--blocks": ["--motion-b", str(tmp_path / "a.npz"), "--blocks", "sfbg,nope"],
        "--motion-b": ["--motion-b", str(tmp_path / "b.npz")],  # 150 frames vs 200
        "--features-b": ["--motion-b", str(tmp_path / "a.npz"), "--features-a", "x.npy"],
    }
    for flag, extra in cases.items():
        assert main([*base, *extra]) == 2, flag
        assert capsys.readouterr().err.startswith(f"dyad: {flag}"), flag
    assert main([*base, "--motion-b", str(tmp_path / "f.npz")]) == 2  # rig mismatch
    assert "rig flame56" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
