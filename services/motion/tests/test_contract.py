"""The service contract (``dyad.testing.contract``) on the motion server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dyad.services.motion.__main__ import build_server
from dyad.services.motion.settings import MotionSettings
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2 as pb
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

EMPTY = pb.GenerateMotionRequest(timeline=c.Timeline(duration_s=1.0))


class TestServiceContract(ServiceContract):
    stub = pb_grpc.MotionServiceStub
    service_name = "dyad.v1.MotionService"

    build_server = staticmethod(build_server)
    settings = MotionSettings()

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "GenerateMotion", EMPTY, "track_a.artifact.uri"

    def bad_stream(self, tmp_path: Path) -> BadCall:
        return "StreamMotion", EMPTY, "track_a.artifact.uri"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.core, "animate", monkeypatch)
        track = c.AudioTrack(artifact=c.ArtifactRef(uri="file:///nowhere.wav"))
        request = pb.GenerateMotionRequest(track_a=track, track_b=track, timeline=EMPTY.timeline)
        return "GenerateMotion", request
