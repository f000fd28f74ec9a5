"""The service contract (``dyad.testing.contract``) on the refiner server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dyad.services.refiner.__main__ import build_server
from dyad.services.refiner.settings import RefinerSettings
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import common_pb2 as c
from dyad.v1 import refiner_service_pb2 as pb
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc


class TestServiceContract(ServiceContract):
    stub = pb_grpc.RefinerServiceStub
    service_name = "dyad.v1.RefinerService"

    build_server = staticmethod(build_server)
    settings = RefinerSettings()

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "RefineMotion", pb.RefineMotionRequest(), "motion_a.artifact.uri"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.core, "refine", monkeypatch)
        clip = c.MotionClip(artifact=c.ArtifactRef(uri="file:///nowhere.npz"))
        request = pb.RefineMotionRequest(
            motion_a=clip, motion_b=clip, timeline=c.Timeline(duration_s=1.0)
        )
        return "RefineMotion", request
