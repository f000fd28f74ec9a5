"""The service contract (``dyad.testing.contract``) on the audio encoder server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dyad.services.audio_encoder.__main__ import build_server
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import audio_encoder_service_pb2 as pb
from dyad.v1 import audio_encoder_service_pb2_grpc as pb_grpc
from dyad.v1 import common_pb2 as c


class TestServiceContract(ServiceContract):
    stub = pb_grpc.AudioEncoderServiceStub
    service_name = "dyad.v1.AudioEncoderService"

    build_server = staticmethod(build_server)
    settings = AudioEncoderSettings()

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "EncodeAudio", pb.EncodeAudioRequest(), "tracks"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.service, "encode_artifacts", monkeypatch)
        track = c.AudioTrack(artifact=c.ArtifactRef(uri="file:///nowhere.wav"))
        return "EncodeAudio", pb.EncodeAudioRequest(tracks=[track])
