"""The refiner on a real local Ray Serve: windows batched across requests by ``@serve.batch``
give what the in-process pipeline gives; bad input is INVALID_ARGUMENT through the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from dyad.motion_io import load_motion
from dyad.rpc import insecure_channel
from dyad.services.refiner.core import RefinerCore
from dyad.services.refiner.settings import RefinerSettings
from dyad.storage import LocalStore
from dyad.testing import RayServe
from dyad.testing.data import make_timeline, smooth_motion
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

from .test_service import request

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # ~40 s: a local Ray


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, LocalStore]]:
    from dyad.services.refiner.deployment import build_app

    store = LocalStore(tmp_path_factory.mktemp("store"))
    env = {
        "DYAD_STORE_URI": f"file://{store.root}",
        "DYAD_REFINER_NUM_CPUS": "0.5",
        "DYAD_REFINER_BATCH_WAIT_TIMEOUT_S": "0.05",
        "DYAD_LOG_LEVEL": "WARNING",
    }
    add = "dyad.v1.refiner_service_pb2_grpc.add_RefinerServiceServicer_to_server"
    with RayServe([add], env) as rs:
        rs.run(build_app(), "refiner")
        yield rs.grpc_port, store


def test_batched_windows_match_the_in_process_pipeline(served: tuple[int, LocalStore]) -> None:
    port, store = served

    async def main() -> list[np.ndarray]:
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.RefinerServiceStub(ch)
            calls = [stub.RefineMotion(request(store, num_steps=3, seed=s), timeout=120)
                     for s in (1, 2)]  # fmt: skip
            resps = await asyncio.gather(*calls)  # two requests' windows share batches
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.RefineMotion(request(store, num_steps=1001), timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (e.value.details() or "").startswith("num_steps: ")
            return [load_motion(store.get_bytes(r.motion_a.artifact.uri)).motion for r in resps]

    served_a = asyncio.run(main())
    core = RefinerCore(None, RefinerSettings())
    for seed, got in zip((1, 2), served_a, strict=True):
        want = core.refine_arrays(smooth_motion(200, 1), smooth_motion(200, 2), make_timeline(),
                                  rig="arkit55", steps=3, seed=seed).motion_a  # fmt: skip
        np.testing.assert_allclose(got, want, atol=1e-4)
    assert not np.allclose(served_a[0], served_a[1])
