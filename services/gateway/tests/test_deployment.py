"""The gateway on a real local Ray Serve, through the gRPC proxy, driven by the SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from dyad import errors
from dyad.client import DyadClient
from dyad.queue import JobQueue, QueueConfig
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Worker
from dyad.storage import LocalStore
from dyad.testing import RayServe, RedisServer

from .conftest import BLUE, RED, TOKENS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, JobQueue, LocalStore]]:
    from dyad.services.gateway.deployment import build_app

    store = LocalStore(tmp_path_factory.mktemp("store"))
    with RedisServer() as rs:
        env = {
            "DYAD_STORE_URI": store.root_uri,
            "DYAD_REDIS_URL": rs.url,
            "DYAD_QUEUE_PREFIX": "t",
            "DYAD_GATEWAY_TOKENS": TOKENS,
            "DYAD_GATEWAY_WATCH_POLL_S": "0.2",
            "DYAD_GATEWAY_NUM_CPUS": "0.5",
            "DYAD_LOG_LEVEL": "WARNING",
        }
        add = "dyad.v1.job_service_pb2_grpc.add_JobServiceServicer_to_server"
        with RayServe([add], env) as ray_serve:
            ray_serve.run(build_app(), "gateway")
            q = JobQueue(
                redis.Redis.from_url(rs.url, decode_responses=True), QueueConfig(prefix="t")
            )
            yield ray_serve.grpc_port, q, store


def test_submit_watch_and_errors_through_the_proxy(
    served: tuple[int, JobQueue, LocalStore], tmp_path: Path
) -> None:
    port, q, store = served
    worker = Worker(
        q, store, ToyRunner(0.05), WorkerSettings(heartbeat_interval_s=0.5, claim_block_s=0.1)
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        with DyadClient(f"127.0.0.1:{port}", RED, timeout=60, application="gateway") as client:
            job = client.submit("A chat through Ray Serve", idempotency_key="ray-1")
            assert job.created and client.submit("x", idempotency_key="ray-1").created is False
            stages: list[str] = []
            final = client.watch(job.job_id, on_progress=lambda ev: stages.append(ev.stage))
            assert final.succeeded and {"speech", "motion", "render"} <= set(stages)
            files = client.download(final, tmp_path)
            assert files["video"].read_bytes() == store.get_bytes(final.result_uris["video"])
            with pytest.raises(errors.InvalidInput) as e:
                client.submit("x" * 10_000)
            assert e.value.field == "prompt"
            with pytest.raises(errors.NotFound):
                client.get("0123456789abcdef")
        with DyadClient(f"127.0.0.1:{port}", BLUE, timeout=60, application="gateway") as other:
            with pytest.raises(errors.PermissionDenied):
                other.get(job.job_id)
            with pytest.raises(errors.PermissionDenied):  # a stream maps its errors too
                list(other.events(job.job_id))
        with (
            DyadClient(f"127.0.0.1:{port}", "no-such-token-0123456", application="gateway") as anon,
            pytest.raises(errors.Unauthenticated),
        ):
            anon.get(job.job_id)
    finally:
        worker.stop(0)
        thread.join(10)
