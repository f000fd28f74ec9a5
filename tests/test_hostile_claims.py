"""What a request claims about its clips is checked, not echoed (issue 16, the probe's minor
cases): an out-of-range ``Speaker`` and negative counts are INVALID_ARGUMENT naming the field,
on every stage that takes clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from dyad.config import PlatformSettings
from dyad.services.audio_encoder.__main__ import build_server as audio_server
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.refiner.__main__ import build_server as refiner_server
from dyad.services.refiner.settings import RefinerSettings
from dyad.services.renderer.__main__ import build_server as renderer_server
from dyad.services.renderer.settings import RendererSettings
from dyad.testing.contract import rpc_error
from dyad.testing.grpc import with_server
from dyad.v1 import audio_encoder_service_pb2 as audio_pb
from dyad.v1 import audio_encoder_service_pb2_grpc as audio_grpc
from dyad.v1 import common_pb2 as c
from dyad.v1 import refiner_service_pb2 as refiner_pb
from dyad.v1 import refiner_service_pb2_grpc as refiner_grpc
from dyad.v1 import renderer_service_pb2 as renderer_pb
from dyad.v1 import renderer_service_pb2_grpc as renderer_grpc

REF = c.ArtifactRef(uri="file:///nowhere/cas/sha256/00/" + "0" * 64)


def clip(**kw: Any) -> c.MotionClip:
    return c.MotionClip(rig="arkit55", artifact=REF, **kw)


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
