"""The motion service on Ray Serve (the session's served stack): unary and server-streaming
through the proxy, and the service contract there."""

from __future__ import annotations

import asyncio

import pytest

from dyad.rpc import insecure_channel
from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2 as pb
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

from .conftest import request
from .spoken import Spoken

pytestmark = pytest.mark.integration
APP = (("application", "motion"),)


def test_generate_and_stream_through_the_proxy(served: ServedStack, conv: Spoken) -> None:
    store = served.store

    async def main() -> None:
        async with insecure_channel(served.endpoint) as ch:
            stub = pb_grpc.MotionServiceStub(ch)
            req = request(conv, store, seed=1)
            resp = await stub.GenerateMotion(req, metadata=APP, timeout=120)
            assert resp.motion_a.num_frames > 100 and store.exists(resp.motion_b.artifact.uri)
            chunks = [c async for c in stub.StreamMotion(req, metadata=APP, timeout=120)]
            assert sum(c.num_frames for c in chunks) == resp.motion_a.num_frames

    asyncio.run(main())


def test_service_contract_through_the_proxy(served: ServedStack, conv: Spoken) -> None:
    bad_rig = request(conv, served.store, rig="mixamo")
    no_tracks = pb.GenerateMotionRequest(timeline=c.Timeline(duration_s=1.0))
    calls = [
        ("GenerateMotion", bad_rig, "rig"),
        ("StreamMotion", bad_rig, "rig"),
        ("StreamMotion", no_tracks, "track_a.artifact.uri"),
    ]
    check_served(
        served.grpc_port, "motion", pb_grpc.MotionServiceStub, "dyad.v1.MotionService", calls
    )
