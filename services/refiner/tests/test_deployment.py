"""The refiner on Ray Serve (the session's served stack): windows batched across requests by
``@serve.batch`` give what the in-process pipeline gives; the contract holds through the proxy."""

from __future__ import annotations

import asyncio

import grpc
import numpy as np
import pytest

from dyad.motion_io import load_motion
from dyad.rpc import insecure_channel
from dyad.services.refiner.core import RefinerCore
from dyad.services.refiner.settings import RefinerSettings
from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.testing.data import make_timeline, smooth_motion
from dyad.v1 import refiner_service_pb2 as pb
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

from .test_service import request

pytestmark = pytest.mark.integration
APP = (("application", "refiner"),)


def test_batched_windows_match_the_in_process_pipeline(served: ServedStack) -> None:
    store = served.store

    async def main() -> list[np.ndarray]:
        async with insecure_channel(served.endpoint) as ch:
            stub = pb_grpc.RefinerServiceStub(ch)
            calls = [
                stub.RefineMotion(request(store, num_steps=3, seed=s), metadata=APP, timeout=120)
                for s in (1, 2)
            ]
            resps = await asyncio.gather(*calls)  # two requests' windows share batches
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.RefineMotion(request(store, num_steps=1001), metadata=APP, timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (e.value.details() or "").startswith("num_steps: ")
            return [load_motion(store.get_bytes(r.motion_a.artifact.uri)).motion for r in resps]

    served_a = asyncio.run(main())
    core = RefinerCore(None, RefinerSettings())
    for seed, got in zip((1, 2), served_a, strict=True):
        pair = core.refine_arrays(
            smooth_motion(200, 1),
            smooth_motion(200, 2),
            make_timeline(),
            rig="arkit55",
            steps=3,
            seed=seed,
        )
        want = pair.motion_a
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(served_a[0], served_a[1])


def test_service_contract_through_the_proxy(served: ServedStack) -> None:
    bad = ("RefineMotion", pb.RefineMotionRequest(), "motion_a.artifact.uri")
    check_served(
        served.grpc_port, "refiner", pb_grpc.RefinerServiceStub, "dyad.v1.RefinerService", [bad]
    )
