"""The motion service on a real local Ray Serve: unary and server-streaming through the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest

from dyad.rpc import insecure_channel
from dyad.services.dialogue.speech.conversation import Conversation
from dyad.storage import LocalStore
from dyad.testing import RayServe
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

from .conftest import request

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, LocalStore]]:
    from dyad.services.motion.deployment import build_app

    store = LocalStore(tmp_path_factory.mktemp("store"))
    env = {
        "DYAD_STORE_URI": f"file://{store.root}",
        "DYAD_MOTION_NUM_CPUS": "0.5",
        "DYAD_LOG_LEVEL": "WARNING",
    }
    add = "dyad.v1.motion_service_pb2_grpc.add_MotionServiceServicer_to_server"
    with RayServe([add], env) as rs:
        rs.run(build_app(), "motion")
        yield rs.grpc_port, store


def test_generate_and_stream_through_the_proxy(
    served: tuple[int, LocalStore], conv: Conversation
) -> None:
    port, store = served

    async def main() -> None:
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.MotionServiceStub(ch)
            resp = await stub.GenerateMotion(request(conv, store, seed=1), timeout=120)
            assert resp.motion_a.num_frames > 100 and store.exists(resp.motion_b.artifact.uri)
            chunks = [c async for c in stub.StreamMotion(request(conv, store, seed=1), timeout=120)]
            assert sum(c.num_frames for c in chunks) == resp.motion_a.num_frames
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.GenerateMotion(request(conv, store, rig="mixamo"), timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (e.value.details() or "").startswith("rig: ")

    asyncio.run(main())
