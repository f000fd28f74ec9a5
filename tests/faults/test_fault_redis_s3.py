"""The queue's and the store's servers fail under a running batch.

- redis-server SIGKILLed mid-batch and restarted from its AOF: every job succeeds exactly
  once, none is lost, none runs to a second ``succeeded``;
- the S3 endpoint down for a while: the jobs it interrupts fail with UNAVAILABLE, are retried
  with backoff and succeed once it is back; down for good: the job ends FAILED, UNAVAILABLE "the
  artefact store is unreachable", and no manifest (whole or partial) is written.

Workers are real processes running the toy runner (three real stages writing to S3); S3 goes
down through a TCP relay in front of moto (moto's buckets live in its memory).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fault_support import TOY, Workers, all_events, assert_exactly_once, new_bucket, queue, wait_for
from fault_support import worker_env as _worker_env
from proxy import TcpRelay

from dyad.queue import JobStatus
from dyad.storage import S3Store, manifest_key
from dyad.testing import RedisServer, S3Server

pytestmark = [pytest.mark.faults, pytest.mark.integration]


def spec(i: int) -> dict[str, object]:
    return {"input": "prompt", "prompt": f"batch job {i}", "n": 1, "options": {}}


def test_redis_killed_and_restarted_from_aof_mid_batch_loses_and_duplicates_nothing(
    redis_server: RedisServer, s3_server: S3Server, bucket: S3Store, workers: Workers
) -> None:
    n = 30
    q = queue(redis_server, visibility_timeout_s=3.0)
    ids = [q.submit(spec(i))[0].job_id for i in range(n)]
    env = _worker_env(
        redis_server,
        s3_server,
        bucket,
        DYAD_WORKER_RUNNER=TOY,
        DYAD_TOY_STAGE_S="0.15",
        DYAD_QUEUE_VISIBILITY_TIMEOUT_S="3.0",
    )
    for name in ("w1", "w2"):
        workers.spawn(env, name)

    def done() -> int:
        return sum(q.get(j).status == JobStatus.SUCCEEDED for j in ids)

    wait_for(lambda: done() >= 5, 120, "5 jobs to succeed", workers.logs)
    redis_server.kill()  # SIGKILL: only what reached the AOF survives
    time.sleep(2.0)  # workers see connection errors mid-job
    redis_server.start()  # same port, same directory: replays the AOF
    q = queue(redis_server, visibility_timeout_s=3.0)
    before = done()
    assert before >= 5, "a succeeded job was lost with the restart"
    wait_for(lambda: done() == n, 180, f"all {n} jobs to succeed", workers.logs)
    for j in ids:
        assert_exactly_once(q, bucket, j)
    assert q.claim("anyone", block_s=0.1) is None, "nothing left to deliver"
    stats = q.stats()
    assert stats["delayed"] == 0 and stats["dead"] == 0, stats
    assert all(s == {"lag": 0, "pending": 0} for k, s in stats.items() if isinstance(s, dict))
    assert all(p.poll() is None for p, _ in workers.procs), "a worker died"
    again = sum(q.get(j).attempts > 1 for j in ids)
    print(f"\nredis kill: {before}/{n} done before, {again} redelivered, {n} succeeded once")


def test_s3_down_for_a_while_jobs_retry_with_backoff_then_succeed(
    redis_server: RedisServer, s3_server: S3Server, workers: Workers
) -> None:
    n = 6
    with TcpRelay(s3_server.endpoint) as relay:
        store = new_bucket(s3_server)  # checked directly, not through the relay
        q = queue(redis_server, max_deliveries=10, backoff_base_s=0.5, backoff_max_s=4.0)
        ids = [q.submit(spec(i))[0].job_id for i in range(n)]
        env = _worker_env(
            redis_server,
            s3_server,
            store,
            relay.endpoint,
            DYAD_WORKER_RUNNER=TOY,
            DYAD_TOY_STAGE_S="0.4",
            DYAD_QUEUE_MAX_DELIVERIES="10",
            DYAD_QUEUE_BACKOFF_BASE_S="0.5",
            DYAD_QUEUE_BACKOFF_MAX_S="4.0",
        )
        workers.spawn(env, "w1")

        def count(status: JobStatus) -> int:
            return sum(q.get(j).status == status for j in ids)

        wait_for(lambda: count(JobStatus.SUCCEEDED) >= 1, 120, "a first job", workers.logs)
        relay.down()
        wait_for(lambda: count(JobStatus.RETRYING) >= 1, 60, "a retry", workers.logs)
        time.sleep(5.0)  # the outage
        relay.up()
        wait_for(lambda: count(JobStatus.SUCCEEDED) == n, 180, "every job", workers.logs)
    retries = [e for j in ids for e in all_events(q, j) if e.status == JobStatus.RETRYING]
    assert retries, "the outage interrupted no job"
    assert all("store is unreachable" in e.message for e in retries), retries
    for j in ids:
        assert_exactly_once(q, store, j)
    stats = q.stats()
    assert stats["delayed"] == 0 and stats["dead"] == 0, stats
    print(f"\nS3 outage: {len(retries)} retries over {len({e.job_id for e in retries})} jobs")


def test_s3_down_for_good_the_job_fails_clearly_without_a_manifest(
    redis_server: RedisServer, s3_server: S3Server, workers: Workers, tmp_path: Path
) -> None:
    with TcpRelay(s3_server.endpoint) as relay:
        store = new_bucket(s3_server)
        q = queue(redis_server, max_deliveries=3, backoff_base_s=0.2)
        job = q.submit(spec(0))[0].job_id
        env = _worker_env(
            redis_server,
            s3_server,
            store,
            relay.endpoint,
            DYAD_WORKER_RUNNER=TOY,
            DYAD_TOY_STAGE_S="1.0",
            DYAD_QUEUE_MAX_DELIVERIES="3",
            DYAD_QUEUE_BACKOFF_BASE_S="0.2",
        )
        workers.spawn(env, "w1")
        wait_for(lambda: q.get(job).stages.get("speech", 0) > 0, 120, "the job", workers.logs)
        relay.down()
        wait_for(lambda: q.get(job).status.terminal, 120, "the job to end", workers.logs)
    rec = q.get(job)
    assert rec.status == JobStatus.FAILED and rec.attempts == 3, rec
    assert rec.error is not None and rec.error["code"] == "UNAVAILABLE", rec.error
    assert "store is unreachable" in rec.error["message"], rec.error
    statuses = [e.status for e in all_events(q, job)]
    assert statuses.count(JobStatus.RETRYING) == 2 and statuses[-1] == JobStatus.FAILED
    assert JobStatus.SUCCEEDED not in statuses
    assert not store.exists(manifest_key(job)), "a manifest for a failed job"
    assert q.stats()["dead"] == 1
