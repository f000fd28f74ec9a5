"""JobService over gRPC on a real redis-server: status codes of every RPC, idempotency,
priorities, List filters and pages, team isolation, Watch until the job ends."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.media import wav_bytes
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb

from .stack import BLUE, RED, Stack, auth

pytestmark = pytest.mark.integration


def code_of(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, dict[str, str]]:
    with pytest.raises(grpc.RpcError) as e:
        result = call()
        if hasattr(result, "__next__"):
            list(result)  # a stream raises when read
    err: Any = e.value
    return err.code(), err.details(), dict(err.trailing_metadata() or ())


def submit(stub: Any, token: str = RED, **kw: Any) -> Any:
    if "prompt" not in kw and "audio" not in kw:
        kw["prompt"] = "Two friends plan a trip"
    return stub.SubmitJob(pb.SubmitJobRequest(**kw), metadata=auth(token), timeout=10)


def test_every_rpc_needs_a_valid_token(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    job_id = submit(stub).job.job_id
    calls = {
        "SubmitJob": lambda md: stub.SubmitJob(pb.SubmitJobRequest(prompt="x"), metadata=md),
        "GetJob": lambda md: stub.GetJob(pb.GetJobRequest(job_id=job_id), metadata=md),
        "WatchJob": lambda md: stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=md),
        "CancelJob": lambda md: stub.CancelJob(pb.CancelJobRequest(job_id=job_id), metadata=md),
        "ListJobs": lambda md: stub.ListJobs(pb.ListJobsRequest(), metadata=md),
    }
    bad_metadata = {
        "missing": (),
        "wrong token": auth("not-a-token-of-anyone-123"),
        "wrong scheme": (("authorization", f"Basic {RED}"),),
        "empty bearer": (("authorization", "Bearer "),),
    }
    for rpc, call in calls.items():
        for case, md in bad_metadata.items():
            code, details, _ = code_of(functools.partial(call, md))
            assert code == grpc.StatusCode.UNAUTHENTICATED, (rpc, case, details)
    assert submit(stub).job.status == pb.JOB_STATUS_QUEUED  # the right token still works


def test_a_team_sees_only_its_own_jobs(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    red = submit(stub, RED, idempotency_key="k").job
    for call in (
        lambda: stub.GetJob(pb.GetJobRequest(job_id=red.job_id), metadata=auth(BLUE)),
        lambda: stub.WatchJob(pb.WatchJobRequest(job_id=red.job_id), metadata=auth(BLUE)),
        lambda: stub.CancelJob(pb.CancelJobRequest(job_id=red.job_id), metadata=auth(BLUE)),
    ):
        code, _, _ = code_of(call)
        assert code == grpc.StatusCode.PERMISSION_DENIED
    assert stub.GetJob(pb.GetJobRequest(job_id=red.job_id), metadata=auth(RED)).job.team == "red"
    blue_list = stub.ListJobs(pb.ListJobsRequest(), metadata=auth(BLUE))
    assert list(blue_list.jobs) == []
    # Idempotency keys are per team: blue's "k" is a new job.
    blue = submit(stub, BLUE, idempotency_key="k")
    assert blue.created and blue.job.job_id != red.job_id and blue.job.team == "blue"


def test_limits_and_bad_input_name_the_field(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    long_wav = stack.store.put_bytes(wav_bytes(np.zeros(48000), 16000))  # 3 s > the 2 s limit
    short_wav = stack.store.put_bytes(wav_bytes(np.zeros(16000), 16000))
    blue_upload = stack.store.put_named("uploads/blue/a.wav", wav_bytes(np.zeros(160), 16000))
    audio = lambda a, b: pb.AudioInput(track_a=a.to_proto(), track_b=b.to_proto())  # noqa: E731
    cases: dict[str, dict[str, Any]] = {
        "prompt": dict(prompt="x" * 201),
        "n": dict(prompt="hi", n=5),
        "input": dict(prompt=None),  # neither prompt nor audio
        "options.rig": dict(prompt="hi", options=pb.JobOptions(rig="mixamo")),
        "options.motion_backend": dict(prompt="hi", options=pb.JobOptions(motion_backend="gpt")),
        "priority": dict(prompt="hi", priority=9),
        "idempotency_key": dict(prompt="hi", idempotency_key="k" * 257),
        "audio.track_a": dict(audio=audio(long_wav, short_wav)),
        "audio.track_b.uri": dict(
            audio=pb.AudioInput(
                track_a=short_wav.to_proto(), track_b=c.ArtifactRef(uri="s3://elsewhere/x.wav")
            )
        ),
        "audio": dict(audio=pb.AudioInput(track_a=short_wav.to_proto())),
    }
    for fld, kw in cases.items():
        code, details, trailers = code_of(functools.partial(submit, stub, **kw))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (fld, details)
        assert trailers.get("dyad-error-field") == fld and details.startswith(f"{fld}: "), details
    code, details, _ = code_of(lambda: submit(stub, audio=audio(short_wav, short_wav), n=2))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("n: ")
    # Another team's uploads are not readable input.
    code, details, _ = code_of(lambda: submit(stub, audio=audio(short_wav, blue_upload)))
    assert code == grpc.StatusCode.PERMISSION_DENIED and "audio.track_b.uri" in details
    ok = submit(stub, audio=audio(short_wav, short_wav))
    assert ok.created and ok.job.status == pb.JOB_STATUS_QUEUED
    spec = stack.queue.get(ok.job.job_id).payload
    assert spec["input"] == "audio" and spec["audio"]["track_a"]["uri"] == short_wav.uri


def test_options_reach_the_runner_in_its_vocabulary(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    options = pb.JobOptions(
        rig="flame56",
        refine=False,
        layout=c.LAYOUT_PICTURE_IN_PICTURE,
        seed=7,
        relation=c.SocialRelation(blood=True, equal=False),
        identity_a=c.Identity(name="Ana", age_band="adult"),
    )
    job = submit(stub, n=2, options=options).job
    spec = stack.queue.get(job.job_id).payload
    assert spec == {
        "input": "prompt",
        "prompt": "Two friends plan a trip",
        "n": 2,
        "options": {
            "rig": "flame56",
            "refine": False,
            "layout": "pip",
            "seed": 7,
            "relation": {"blood": True, "equal": False},
            "identity_a": {"name": "Ana", "age_band": "adult"},
        },
    }
    # Unset options stay unset: the runner's defaults apply (refinement on, side by side).
    plain = stack.queue.get(submit(stub).job.job_id).payload
    assert plain["options"] == {} and plain["n"] == 1
    half = pb.JobOptions(relation=c.SocialRelation(blood=True))
    code, _, trailers = code_of(lambda: submit(stub, options=half))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert trailers["dyad-error-field"] == "options.relation"


def test_unknown_or_malformed_job_ids(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    md = auth(RED)
    for job_id, want in (
        (uuid.uuid4().hex, grpc.StatusCode.NOT_FOUND),
        ("../etc", grpc.StatusCode.INVALID_ARGUMENT),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
    ):
        for call in (
            lambda job_id=job_id: stub.GetJob(pb.GetJobRequest(job_id=job_id), metadata=md),
            lambda job_id=job_id: stub.WatchJob(pb.WatchJobRequest(job_id=job_id), metadata=md),
            lambda job_id=job_id: stub.CancelJob(pb.CancelJobRequest(job_id=job_id), metadata=md),
        ):
            code, details, trailers = code_of(call)
            assert code == want, (job_id, details)
            if want == grpc.StatusCode.INVALID_ARGUMENT:
                assert trailers.get("dyad-error-field") == "job_id"
    job_id = submit(stub).job.job_id
    code, _, trailers = code_of(
        lambda: stub.WatchJob(pb.WatchJobRequest(job_id=job_id, after_event_id="x"), metadata=md)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert trailers["dyad-error-field"] == "after_event_id"
    for req, fld in (
        (pb.ListJobsRequest(page_token="garbage!"), "page_token"),
        (pb.ListJobsRequest(page_size=10_000), "page_size"),
        (pb.ListJobsRequest(statuses=[42]), "statuses"),  # type: ignore[list-item]
    ):
        code, _, trailers = code_of(functools.partial(stub.ListJobs, req, metadata=md))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and trailers["dyad-error-field"] == fld


def test_idempotency_key_returns_the_same_job(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    first = submit(stub, prompt="one", idempotency_key="batch-7")
    again = submit(stub, prompt="one", idempotency_key="batch-7")
    other = submit(stub, prompt="one", idempotency_key="batch-8")
    assert first.created and not again.created and other.created
    assert again.job.job_id == first.job.job_id and other.job.job_id != first.job.job_id
    # Another request under a used key: see test_hostile_input (ALREADY_EXISTS).


def test_priorities_are_served_highest_first(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    ids = {
        p: submit(stub, priority=p).job.job_id
        for p in (pb.PRIORITY_LOW, pb.PRIORITY_UNSPECIFIED, pb.PRIORITY_HIGH, pb.PRIORITY_NORMAL)
    }
    got = stub.GetJob(pb.GetJobRequest(job_id=ids[pb.PRIORITY_UNSPECIFIED]), metadata=auth(RED))
    assert got.job.priority == pb.PRIORITY_NORMAL
    order = []
    while (d := stack.queue.claim("w", block_s=0.05)) is not None:
        order.append(d.job_id)
        d.complete("file:///m")
    want = [pb.PRIORITY_HIGH, pb.PRIORITY_UNSPECIFIED, pb.PRIORITY_NORMAL, pb.PRIORITY_LOW]
    assert order == [ids[p] for p in want]


def test_list_filters_pages_and_times(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    md = auth(RED)
    ids = []
    for i in range(5):
        ids.append(submit(stub, prompt=f"p{i}").job.job_id)
        time.sleep(0.01)
    mid = stub.GetJob(pb.GetJobRequest(job_id=ids[2]), metadata=md).job.create_time
    for job_id in ids[:2]:
        stub.CancelJob(pb.CancelJobRequest(job_id=job_id), metadata=md)
    submit(stub, BLUE)  # another team's job never shows up

    def listed(**kw: Any) -> list[str]:
        return [j.job_id for j in stub.ListJobs(pb.ListJobsRequest(**kw), metadata=md).jobs]

    assert listed() == ids[::-1]
    assert listed(statuses=[pb.JOB_STATUS_CANCELLED]) == ids[1::-1]
    assert listed(statuses=[pb.JOB_STATUS_QUEUED, pb.JOB_STATUS_CANCELLED]) == ids[::-1]
    assert listed(statuses=[pb.JOB_STATUS_QUEUED, pb.JOB_STATUS_SUCCEEDED]) == ids[:1:-1]
    assert listed(created_after=mid) == ids[:1:-1]
    assert listed(created_before=mid) == ids[1::-1]
    pages, token = [], ""
    while True:
        resp = stub.ListJobs(pb.ListJobsRequest(page_size=2, page_token=token), metadata=md)
        pages.append([j.job_id for j in resp.jobs])
        token = resp.next_page_token
        if not token:
            break
    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[:1]]
