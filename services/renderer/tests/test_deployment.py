"""The renderer on Ray Serve (the session's served stack): the service contract through the
proxy, unary and streaming (rendering itself is tested in-process and in the served
pipeline)."""

from __future__ import annotations

import pytest

from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.v1 import renderer_service_pb2 as pb
from dyad.v1 import renderer_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def test_service_contract_through_the_proxy(served: ServedStack) -> None:
    bad = pb.RenderVideoRequest(head_size_px=-1)
    host = pb.RenderVideoRequest(avatar_a_uri="file:///etc")  # only the store's keys
    calls = [
        ("RenderVideo", bad, "head_size_px"),
        ("StreamFrames", bad, "head_size_px"),
        ("RenderVideo", host, "avatar_a_uri"),
        ("StreamFrames", pb.RenderVideoRequest(avatar_b_uri="/etc"), "avatar_b_uri"),
    ]
    check_served(
        served.grpc_port, "renderer", pb_grpc.RendererServiceStub, "dyad.v1.RendererService", calls
    )
