"""The adversarial probe's cases against the stage servers, as regressions (issue 16): a WAV
claiming 2^31 − 1 Hz to every stage that reads audio, a 0-byte motion file to the refiner, and
what a request claims about its clips (an out-of-range ``Speaker``, negative counts) — each
INVALID_ARGUMENT naming the field, where they were INTERNAL (MemoryError, EOFError) or echoed."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.config import PlatformSettings
from dyad.media import wav_bytes
from dyad.motion_io import motion_bytes
from dyad.services.audio_encoder.__main__ import build_server as audio_server
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.motion.__main__ import build_server as motion_server
from dyad.services.motion.settings import MotionSettings
from dyad.services.refiner.__main__ import build_server as refiner_server
from dyad.services.refiner.settings import RefinerSettings
from dyad.services.renderer.__main__ import build_server as renderer_server
from dyad.services.renderer.settings import RendererSettings
from dyad.storage import LocalStore
from dyad.testing.contract import rpc_error
from dyad.testing.grpc import with_server
from dyad.v1 import audio_encoder_service_pb2 as audio_pb
from dyad.v1 import audio_encoder_service_pb2_grpc as audio_grpc
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2 as motion_pb
from dyad.v1 import motion_service_pb2_grpc as motion_grpc
from dyad.v1 import refiner_service_pb2 as refiner_pb
from dyad.v1 import refiner_service_pb2_grpc as refiner_grpc
from dyad.v1 import renderer_service_pb2 as renderer_pb
from dyad.v1 import renderer_service_pb2_grpc as renderer_grpc

REF = c.ArtifactRef(uri="file:///nowhere/cas/sha256/00/" + "0" * 64)


def clip(**kw: Any) -> c.MotionClip:
    return c.MotionClip(rig="arkit55", **{"artifact": REF, **kw})


def expect_invalid(build: Any, stub_class: Any, method: str, request: Any, field: str) -> None:
    async def test(channel: grpc.aio.Channel) -> None:
        err = await rpc_error(getattr(stub_class(channel), method)(request, timeout=30))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
        assert (err.details() or "").startswith(f"{field}: "), err.details()

    with_server(build, test)


def platform(tmp_path: Path) -> PlatformSettings:
    return PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)


@pytest.mark.parametrize("speaker", [3, 7, -1])
def test_an_unknown_speaker_is_refused_not_echoed(tmp_path: Path, speaker: int) -> None:
    track = c.AudioTrack(speaker=speaker, artifact=REF)  # type: ignore[arg-type]
    expect_invalid(
        audio_server(platform(tmp_path), AudioEncoderSettings()),
        audio_grpc.AudioEncoderServiceStub,
        "EncodeAudio",
        audio_pb.EncodeAudioRequest(tracks=[track]),
        "tracks[0].speaker",
    )


def test_negative_counts_are_refused(tmp_path: Path) -> None:
    timeline = c.Timeline(duration_s=1.0)
    expect_invalid(
        refiner_server(platform(tmp_path), RefinerSettings()),
        refiner_grpc.RefinerServiceStub,
        "RefineMotion",
        refiner_pb.RefineMotionRequest(
            motion_a=clip(num_frames=-1), motion_b=clip(), timeline=timeline
        ),
        "motion_a.num_frames",
    )
    expect_invalid(
        renderer_server(platform(tmp_path), RendererSettings(backend="cpu")),
        renderer_grpc.RendererServiceStub,
        "RenderVideo",
        renderer_pb.RenderVideoRequest(motion_a=clip(), motion_b=clip(fps=-25)),
        "motion_b.fps",
    )


def hostile_store(tmp_path: Path) -> tuple[c.ArtifactRef, c.ArtifactRef, c.ArtifactRef]:
    """(a WAV whose header claims 2^31 − 1 Hz, a 0-byte file, a valid motion file) in the
    store the servers use."""
    store = LocalStore(tmp_path / "store")
    good = wav_bytes(np.zeros(16000, np.float32), 16000)
    hostile = good[:24] + struct.pack("<I", 2**31 - 1) + good[28:]
    motion = motion_bytes(np.zeros((25, 55), np.float32), "arkit55")
    refs = [store.put_bytes(b) for b in (hostile, b"", motion)]
    return refs[0].to_proto(), refs[1].to_proto(), refs[2].to_proto()


def test_a_wav_claiming_2_31_hz_is_invalid_at_every_stage_that_reads_audio(
    tmp_path: Path,
) -> None:
    hostile, _, motion = hostile_store(tmp_path)
    track = c.AudioTrack(speaker=c.SPEAKER_A, artifact=hostile)
    expect_invalid(
        audio_server(platform(tmp_path), AudioEncoderSettings()),
        audio_grpc.AudioEncoderServiceStub,
        "EncodeAudio",
        audio_pb.EncodeAudioRequest(tracks=[track]),
        "tracks[0].artifact",
    )
    expect_invalid(
        motion_server(platform(tmp_path), MotionSettings()),
        motion_grpc.MotionServiceStub,
        "GenerateMotion",
        motion_pb.GenerateMotionRequest(
            track_a=track, track_b=track, timeline=c.Timeline(duration_s=1.0)
        ),
        "track_a",
    )
    expect_invalid(
        renderer_server(platform(tmp_path), RendererSettings(backend="cpu")),
        renderer_grpc.RendererServiceStub,
        "RenderVideo",
        renderer_pb.RenderVideoRequest(
            motion_a=clip(artifact=motion), motion_b=clip(artifact=motion), audio=hostile
        ),
        "audio",
    )


def test_a_zero_byte_motion_file_is_invalid_for_the_refiner(tmp_path: Path) -> None:
    _, empty, motion = hostile_store(tmp_path)
    expect_invalid(
        refiner_server(platform(tmp_path), RefinerSettings()),
        refiner_grpc.RefinerServiceStub,
        "RefineMotion",
        refiner_pb.RefineMotionRequest(
            motion_a=clip(artifact=empty),
            motion_b=clip(artifact=motion),
            timeline=c.Timeline(duration_s=1.0),
        ),
        "motion_a",
    )
