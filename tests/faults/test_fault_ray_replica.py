"""A Ray Serve replica killed in the middle of a request: the worker's stage call sees a
retryable status and succeeds on the replacement replica.

One application of the Serve config (the refiner, as ``dyad serve`` fits it to 2 CPUs) on a
local Ray. A long RefineMotion goes through Serve's gRPC proxy from the worker's own
``ServedStages`` (its ``RetryPolicy`` and error mapping); while it computes, the replica's
actor is killed (``ray.kill``). The call must fail UNAVAILABLE (retryable: counted by
``dyad_stage_call_retries_total``), be retried, and return what an undisturbed call returns.
Without the worker's mapping, Serve's proxy answers INTERNAL (with Ray's actor id, pid and
address in the details) and the stage fails at once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fault_support import long_request

from dyad.observability import stage_metrics
from dyad.services.worker.pipeline.served import STUBS, RetryPolicy, ServedStages
from dyad.storage import LocalStore
from dyad.testing import RayServe

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def replicas() -> list[Any]:
    import ray

    return [
        ray.get_actor(a["name"], namespace=a["namespace"])
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["name"].startswith("SERVE_REPLICA::refiner#")
    ]


def retries(code: str) -> float:
    return float(stage_metrics().retries.labels("refiner", code)._value.get())


def test_a_replica_killed_mid_request_is_retried_and_the_call_succeeds(tmp_path: Path) -> None:
    import ray

    store = LocalStore(tmp_path / "store")
    with RayServe(["refiner"], {"DYAD_STORE_URI": store.root_uri}) as rs:
        request = long_request(store, seconds=6.0, steps=600)
        proxy = f"127.0.0.1:{rs.grpc_port}"
        # The worker's own client: every stage behind Serve's proxy, routed by application.
        stages = ServedStages(
            store,
            dict.fromkeys(STUBS, proxy),
            timeout_s=600.0,
            retry=RetryPolicy(retries=6, base_s=1.0, max_s=8.0),
        )
        killed = threading.Event()

        def killer() -> None:
            time.sleep(3.0)  # the first attempt is computing
            (victim,) = replicas()
            ray.kill(victim, no_restart=True)
            killed.set()

        before = {code: retries(code) for code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED")}
        t = threading.Thread(target=killer)
        t.start()
        t0 = time.monotonic()
        try:
            resp = stages._call("refiner", "RefineMotion", request)
        finally:
            t.join()
        took = time.monotonic() - t0
        assert killed.is_set()
        unavailable = retries("UNAVAILABLE") - before["UNAVAILABLE"]
        assert unavailable >= 1, "the kill did not reach the call in flight as UNAVAILABLE"
        # The replacement replica answered; the result is what an undisturbed call gives.
        again = stages._call("refiner", "RefineMotion", request)
        stages.close()
        assert resp.motion_a.artifact.sha256 == again.motion_a.artifact.sha256
        assert resp.motion_b.artifact.sha256 == again.motion_b.artifact.sha256
        assert store.get_bytes(resp.motion_a.artifact.uri)
        print(f"\nreplica kill: {unavailable:g} UNAVAILABLE retr(ies), succeeded in {took:.1f} s")
