"""Faults under the Job API (issue 16): Redis stopped or frozen, or the store down → UNAVAILABLE
(retryable), and back to normal when it returns, with nothing lost or doubled."""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.media import wav_bytes
from dyad.testing import RedisServer, S3Server
from dyad.v1 import job_service_pb2 as pb

from .stack import RED, GatewayThread, Stack, auth, start_stack
from .test_service import code_of, submit

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_on_own_redis(tmp_path: Path) -> Iterator[tuple[Stack, RedisServer]]:
    """A gateway on a redis-server this test may stop and restart (same port, same AOF)."""
    (tmp_path / "redis").mkdir()
    rs = RedisServer(tmp_path / "redis")
    rs.start()
    gw: GatewayThread | None = None
    try:
        stack, gw = start_stack(rs.url, tmp_path / "store")
        yield stack, rs
    finally:
        if gw is not None:
            gw.__exit__()
        rs.stop()


def test_every_rpc_is_unavailable_while_redis_is_down(
    stack_on_own_redis: tuple[Stack, RedisServer],
) -> None:
    stack, rs = stack_on_own_redis
    stub = stack.stub()
    md = auth(RED)
    job = submit(stub, prompt="before the outage", idempotency_key="k1").job
    watch = stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=md, timeout=30)
    assert next(watch).status == pb.JOB_STATUS_QUEUED  # a stream open when Redis goes

    rs.stop()
    calls: dict[str, Callable[[], Any]] = {
        "SubmitJob": functools.partial(submit, stub, prompt="during", idempotency_key="k2"),
        "GetJob": lambda: stub.GetJob(pb.GetJobRequest(job_id=job.job_id), metadata=md),
        "CancelJob": lambda: stub.CancelJob(pb.CancelJobRequest(job_id=job.job_id), metadata=md),
        "ListJobs": lambda: stub.ListJobs(pb.ListJobsRequest(), metadata=md),
        "WatchJob": lambda: stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=md),
        "open WatchJob": lambda: next(watch),
    }
    for rpc, call in calls.items():
        t0 = time.monotonic()
        code, details, trailers = code_of(call)
        assert code == grpc.StatusCode.UNAVAILABLE, (rpc, code, details)
        assert details == "the job queue is unavailable; retry later", (rpc, details)
        assert "dyad-error-id" not in trailers and "127.0.0.1" not in details
        assert time.monotonic() - t0 < 10, rpc  # refused promptly, not after a hang

    rs.start()  # the same port and AOF: the client's retry succeeds, nothing was lost
    again = submit(stub, prompt="during", idempotency_key="k2")
    assert again.created
    got = stub.GetJob(pb.GetJobRequest(job_id=job.job_id), metadata=md, timeout=10).job
    assert got.status == pb.JOB_STATUS_QUEUED
    listed = stub.ListJobs(pb.ListJobsRequest(), metadata=md, timeout=10).jobs
    assert [j.job_id for j in listed] == [again.job.job_id, job.job_id]


def test_a_hung_redis_is_unavailable_and_a_retry_with_the_key_makes_one_job(
    stack_on_own_redis: tuple[Stack, RedisServer],
) -> None:
    """redis-server frozen (SIGSTOP): the submit times out (the client's 5 s socket timeout) as
    UNAVAILABLE — but Redis may still run it once it wakes, so the retry with the same
    idempotency key must find that job rather than make a second one."""
    stack, rs = stack_on_own_redis
    stub = stack.stub()
    assert rs.proc is not None
    rs.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        code, details, _ = code_of(
            functools.partial(submit, stub, prompt="frozen", idempotency_key="hung-1")
        )
        assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
        assert time.monotonic() - t0 < 9
    finally:
        rs.proc.send_signal(signal.SIGCONT)
    retry = submit(stub, prompt="frozen", idempotency_key="hung-1")
    listed = stub.ListJobs(pb.ListJobsRequest(), metadata=auth(RED), timeout=10).jobs
    assert [j.job_id for j in listed] == [retry.job.job_id]


def test_submitting_audio_while_the_store_is_down_is_unavailable(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The gateway reads input audio's header from S3 before queueing: S3 unreachable is
    UNAVAILABLE (retryable) and queues nothing; jobs without audio are still accepted."""
    with S3Server() as s3:
        stack, gw = start_stack(redis_server.url, tmp_path / "store", s3)
        try:
            ref = stack.store.put_bytes(wav_bytes(np.zeros(1600), 16000))
            stub = stack.stub()
            audio = pb.AudioInput(track_a=ref.to_proto(), track_b=ref.to_proto())
            assert submit(stub, audio=audio).created
            s3.stop()
            code, details, _ = code_of(functools.partial(submit, stub, audio=audio, n=1))
            assert code == grpc.StatusCode.UNAVAILABLE, (code, details)
            assert submit(stub, prompt="no audio needed").created
            listed = stub.ListJobs(pb.ListJobsRequest(), metadata=auth(RED), timeout=10).jobs
            assert len(listed) == 2
        finally:
            gw.__exit__()
