"""Job queue against a real redis-server (AOF on): delivery, redelivery, retries, DLQ, cancel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis

from dyad.errors import AlreadyExists, InvalidInput, NotFound
from dyad.queue import JobQueue, JobStatus, Priority, QueueConfig
from dyad.testing import RedisServer


def _queue(server: RedisServer, **cfg: float) -> JobQueue:
    config = QueueConfig(prefix="t", **cfg)  # type: ignore[arg-type]
    return JobQueue(redis.Redis.from_url(server.url, decode_responses=True), config)


def test_submit_claim_complete_with_events(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    rec, created = q.submit({"prompt": "hi"}, stages=["speech", "motion"])
    assert created and rec.status == JobStatus.QUEUED and rec.payload == {"prompt": "hi"}
    d = q.claim("w1", block_s=0.1)
    assert d is not None and d.job_id == rec.job_id and d.record.status == JobStatus.RUNNING
    d.progress("speech", 1.0)
    d.progress("motion", 0.5)
    assert q.get(rec.job_id).progress == pytest.approx(0.75)
    d.complete("s3://b/jobs/x/manifest.json", {"video": "s3://b/cas/v"})
    done = q.get(rec.job_id)
    assert done.status == JobStatus.SUCCEEDED and done.progress == 1.0
    assert done.result_uri.endswith("manifest.json") and done.result == {"video": "s3://b/cas/v"}
    events = list(q.watch(rec.job_id, timeout_s=2))
    assert [e.status for e in events] == [
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.RUNNING,
        JobStatus.RUNNING,
        JobStatus.SUCCEEDED,
    ]
    assert [(e.stage, e.stage_progress) for e in events[2:4]] == [("speech", 1.0), ("motion", 0.5)]
    assert q.stats()["normal"] == {"lag": 0, "pending": 0}
    assert q.claim("w1", block_s=0.1) is None


def test_watch_follows_a_running_job(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit({})
    seen: list[JobStatus] = []
    t = threading.Thread(
        target=lambda: seen.extend(e.status for e in q.watch(rec.job_id, block_s=0.1, timeout_s=10))
    )
    t.start()
    d = q.claim("w", block_s=0.1)
    assert d is not None
    time.sleep(0.2)
    d.complete()
    t.join(10)
    assert not t.is_alive() and seen[0] == JobStatus.QUEUED and seen[-1] == JobStatus.SUCCEEDED


def test_priority_order(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    low, _ = q.submit({"n": 1}, priority="low")
    normal, _ = q.submit({"n": 2})
    high, _ = q.submit({"n": 3}, priority=Priority.HIGH)
    order = []
    for _ in range(3):
        d = q.claim("w", block_s=0.1)
        assert d is not None
        order.append(d.job_id)
        d.complete()
    assert order == [high.job_id, normal.job_id, low.job_id]
    with pytest.raises(InvalidInput) as e:
        q.submit({}, priority="urgent")
    assert e.value.field == "priority"


def test_idempotency_key_returns_the_same_job(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    a, created_a = q.submit({"v": 1}, idempotency_key="k1", team="red")
    b, created_b = q.submit({"v": 1}, idempotency_key="k1", team="red")
    c, created_c = q.submit({"v": 3}, idempotency_key="k1", team="blue")
    assert created_a and not created_b and created_c
    assert b.job_id == a.job_id and b.payload == {"v": 1} and c.job_id != a.job_id
    # The key is bound to the request: another payload or priority is refused, naming the key.
    for kw in ({"payload": {"v": 2}}, {"payload": {"v": 1}, "priority": Priority.HIGH}):
        with pytest.raises(AlreadyExists, match="idempotency_key 'k1'"):
            q.submit(idempotency_key="k1", team="red", **kw)
    assert q.stats()["normal"]["lag"] == 2 and q.stats()["high"]["lag"] == 0


_DYING_WORKER = textwrap.dedent(
    """
    import os, sys, time, redis
    from dyad.queue import JobQueue, QueueConfig
    q = JobQueue(redis.Redis.from_url(sys.argv[1], decode_responses=True),
                 QueueConfig(prefix="t", visibility_timeout_s=float(sys.argv[2])))
    d = q.claim("doomed", block_s=5)
    print(d.job_id, flush=True)
    time.sleep(60)   # "working": killed before it can ack
    """
)


def test_killed_consumer_job_is_redelivered_after_timeout(redis_server: RedisServer) -> None:
    timeout_s = 1.0
    q = _queue(redis_server, visibility_timeout_s=timeout_s)
    rec, _ = q.submit({"work": "x"})
    worker = subprocess.Popen(
        [sys.executable, "-c", _DYING_WORKER, redis_server.url, str(timeout_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == rec.job_id
    finally:
        worker.kill()
        worker.wait()
    killed_at = time.monotonic()
    assert q.get(rec.job_id).worker == "doomed"
    # Before the visibility timeout nobody else may take it.
    assert q.claim("rescuer", block_s=0.2) is None
    d = None
    while d is None and time.monotonic() - killed_at < 10:
        d = q.claim("rescuer", block_s=0.2)
    assert d is not None and d.job_id == rec.job_id
    assert time.monotonic() - killed_at >= timeout_s * 0.9
    assert d.record.attempts == 2 and d.record.worker == "rescuer"
    d.complete()
    assert q.get(rec.job_id).status == JobStatus.SUCCEEDED
    assert q.claim("rescuer", block_s=0.1) is None, "completed exactly once"


def test_heartbeat_keeps_the_lease_and_detects_takeover(redis_server: RedisServer) -> None:
    q = _queue(redis_server, visibility_timeout_s=0.5)
    q.submit({})
    d = q.claim("slow", block_s=0.1)
    assert d is not None
    for _ in range(4):  # 1.2 s of work, heartbeating well inside the 0.5 s timeout
        time.sleep(0.3)
        assert d.heartbeat()
        assert q.claim("thief", block_s=0.01) is None
    time.sleep(0.7)  # stalls past the timeout: another worker takes over
    stolen = q.claim("thief", block_s=0.1)
    assert stolen is not None and stolen.job_id == d.job_id
    assert not d.heartbeat(), "the stalled worker must learn it lost the job"


def test_redis_restart_loses_no_enqueued_job(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    ids = {
        q.submit({"i": i}, priority=["high", "normal", "low"][i % 3])[0].job_id for i in range(60)
    }
    redis_server.kill()  # SIGKILL: only what reached the AOF survives
    redis_server.start()  # same port, same directory
    q2 = _queue(redis_server)
    got = set()
    while (d := q2.claim("after-restart", block_s=0.1)) is not None:
        got.add(d.job_id)
        d.complete()
    assert got == ids
    assert all(q2.get(j).status == JobStatus.SUCCEEDED for j in ids)


def test_failures_retry_with_backoff_then_dead_letter(redis_server: RedisServer) -> None:
    q = _queue(redis_server, max_deliveries=3, backoff_base_s=0.2, backoff_max_s=1.0)
    rec, _ = q.submit({"poison": True})
    fail_times = []
    for attempt in range(1, 4):
        d = None
        t0 = time.monotonic()
        while d is None and time.monotonic() - t0 < 5:
            d = q.claim("w", block_s=0.05)
        assert d is not None, f"attempt {attempt} never delivered"
        assert d.record.attempts == attempt
        fail_times.append(time.monotonic())
        status = d.fail(RuntimeError("model exploded"))
        assert status == (JobStatus.RETRYING if attempt < 3 else JobStatus.FAILED)
    # Backoff: ≥ 0.2 s before the 2nd try, ≥ 0.4 s before the 3rd.
    assert fail_times[1] - fail_times[0] >= 0.2 and fail_times[2] - fail_times[1] >= 0.4
    final = q.get(rec.job_id)
    assert final.status == JobStatus.FAILED and final.error is not None
    assert "model exploded" in final.error["message"]
    dead = q.dead_letters()
    assert [x["job_id"] for x in dead] == [rec.job_id] and "failed 3 times" in dead[0]["reason"]
    time.sleep(1.2)
    assert q.claim("w", block_s=0.1) is None
    assert q.stats()["dead"] == 1 and q.stats()["delayed"] == 0


def test_crash_looping_job_lands_in_dead_letters(redis_server: RedisServer) -> None:
    """A job whose worker dies every time (never acks) is dead-lettered after N deliveries."""
    q = _queue(redis_server, visibility_timeout_s=0.1, max_deliveries=2)
    rec, _ = q.submit({})
    for i in range(2):
        d = None
        while d is None:
            d = q.claim(f"crasher-{i}", block_s=0.05)
        time.sleep(0.15)  # "crash": never ack, let the lease expire
    assert q.claim("next", block_s=0.05) is None
    assert q.get(rec.job_id).status == JobStatus.FAILED
    assert q.dead_letters()[0]["job_id"] == rec.job_id
    again = q.requeue_dead(rec.job_id)
    assert again.status == JobStatus.QUEUED and again.attempts == 0
    assert q.dead_letters() == [] and q.stats()["dead"] == 0  # decided: off the stream
    d = q.claim("fixed", block_s=0.1)
    assert d is not None and d.job_id == rec.job_id


def test_non_retryable_error_fails_at_once(redis_server: RedisServer) -> None:
    q = _queue(redis_server, max_deliveries=5)
    rec, _ = q.submit({})
    d = q.claim("w", block_s=0.1)
    assert d is not None
    assert d.fail(InvalidInput("prompt", "empty")) == JobStatus.FAILED
    err = q.get(rec.job_id).error
    assert err is not None and err["code"] == "INVALID_ARGUMENT"


def test_cancel_queued_job_is_never_delivered(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit({})
    assert q.cancel(rec.job_id).status == JobStatus.CANCELLED
    assert q.claim("w", block_s=0.1) is None
    assert q.stats()["normal"] == {"lag": 0, "pending": 0}
    assert q.cancel(rec.job_id).status == JobStatus.CANCELLED  # idempotent
    with pytest.raises(NotFound):
        q.cancel("nope")


def test_cancel_running_job_stops_at_the_next_check(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit({})
    d = q.claim("w", block_s=0.1)
    assert d is not None
    d.check_cancelled()  # not yet
    assert q.cancel(rec.job_id).status == JobStatus.RUNNING  # flagged, still running
    with pytest.raises(Exception) as e:
        d.check_cancelled()
    assert d.fail(e.value) == JobStatus.CANCELLED
    assert q.get(rec.job_id).status == JobStatus.CANCELLED
    assert q.stats()["normal"]["pending"] == 0


def test_cancel_retrying_job_removes_its_retry(redis_server: RedisServer) -> None:
    q = _queue(redis_server, backoff_base_s=0.2)
    rec, _ = q.submit({})
    d = q.claim("w", block_s=0.1)
    assert d is not None
    d.fail(RuntimeError("transient"))
    assert q.cancel(rec.job_id).status == JobStatus.CANCELLED
    time.sleep(0.3)
    assert q.claim("w", block_s=0.1) is None


def test_list_filters(redis_server: RedisServer) -> None:
    q = _queue(redis_server)
    a, _ = q.submit({}, team="red")
    b, _ = q.submit({}, team="blue")
    q.cancel(b.job_id)
    assert [r.job_id for r in q.list_jobs()] == [b.job_id, a.job_id]
    assert [r.job_id for r in q.list_jobs(team="red")] == [a.job_id]
    assert [r.job_id for r in q.list_jobs(status=JobStatus.CANCELLED)] == [b.job_id]


def test_backoff_schedule() -> None:
    cfg = QueueConfig(backoff_base_s=2, backoff_max_s=20)
    assert [cfg.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 16, 20]


def test_queue_depth_metrics(redis_server: RedisServer) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from dyad.queue import QueueCollector

    q = _queue(redis_server, backoff_base_s=60)
    reg = CollectorRegistry()
    reg.register(QueueCollector({"generate": q}))
    for prio in ("high", "low", "low"):
        q.submit({}, priority=prio)
    d = q.claim("w", block_s=0.1)  # takes the high one
    assert d is not None
    q.submit({}, priority="normal")
    d.fail(RuntimeError("later"))
    text = generate_latest(reg).decode()
    assert 'dyad_queue_lag_jobs{kind="generate",priority="low"} 2.0' in text
    assert 'dyad_queue_lag_jobs{kind="generate",priority="normal"} 1.0' in text
    assert 'dyad_queue_pending_jobs{kind="generate",priority="high"} 0.0' in text
    assert 'dyad_queue_delayed_jobs{kind="generate"} 1.0' in text
    assert 'dyad_queue_dead_letter_jobs{kind="generate"} 0.0' in text


def test_operator_cli_shows_requeues_and_discards_dead_letters(redis_server: RedisServer) -> None:
    """`dyad queue` against the real Redis: what the DyadDeadLetterNotEmpty runbook runs."""
    import json
    import uuid

    from dyad.testing import run_cli

    prefix = f"ops-{uuid.uuid4().hex[:8]}"
    q = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True), QueueConfig(prefix=prefix)
    )
    env = {"DYAD_REDIS_URL": redis_server.url, "DYAD_QUEUE_PREFIX": prefix}
    failed = []
    for _ in range(2):
        rec, _ = q.submit({})
        d = q.claim("w", block_s=0.1)
        assert d is not None and d.fail(InvalidInput("prompt", "empty")) == JobStatus.FAILED
        failed.append(rec.job_id)
    waiting, _ = q.submit({}, priority=Priority.HIGH)

    stats = run_cli("queue", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["dead"] == 2 and json.loads(stats.stdout)["high"]["lag"] == 1
    dead = run_cli("queue", "dead", env=env)
    entries = json.loads(dead.stdout)
    assert [e["job_id"] for e in entries] == failed[::-1]  # newest first
    assert entries[0]["error"]["code"] == "INVALID_ARGUMENT"  # the error as JSON, not a string

    # All checked before any is touched: a job that is not failed changes nothing.
    refused = run_cli("queue", "requeue", failed[0], waiting.job_id, env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == f"dyad: JOB_ID: job {waiting.job_id} is queued, not failed"
    assert q.stats()["dead"] == 2
    unknown = run_cli("queue", "discard", "no-such-job", env=env)
    assert unknown.returncode == 2 and "no job 'no-such-job'" in unknown.stderr

    requeued = run_cli("queue", "requeue", failed[0], env=env)
    assert json.loads(requeued.stdout) == [{"job_id": failed[0], "status": "queued"}]
    discarded = run_cli("queue", "discard", failed[1], env=env)
    assert json.loads(discarded.stdout) == [{"job_id": failed[1], "discarded": 1}]
    assert q.stats()["dead"] == 0 and q.get(failed[1]).status == JobStatus.FAILED
    assert q.stats()["normal"]["lag"] == 1  # the requeued job waits again
    assert run_cli("queue", "dead", "--count", "0", env=env).returncode == 2
