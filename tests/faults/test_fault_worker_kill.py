"""A worker SIGKILLed in the middle of every stage of the real pipeline: the job still completes
exactly once.

One job (the embedded pipeline, at its cheapest: procedural motion, 2 refinement steps, 64 px
heads, 5 turns) is handed down a chain of worker processes, each armed with
``DYAD_WORKER_FAULT_KILL_AT=<stage>``: it SIGKILLs itself once that stage's outputs are in S3
and before the stage is recorded as done — the worst moment, orphaned objects and no record.
The job is redelivered to the next worker after the visibility timeout. After a kill in each
of dialogue, speech, features, motion, refine, render and the manifest write, a worker with no
fault finishes it: one manifest, one ``succeeded`` event, every artefact it names whole.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from fault_support import Workers, assert_exactly_once, queue, wait_for, worker_env

from dyad.queue import JobStatus
from dyad.storage import S3Store, manifest_key
from dyad.testing import RedisServer, S3Server

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SPEC = {
    "input": "prompt",
    "prompt": "Two neighbours argue about a noisy party",
    "n": 1,
    "options": {"turns": [5, 5], "head_px": 64, "refine": True, "refine_steps": 2, "seed": 5},
}
#: The pipeline's stages in order, then the job manifest.
KILL_POINTS = ("dialogue", "speech", "features", "motion", "refine", "render", "manifest")
VISIBILITY_S = 2.0


def test_a_worker_killed_in_every_stage_leaves_one_complete_job(
    redis_server: RedisServer,
    s3_server: S3Server,
    bucket: S3Store,
    workers: Workers,
    tmp_path: Path,
) -> None:
    q = queue(redis_server, visibility_timeout_s=VISIBILITY_S, max_deliveries=len(KILL_POINTS) + 2)
    rec, _ = q.submit(SPEC)
    env = worker_env(
        redis_server,
        s3_server,
        bucket,
        DYAD_QUEUE_VISIBILITY_TIMEOUT_S=str(VISIBILITY_S),
        DYAD_QUEUE_MAX_DELIVERIES=str(len(KILL_POINTS) + 2),
        DYAD_WORKER_MAX_JOBS="1",
    )
    for i, stage in enumerate(KILL_POINTS):
        doomed = workers.spawn({**env, "DYAD_WORKER_FAULT_KILL_AT": stage}, f"doomed-{stage}")
        try:
            code = doomed.wait(timeout=240)
        except Exception:
            raise AssertionError(
                f"worker armed for {stage} did not die\n{workers.logs()}"
            ) from None
        assert code == -signal.SIGKILL, f"{stage}: exit {code}\n{workers.logs()}"
        job = q.get(rec.job_id)
        # Nobody acked or failed it: it waits for redelivery, with one attempt per delivery.
        assert job.status == JobStatus.RUNNING and job.attempts == i + 1, (stage, job)
        assert not bucket.exists(manifest_key(rec.job_id)), f"manifest after a kill in {stage}"
        # Every stage before the kill is recorded once; the killed one is not recorded.
        for done in KILL_POINTS[: min(i, 6)]:
            assert len(bucket.list(f"cache/stages/{done}/")) == 1, (stage, done)
        if stage != "manifest":
            assert bucket.list(f"cache/stages/{stage}/") == [], f"{stage} was recorded"

    rescuer = workers.spawn(env, "rescuer")
    wait_for(
        lambda: q.get(rec.job_id).status.terminal,
        240,
        "the rescuer to finish the job",
        workers.logs,
    )
    assert rescuer.wait(timeout=30) == 0, workers.logs()
    job = q.get(rec.job_id)
    assert job.worker == "rescuer" and job.attempts == len(KILL_POINTS) + 1
    manifest = assert_exactly_once(q, bucket, rec.job_id)
    assert len(manifest["conversations"]) == 1
    assert q.claim("anyone", block_s=0.1) is None, "nothing left to deliver"
    # The rescuer reused what every killed worker had finished: one cache entry per stage.
    for stage in KILL_POINTS[:-1]:
        assert len(bucket.list(f"cache/stages/{stage}/")) == 1, stage
