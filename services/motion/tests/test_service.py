"""The motion service over gRPC (our bootstrap) and from the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.config import PlatformSettings, settings_table
from dyad.motion_io import load_motion
from dyad.rpc import insecure_channel
from dyad.services.dialogue.speech.conversation import Conversation
from dyad.services.motion.__main__ import build_server
from dyad.services.motion.settings import PREFIX, MotionSettings
from dyad.storage import LocalStore
from dyad.v1 import motion_service_pb2 as pb
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

from .conftest import request


def with_server(tmp_path: Path, test: Any) -> None:
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    server = build_server(platform, MotionSettings())

    async def main() -> None:
        port = await server.start()
        await server.warm_up_and_serve()
        try:
            async with insecure_channel(f"127.0.0.1:{port}") as ch:
                await test(pb_grpc.MotionServiceStub(ch), LocalStore(tmp_path / "store"))
        finally:
            await server.stop(0.5)

    asyncio.run(main())


def test_generate_and_stream(conv: Conversation, tmp_path: Path) -> None:
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

    with_server(tmp_path, t)


def test_bad_requests(conv: Conversation, tmp_path: Path) -> None:
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

    with_server(tmp_path, t)


def test_cli_animate(conv: Conversation, tmp_path: Path) -> None:
    conv.write(tmp_path / "conv")
    out = tmp_path / "motion"
    args = [
        "--timeline",
        str(tmp_path / "conv" / "timeline.json"),
        "--audio-a",
        str(tmp_path / "conv" / "speaker_a.wav"),
        "--audio-b",
        str(tmp_path / "conv" / "speaker_b.wav"),
    ]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dyad.cli",
            "motion",
            "animate",
            *args,
            "--rig",
            "flame56",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["rig"] == "flame56" and info["fps"] == 25
    m = load_motion(out / "motion_a.npz")
    assert m.rig.name == "flame56" and m.num_frames == info["frames"]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "dyad.cli",
            "motion",
            "animate",
            *args[:4],
            "--audio-b",
            str(tmp_path / "nope.wav"),
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        r.returncode == 2
        and r.stderr.startswith("dyad: --audio-b")
        and not (tmp_path / "x").exists()
    )


def test_cli_dataset_synth(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    cmd = [
        sys.executable,
        "-m",
        "dyad.cli",
        "dataset",
        "synth",
        "--n",
        "2",
        "--seconds",
        "4",
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["generated"] == 2 and report["skipped"] == 0
    lines = (out / "metadata.jsonl").read_text().splitlines()
    assert len(lines) == 2
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert json.loads(again.stdout.strip().splitlines()[-1])["skipped"] == 2
    bad = subprocess.run([*cmd[:6], "0", *cmd[7:]], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("dyad: --n")


def test_readme_settings_table_is_current() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert settings_table(MotionSettings, prefix=PREFIX) in readme
