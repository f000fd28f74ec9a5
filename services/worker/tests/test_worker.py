"""Workers on a real redis-server and a real store: completion, cancellation between stages,
retries then dead-letter, a stalled worker losing its job, release on shutdown, runner loading."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dyad.errors import ConfigError
from dyad.queue import JobEvent, JobQueue, JobStatus, QueueConfig
from dyad.services.worker.runner import load_runner
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Outcome, Worker
from dyad.storage import LocalStore, manifest_key
from dyad.testing import RedisServer

pytestmark = pytest.mark.integration
SPEC = {"input": "prompt", "prompt": "Two friends plan a trip", "n": 1, "options": {}}


def _queue(server: RedisServer, **cfg: Any) -> JobQueue:
    return JobQueue(
        redis.Redis.from_url(server.url, decode_responses=True), QueueConfig(prefix="t", **cfg)
    )


def ran(log: Path, job_id: str) -> Counter[str]:
    """How often each stage (and the manifest write) actually ran for ``job_id``."""
    if not log.exists():
        return Counter()
    return Counter(
        line.split()[2] for line in log.read_text().splitlines() if line.split()[1] == job_id
    )


def all_events(q: JobQueue, job_id: str) -> list[JobEvent]:
    """Every event of the job (``watch`` stops at the first terminal one)."""
    raw = q.r.xrange(f"{q.cfg.prefix}:events:{job_id}")
    return [JobEvent.decode(eid, fields["event"]) for eid, fields in raw]


def not_a_runner() -> object:
    return object()


class Running:
    """A ``Worker`` in a thread, stopped (jobs released) on exit."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self.worker

    def __exit__(self, *exc: object) -> None:
        self.worker.stop(0)
        self.thread.join(10)
        assert not self.thread.is_alive()


def wait_for(pred: Any, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "store")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "ran.log"


def settings(**kw: Any) -> WorkerSettings:
    return WorkerSettings(**{"heartbeat_interval_s": 0.1, "claim_block_s": 0.1, **kw})


