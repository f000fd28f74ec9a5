"""A Serve deployment driven past capacity answers RESOURCE_EXHAUSTED at once (its
``max_queued_requests``, from the Serve config) instead of queueing without bound until callers
time out — and the worker's client treats that as retryable.

One refiner replica of the Serve config on a local Ray, fixed at one replica with room for one
call in flight and one queued; six long RefineMotion calls at once through Serve's gRPC proxy.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from fault_support import long_request

from dyad.errors import ResourceExhausted
from dyad.rpc.client import error_from_rpc
from dyad.storage import LocalStore
from dyad.testing import RayServe
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

pytestmark = [pytest.mark.faults, pytest.mark.integration]

CAPACITY = {
    "max_ongoing_requests": 1,
    "max_queued_requests": 1,
    "num_replicas": 1,
    "autoscaling_config": None,
}


def test_a_deployment_past_capacity_answers_resource_exhausted_at_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with RayServe(
        ["refiner"], {"DYAD_STORE_URI": store.root_uri}, deployment={"refiner": CAPACITY}
    ) as rs:
        request = long_request(store, seconds=6.0, steps=300)
        md = (("application", "refiner"),)

        def call(i: int) -> tuple[str, float]:
            time.sleep(0.3 * i)  # in order: the first two take the replica and the queue
            t0 = time.monotonic()
            with grpc.insecure_channel(f"127.0.0.1:{rs.grpc_port}") as ch:
                try:
                    pb_grpc.RefinerServiceStub(ch).RefineMotion(request, metadata=md, timeout=300)
                    return "OK", time.monotonic() - t0
                except grpc.RpcError as e:
                    if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                        # What the worker's stage client makes of it: retryable.
                        assert isinstance(error_from_rpc(e), ResourceExhausted)
                    return e.code().name, time.monotonic() - t0

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(call, range(6)))
        codes = [code for code, _ in results]
        assert codes.count("OK") == 2, results
        assert codes.count("RESOURCE_EXHAUSTED") == 4, results
        # Refused at once, not after waiting for the replica.
        assert max(t for code, t in results if code != "OK") < 5.0, results
