"""The gateway and the workers together: what the gateway enqueues is what the real runner
accepts, and a job Watch follows from queued to succeeded as a worker runs it."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from dyad.queue import JobStatus
from dyad.services.gateway.tests.stack import RED, Stack, auth
from dyad.services.gateway.tests.test_service import submit
from dyad.services.worker.pipeline.jobs import options_from_spec
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Worker
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb

pytestmark = pytest.mark.integration


def test_the_real_runner_accepts_what_the_gateway_enqueues(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stub = stack.stub()
    options = pb.JobOptions(
        rig="flame56",
        refine=False,
        layout=c.LAYOUT_PICTURE_IN_PICTURE,
        seed=7,
        relation=c.SocialRelation(blood=True, equal=False),
    )
    spec = stack.queue.get(submit(stub, n=2, options=options).job.job_id).payload
    parsed = options_from_spec(spec)
    assert (parsed.n, parsed.rig, parsed.refine, parsed.layout, parsed.seed) == (
        2,
        "flame56",
        False,
        "pip",
        7,
    )
    assert parsed.relation is not None and parsed.relation.blood and not parsed.relation.equal
    # Unset options stay unset: the runner's defaults apply (refinement on, side by side).
    plain = stack.queue.get(submit(stub).job.job_id).payload
    assert options_from_spec(plain).refine is True


def test_watch_streams_stage_progress_until_the_job_ends(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    worker = Worker(
        stack.queue,
        stack.store,
        ToyRunner(stage_s=0.1),
        WorkerSettings(heartbeat_interval_s=0.5, claim_block_s=0.1),
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        job_id = submit(stub).job.job_id
        events = list(
            stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=auth(RED), timeout=30)
        )
    finally:
        worker.stop(0)
        thread.join(10)
    statuses = [e.status for e in events]
    assert statuses[0] == pb.JOB_STATUS_QUEUED and statuses[-1] == pb.JOB_STATUS_SUCCEEDED
    assert statuses.count(pb.JOB_STATUS_SUCCEEDED) == 1
    stages = [(e.stage.stage, round(e.stage.progress, 2)) for e in events if e.stage.stage]
    assert stages == [(s, f) for s in ToyRunner.stages for f in (0.5, 1.0)]
    overall = [e.progress for e in events]
    assert overall == sorted(overall) and overall[-1] == 1.0
    # Resuming after an event gives only what came after it.
    resumed = list(
        stub.WatchJob(
            pb.WatchJobRequest(job_id=job_id, after_event_id=events[3].event_id),
            metadata=auth(RED),
            timeout=10,
        )
    )
    assert [e.event_id for e in resumed] == [e.event_id for e in events[4:]]
    job = stub.GetJob(pb.GetJobRequest(job_id=job_id), metadata=auth(RED)).job
    assert [s.stage for s in job.stages] == list(ToyRunner.stages)
    assert set(job.result.download_urls) == {
        "manifest",
        "video",
        "conv0/audio.wav",
        "conv0/motion.npz",
    }
    assert job.result.video.content_type == "video/mp4" and len(job.result.video.sha256) == 64
    assert stack.queue.get(job_id).status == JobStatus.SUCCEEDED