def test_a_job_runs_to_success_with_its_manifest(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit(SPEC)
    with Running(Worker(q, store, ToyRunner(0.05, log=str(log)), settings(consumer="w1"))) as w:
        wait_for(lambda: q.get(rec.job_id).status.terminal)
    done = q.get(rec.job_id)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 1 and done.worker == "w1"
    assert done.stage_plan == list(ToyRunner.stages) and done.stages == dict.fromkeys(
        done.stage_plan, 1.0
    )
    manifest = store.get_manifest(rec.job_id)
    assert manifest["spec"] == SPEC and done.result_uri == store.uri(manifest_key(rec.job_id))
    assert done.result["video"] == manifest["artifacts"]["render"]
    assert store.get_bytes(done.result["video"]["uri"])[4:8] == b"ftyp"  # an MP4
    assert list(w.outcomes) == [(rec.job_id, Outcome.SUCCEEDED)]
    assert ran(log, rec.job_id) == Counter(speech=1, motion=1, render=1, manifest=1)


def test_cancel_mid_job_stops_between_stages(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit(SPEC)
    with Running(Worker(q, store, ToyRunner(0.6, log=str(log)), settings())) as w:
        wait_for(lambda: q.get(rec.job_id).stages.get("speech", 0) > 0)
        assert q.cancel(rec.job_id).cancel_requested
        wait_for(lambda: q.get(rec.job_id).status.terminal)
    done = q.get(rec.job_id)
    assert done.status == JobStatus.CANCELLED
    assert ran(log, rec.job_id) == Counter(speech=1), "the runner stopped at the next boundary"
    assert not store.exists(manifest_key(rec.job_id))
    assert list(w.outcomes) == [(rec.job_id, Outcome.CANCELLED)]
    statuses = [e.status for e in all_events(q, rec.job_id)]
    assert statuses.count(JobStatus.CANCELLED) == 1 and statuses[-1] == JobStatus.CANCELLED


def test_failures_retry_with_backoff_then_dead_letter(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    q = _queue(redis_server, max_deliveries=3, backoff_base_s=0.1)
    rec, _ = q.submit(SPEC)
    runner = ToyRunner(0.02, fail_stage="motion", log=str(log))
    with Running(Worker(q, store, runner, settings())) as w:
        wait_for(lambda: q.get(rec.job_id).status.terminal)
    done = q.get(rec.job_id)
    assert done.status == JobStatus.FAILED and done.attempts == 3
    assert done.error is not None and done.error["code"] == "INTERNAL"
    assert "toy failure in motion" in done.error["message"] and len(done.error["error_id"]) == 16
    events = list(q.watch(rec.job_id, timeout_s=1))
    retries = [e.message for e in events if e.status == JobStatus.RETRYING]
    assert [m.rsplit("retry in ", 1)[1] for m in retries] == ["0.1 s", "0.2 s"]
    assert [d["job_id"] for d in q.dead_letters()] == [rec.job_id]
    # The finished first stage is reused by every retry; the failing one ran each time.
    assert ran(log, rec.job_id) == Counter(speech=1, motion=3)
    assert [o for _, o in w.outcomes] == [Outcome.RETRYING, Outcome.RETRYING, Outcome.FAILED]


def test_a_stalled_worker_loses_the_job_and_writes_nothing(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    # "slow" renews its lease only when it reports (every 0.8 s) — past the 0.5 s visibility
    # timeout — so "healthy" takes the job over; "slow" must notice and not complete it.
    q = _queue(redis_server, visibility_timeout_s=0.5)
    rec, _ = q.submit(SPEC)
    slow = Worker(
        q, store, ToyRunner(1.6, log=str(log)), settings(consumer="slow", heartbeat_interval_s=60)
    )
    with Running(slow):
        wait_for(lambda: q.get(rec.job_id).worker == "slow")
        healthy = Worker(q, store, ToyRunner(0.05, log=str(log)), settings(consumer="healthy"))
        with Running(healthy):
            wait_for(lambda: q.get(rec.job_id).status.terminal)
            wait_for(lambda: list(slow.outcomes))
    done = q.get(rec.job_id)
    assert done.status == JobStatus.SUCCEEDED and done.worker == "healthy" and done.attempts == 2
    assert list(slow.outcomes) == [(rec.job_id, Outcome.LOST)]
    assert ran(log, rec.job_id)["manifest"] == 1
    statuses = [e.status for e in all_events(q, rec.job_id)]
    assert statuses.count(JobStatus.SUCCEEDED) == 1 and statuses[-1] == JobStatus.SUCCEEDED


def test_shutdown_releases_the_job_to_another_worker(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit(SPEC)
    first = Worker(q, store, ToyRunner(0.4, log=str(log)), settings(consumer="first"))
    runner = Running(first)
    runner.__enter__()
    wait_for(lambda: q.get(rec.job_id).stages.get("speech", 0) > 0)
    first.stop(grace_s=0)  # SIGTERM with no grace: give the job back at the next boundary
    runner.thread.join(10)
    assert list(first.outcomes) == [(rec.job_id, Outcome.RELEASED)]
    released = q.get(rec.job_id)
    assert released.status == JobStatus.QUEUED and released.attempts == 0
    with Running(Worker(q, store, ToyRunner(0.05, log=str(log)), settings(consumer="second"))):
        wait_for(lambda: q.get(rec.job_id).status.terminal)
    done = q.get(rec.job_id)
    # Taken at once (no visibility timeout to wait out), not counted as a failed delivery.
    assert done.status == JobStatus.SUCCEEDED and done.worker == "second" and done.attempts == 1
    assert ran(log, rec.job_id) == Counter(speech=1, motion=1, render=1, manifest=1)


def test_graceful_stop_lets_the_running_job_finish(
    redis_server: RedisServer, store: LocalStore
) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit(SPEC)
    w = Worker(q, store, ToyRunner(0.2), settings())
    with Running(w):
        wait_for(lambda: q.get(rec.job_id).status == JobStatus.RUNNING)
        w.stop(grace_s=30)
        w_thread_done = wait_for(lambda: list(w.outcomes))
    assert w_thread_done == [(rec.job_id, Outcome.SUCCEEDED)]
    assert q.get(rec.job_id).status == JobStatus.SUCCEEDED


def test_a_worker_that_stalls_after_its_last_report_does_not_complete(
    redis_server: RedisServer, store: LocalStore
) -> None:
    """The last line of defence: the lease is renewed (and ownership checked) right before the
    final write, even when the runner reports nothing after stalling."""

    class Stalls:
        stages = ("only",)

        def run(self, job_id: str, spec: Any, store: Any, report: Any) -> dict[str, Any]:
            report.stage("only", 0.5)
            time.sleep(1.0)  # past the 0.5 s visibility timeout, with no report after it
            return {"manifest": "file:///from-the-stalled-worker"}

    q = _queue(redis_server, visibility_timeout_s=0.5)
    rec, _ = q.submit(SPEC)
    slow = Worker(q, store, Stalls(), settings(consumer="slow", heartbeat_interval_s=60))
    with Running(slow):
        wait_for(lambda: q.get(rec.job_id).worker == "slow")
        with Running(Worker(q, store, ToyRunner(0.05), settings(consumer="healthy"))):
            wait_for(lambda: list(slow.outcomes))
            wait_for(lambda: q.get(rec.job_id).status.terminal)
    assert list(slow.outcomes) == [(rec.job_id, Outcome.LOST)]
    done = q.get(rec.job_id)
    assert done.worker == "healthy" and done.result_uri == store.uri(manifest_key(rec.job_id))
    assert [e.status for e in all_events(q, rec.job_id)].count(JobStatus.SUCCEEDED) == 1


def test_a_job_claimed_while_stopping_is_released_unstarted(
    redis_server: RedisServer, store: LocalStore, log: Path
) -> None:
    q = _queue(redis_server)
    rec, _ = q.submit(SPEC)
    w = Worker(q, store, ToyRunner(0.05, log=str(log)), settings())
    claim = q.claim

    def claim_then_sigterm(consumer: str, **kw: Any) -> Any:
        d = claim(consumer, **kw)
        w.stop()  # SIGTERM arrives while the claim is in flight
        return d

    q.claim = claim_then_sigterm  # type: ignore[method-assign]
    w.run()
    released = q.get(rec.job_id)
    assert released.status == JobStatus.QUEUED and released.attempts == 0
    assert not log.exists() and w.jobs_started == 0


def test_slots_share_jobs_and_max_jobs_ends_the_worker(
    redis_server: RedisServer, store: LocalStore
) -> None:
    q = _queue(redis_server)
    ids = [q.submit(SPEC)[0].job_id for _ in range(3)]
    w = Worker(q, store, ToyRunner(0.3), settings(consumer="w", concurrency=2, max_jobs=2))
    assert w.run() == 2  # returns by itself after two jobs
    records = [q.get(i) for i in ids]
    assert [r.status for r in records] == [JobStatus.SUCCEEDED] * 2 + [JobStatus.QUEUED]
    assert {r.worker for r in records[:2]} == {"w-0", "w-1"}, "both slots ran one"
    assert records[2].attempts == 0, "never claimed"


def test_runner_loading_names_the_setting() -> None:
    toy = load_runner("dyad.services.worker.tests.toy_runner:build_runner")
    assert toy.stages == ("speech", "motion", "render")
    assert load_runner("dyad.services.worker.tests.toy_runner:ToyRunner").stages == toy.stages
    for path, why in (
        ("no-colon", "module:attr"),
        ("dyad.services.worker.no_such_module:build_runner", "cannot import"),
        ("dyad.services.worker.tests.toy_runner:nope", "no attribute"),
        ("dyad.services.worker.tests.toy_runner:RATE", "neither a JobRunner"),
        ("dyad.services.worker.tests.test_worker:not_a_runner", "neither a JobRunner"),
    ):
        with pytest.raises(ConfigError) as e:
            load_runner(path)
        assert e.value.setting == "DYAD_WORKER_RUNNER" and why in e.value.message, path


def test_a_result_without_a_manifest_fails_the_job(
    redis_server: RedisServer, store: LocalStore
) -> None:
    """A runner that returns no manifest fails the job (a bug, retried, then dead-lettered)."""

    class NoManifest(ToyRunner):
        def run(self, *a: Any, **kw: Any) -> dict[str, Any]:
            return {"video": "file:///x"}

    q = _queue(redis_server, max_deliveries=1)
    rec, _ = q.submit(SPEC)
    with Running(Worker(q, store, NoManifest(), settings())):
        wait_for(lambda: q.get(rec.job_id).status.terminal)
    done = q.get(rec.job_id)
    assert done.status == JobStatus.FAILED and "no manifest" in json.dumps(done.error)
