"""The service contract (``dyad.testing.contract``) on the renderer server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dyad.services.renderer.__main__ import build_server
from dyad.services.renderer.settings import RendererSettings
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import common_pb2 as c
from dyad.v1 import renderer_service_pb2 as pb
from dyad.v1 import renderer_service_pb2_grpc as pb_grpc


class TestServiceContract(ServiceContract):
    stub = pb_grpc.RendererServiceStub
    service_name = "dyad.v1.RendererService"

    build_server = staticmethod(build_server)
    settings = RendererSettings()

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "RenderVideo", pb.RenderVideoRequest(head_size_px=-1), "head_size_px"

    def bad_stream(self, tmp_path: Path) -> BadCall:
        return "StreamFrames", pb.RenderVideoRequest(head_size_px=-1), "head_size_px"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.core, "render_request", monkeypatch)
        clip = c.MotionClip(artifact=c.ArtifactRef(uri="file:///nowhere.npz"))
        return "RenderVideo", pb.RenderVideoRequest(motion_a=clip, motion_b=clip)
