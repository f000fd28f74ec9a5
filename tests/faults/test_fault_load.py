"""Load and back-pressure.

- 200 jobs submitted through the Job API (the standalone gateway) by 8 client threads, run
  by 2 worker processes (the toy runner: three real stages, an MP4 on moto S3): every job
  completes exactly once and the queue drains;
- a stage server driven past ``DYAD_GRPC_MAX_CONCURRENT_RPCS`` refuses the extra calls with
  RESOURCE_EXHAUSTED at once, rather than queueing them until they time out, and its memory
  does not grow with the refused calls.
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from fault_support import TOY, Workers, assert_exactly_once, long_request, start_refiner, wait_for

from dyad.client import DyadClient
from dyad.queue import JobStatus
from dyad.services.gateway.tests.stack import RED, start_stack
from dyad.storage import LocalStore
from dyad.testing import RedisServer, S3Server
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

pytestmark = [pytest.mark.faults, pytest.mark.integration]

JOBS, CLIENTS = 200, 8


def test_200_jobs_from_8_clients_complete_exactly_once_and_the_queue_drains(
    redis_server: RedisServer, s3_server: S3Server, workers: Workers, tmp_path: Path
) -> None:
    stack, gateway = start_stack(redis_server.url, tmp_path / "store", s3_server)
    try:
        env = {
            **stack.env,
            "DYAD_LOG_LEVEL": "WARNING",
            "DYAD_WORKER_RUNNER": TOY,
            "DYAD_WORKER_HEARTBEAT_INTERVAL_S": "0.5",
            "DYAD_WORKER_CLAIM_BLOCK_S": "0.2",
            "DYAD_TOY_STAGE_S": "0",
        }
        for name in ("w1", "w2"):
            workers.spawn(env, name)
        latencies: list[float] = []
        lock = threading.Lock()

        def client(k: int) -> list[str]:
            ids = []
            with DyadClient(stack.endpoint, RED, timeout=30) as c:
                for i in range(JOBS // CLIENTS):
                    t0 = time.perf_counter()
                    job = c.submit(f"load {k}-{i}", idempotency_key=f"load-{k}-{i}")
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                    assert job.created
                    ids.append(job.job_id)
            return ids

        with ThreadPoolExecutor(CLIENTS) as pool:
            ids = [j for part in pool.map(client, range(CLIENTS)) for j in part]
        assert len(ids) == len(set(ids)) == JOBS
        q = stack.queue

        def succeeded() -> int:
            return sum(q.get(j).status == JobStatus.SUCCEEDED for j in ids)

        wait_for(lambda: succeeded() == JOBS, 600, f"{JOBS} jobs", workers.logs)
        for j in ids:
            assert_exactly_once(q, stack.store, j)
        assert {q.get(j).worker for j in ids} == {"w1", "w2"}, "both workers took jobs"
        assert all(q.get(j).attempts == 1 for j in ids), "a job was delivered twice"
        stats = q.stats()
        assert stats["delayed"] == 0 and stats["dead"] == 0, stats
        assert all(s == {"lag": 0, "pending": 0} for s in stats.values() if isinstance(s, dict))
        assert q.claim("anyone", block_s=0.1) is None
        assert all(p.poll() is None for p, _ in workers.procs), "a worker died"
        lat = sorted(latencies)
        print(
            f"\nload: {JOBS} jobs, submit p50 {statistics.median(lat) * 1e3:.1f} ms, "
            f"p95 {lat[int(0.95 * len(lat))] * 1e3:.1f} ms"
        )
    finally:
        gateway.__exit__()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_stage_past_its_concurrency_bound_answers_resource_exhausted(tmp_path: Path) -> None:
    bound, extra = 2, 16
    store = LocalStore(tmp_path / "store")
    proc, port, log = start_refiner(
        tmp_path, DYAD_GRPC_MAX_CONCURRENT_RPCS=str(bound), DYAD_GRPC_GRACE_S="0"
    )
    try:
        request = long_request(store)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.RefinerServiceStub(ch)
            busy = [stub.RefineMotion.future(request, timeout=300) for _ in range(bound)]
            time.sleep(2.0)  # both are computing
            assert not any(f.done() for f in busy), [f.exception() for f in busy if f.done()]
            rss_before = rss_kib(proc.pid)

            def refused(_: int) -> tuple[Any, float]:
                t0 = time.perf_counter()
                try:
                    stub.RefineMotion(request, timeout=60)
                    return grpc.StatusCode.OK, time.perf_counter() - t0
                except grpc.RpcError as e:
                    return e.code(), time.perf_counter() - t0

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(refused, range(extra)))
            codes = [code for code, _ in answers]
            assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED] * extra, codes
            assert max(s for _, s in answers) < 5.0, answers  # at once, not after a queue
            grown = rss_kib(proc.pid) - rss_before
            assert grown < 50 * 1024, f"RSS grew {grown} KiB with refused calls"
            assert not any(f.done() for f in busy), "the calls in flight were disturbed"
            print(
                f"\nbound {bound}: {extra} refused, slowest answer "
                f"{max(s for _, s in answers):.3f} s, RSS +{grown} KiB"
            )
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
