"""A busy stage server stops within its grace period on SIGTERM.

A standalone refiner (``python -m dyad.services.refiner``, ``DYAD_GRPC_GRACE_S=1``) is given a
call that computes for far longer than the grace period (1000 denoising steps over a minute of
two-person motion), then SIGTERMed mid-call. The process must exit within the grace period
plus a small margin, with code 0, and the caller must get a clean status — grpc's drain
answers UNAVAILABLE "Cancelling all calls" (CANCELLED is accepted too), not a hang and not
INTERNAL; the worker's stage client (``ServedStages``) must see that as
retryable UNAVAILABLE, never as ``Cancelled`` (which would cancel the user's job). Before the
fix the drain cancelled the RPC but ``asyncio.run`` waited for the computing thread, so the
process lived on for the rest of the computation.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from fault_support import long_request, start_refiner

from dyad.errors import DyadError, Unavailable
from dyad.services.worker.pipeline.served import STUBS, RetryPolicy, ServedStages
from dyad.storage import LocalStore
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

pytestmark = [pytest.mark.faults, pytest.mark.integration]

GRACE_S = 1.0
#: Exit within the grace period plus this (interpreter exit, log flush, a loaded machine).
MARGIN_S = 4.0


def test_a_busy_server_stops_within_its_grace_period(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    proc, port, log = start_refiner(tmp_path, DYAD_GRPC_GRACE_S=str(GRACE_S))
    try:
        outcome: dict[str, Any] = {}

        def call() -> None:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = pb_grpc.RefinerServiceStub(ch)
                try:
                    stub.RefineMotion(long_request(store), timeout=300)
                    outcome["code"] = grpc.StatusCode.OK
                except grpc.RpcError as e:
                    outcome["code"], outcome["details"] = e.code(), e.details()
                outcome["at"] = time.monotonic()

        def worker_call() -> None:
            # The same kind of call from the worker's client, no retries: what the job sees.
            stages = ServedStages(
                store,
                dict.fromkeys(STUBS, f"127.0.0.1:{port}"),
                route_by_application=False,
                retry=RetryPolicy(retries=0),
            )
            try:
                stages._call("refiner", "RefineMotion", long_request(store, steps=999))
            except DyadError as e:
                outcome["worker_error"] = e
            finally:
                stages.close()

        callers = [threading.Thread(target=call), threading.Thread(target=worker_call)]
        for caller in callers:
            caller.start()
        time.sleep(3.0)  # both calls are computing
        assert not outcome, f"a call ended before SIGTERM: {outcome}"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server was still running 60 s after SIGTERM") from None
        took = time.monotonic() - t0
        for caller in callers:
            caller.join(30)
            assert not caller.is_alive(), "a caller hangs"
        assert took <= GRACE_S + MARGIN_S, f"exited {took:.1f} s after SIGTERM\n{log.read_text()}"
        assert code == 0, log.read_text()
        assert outcome["code"] in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE), outcome
        assert outcome["at"] - t0 <= GRACE_S + MARGIN_S, outcome
        assert "abandoned" in log.read_text()
        print(f"\nSIGTERM: exited {took:.2f} s after (grace {GRACE_S} s): {outcome['code']}")
        # Retryable for the worker, never Cancelled (which would cancel the user's job).
        err = outcome["worker_error"]
        assert isinstance(err, Unavailable) and err.retryable, repr(err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
