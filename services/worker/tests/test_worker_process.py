"""Worker processes (``python -m dyad.services.worker``) on redis + moto S3: a
SIGKILLed worker's job completes elsewhere exactly once; SIGTERM lets the job finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from dyad.queue import JobQueue, JobStatus, QueueConfig
from dyad.services.worker.cli import main
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Worker
from dyad.storage import S3Store, manifest_key
from dyad.testing import RedisServer, S3Server

from .test_worker import SPEC, Running, all_events, ran, wait_for

pytestmark = pytest.mark.integration
TOY = "dyad.services.worker.tests.toy_runner:build_runner"


@pytest.fixture
def s3_store(s3_server: S3Server) -> S3Store:
    return S3Store(
        f"w-{uuid.uuid4().hex[:12]}",
        endpoint=s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
    )


def worker_env(
    redis_server: RedisServer, s3: S3Server, store: S3Store, **extra: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DYAD_REDIS_URL": redis_server.url,
        "DYAD_STORE_URI": store.root_uri,
        "DYAD_S3_ENDPOINT": s3.endpoint,
        "DYAD_S3_ACCESS_KEY": s3.access_key,
        "DYAD_S3_SECRET_KEY": s3.secret_key,
        "DYAD_QUEUE_PREFIX": "t",
        "DYAD_LOG_LEVEL": "WARNING",
        "DYAD_WORKER_RUNNER": TOY,
        "DYAD_WORKER_HEARTBEAT_INTERVAL_S": "0.2",
        "DYAD_WORKER_CLAIM_BLOCK_S": "0.2",
        **extra,
    }


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def spawn(procs: list[subprocess.Popen[bytes]], env: dict[str, str]) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(
        [sys.executable, "-m", "dyad.services.worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    procs.append(p)
    return p


def test_sigkilled_worker_job_completes_elsewhere_exactly_once(
    redis_server: RedisServer,
    s3_server: S3Server,
    s3_store: S3Store,
    tmp_path: Path,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    log = tmp_path / "ran.log"
    visibility = 1.5
    q = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True),
        QueueConfig(prefix="t", visibility_timeout_s=visibility),
    )
    rec, _ = q.submit(SPEC)
    env = worker_env(
        redis_server,
        s3_server,
        s3_store,
        DYAD_WORKER_CONSUMER="doomed",
        DYAD_TOY_STAGE_S="0.8",
        DYAD_TOY_LOG=str(log),
        DYAD_QUEUE_VISIBILITY_TIMEOUT_S=str(visibility),
    )
    doomed = spawn(spawned, env)
    # Killed after its first stage finished, in the middle of the second.
    wait_for(lambda: q.get(rec.job_id).stages.get("motion", 0) > 0, timeout_s=60)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    assert q.get(rec.job_id).status == JobStatus.RUNNING  # nobody acked it
    rescuer = Worker(
        q,
        s3_store,
        ToyRunner(0.05, log=str(log)),
        WorkerSettings(consumer="rescuer", heartbeat_interval_s=0.2, claim_block_s=0.1),
    )
    with Running(rescuer):
        wait_for(lambda: q.get(rec.job_id).status.terminal, timeout_s=30)
    done = q.get(rec.job_id)
    assert done.status == JobStatus.SUCCEEDED and done.worker == "rescuer" and done.attempts == 2
    counts = ran(log, rec.job_id)
    # speech was reused from its checkpoint; motion had started in the dead worker.
    assert counts == {"speech": 1, "motion": 2, "render": 1, "manifest": 1}
    pids = {line.split()[0] for line in log.read_text().splitlines()}
    assert pids == {str(doomed.pid), str(os.getpid())}
    statuses = [e.status for e in all_events(q, rec.job_id)]
    assert statuses.count(JobStatus.SUCCEEDED) == 1 and statuses[-1] == JobStatus.SUCCEEDED
    assert s3_store.get_manifest(rec.job_id)["job_id"] == rec.job_id
    assert done.result_uri == s3_store.uri(manifest_key(rec.job_id))
    assert q.claim("anyone", block_s=0.1) is None, "nothing left to deliver"


def test_sigterm_lets_the_running_job_finish_then_exits(
    redis_server: RedisServer,
    s3_server: S3Server,
    s3_store: S3Store,
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    q = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True), QueueConfig(prefix="t")
    )
    rec, _ = q.submit(SPEC)
    second, _ = q.submit(SPEC)
    env = worker_env(
        redis_server, s3_server, s3_store, DYAD_TOY_STAGE_S="0.3", DYAD_WORKER_CONSUMER="w"
    )
    proc = spawn(spawned, env)
    wait_for(lambda: q.get(rec.job_id).stages.get("speech", 0) > 0, timeout_s=60)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert q.get(rec.job_id).status == JobStatus.SUCCEEDED
    assert q.get(second.job_id).status == JobStatus.QUEUED, "claims nothing after SIGTERM"


def test_worker_command_fails_fast_on_a_bad_runner(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("DYAD_REDIS_URL", redis_server.url)
    assert main(["--runner", "dyad.services.worker.no_such_module:build_runner"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dyad: DYAD_WORKER_RUNNER: cannot import")
