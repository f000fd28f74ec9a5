"""The Job API on Ray Serve (the session's served stack), through the gRPC proxy, driven by the
SDK, with a batch worker completing the jobs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis

from dyad import errors
from dyad.client import DyadClient
from dyad.queue import JobQueue, QueueConfig
from dyad.services.gateway.tests.stack import BLUE, RED
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Worker
from dyad.testing import ServedStack

pytestmark = pytest.mark.integration


def test_submit_watch_and_errors_through_the_proxy(served: ServedStack, tmp_path: Path) -> None:
    port, store = served.grpc_port, served.store
    q = JobQueue(
        redis.Redis.from_url(served.redis.url, decode_responses=True),
        QueueConfig(prefix=served.QUEUE_PREFIX),
    )
    worker = Worker(
        q, store, ToyRunner(0.05), WorkerSettings(heartbeat_interval_s=0.5, claim_block_s=0.1)
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        with DyadClient(f"127.0.0.1:{port}", RED, timeout=60, application="gateway") as client:
            job = client.submit("A chat through Ray Serve", idempotency_key="ray-1")
            again = client.submit("A chat through Ray Serve", idempotency_key="ray-1")
            assert job.created and again.created is False and again.job_id == job.job_id
            with pytest.raises(errors.AlreadyExists):
                client.submit("x", idempotency_key="ray-1")
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
