"""Hostile and malformed input to the Job API (issue 16): every refusal is INVALID_ARGUMENT (or
ALREADY_EXISTS) naming the field, before anything is queued; nothing is INTERNAL."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile as sf
from google.protobuf.timestamp_pb2 import Timestamp

from dyad.media import wav_bytes
from dyad.storage import ArtifactRef
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb

from .stack import RED, Stack, auth
from .test_service import code_of, submit

pytestmark = pytest.mark.integration

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def assert_invalid(call: Callable[[], Any], fld: str) -> str:
    code, details, trailers = code_of(call)
    assert code == INVALID, (fld, code, details)
    assert trailers.get("dyad-error-field") == fld, (fld, details)
    assert details.startswith(f"{fld}: "), details
    return details


def crafted_wav(
    *, rate: int = 16000, channels: int = 1, bits: int = 16, claim: int | None = None, n: int = 320
) -> bytes:
    """A PCM WAV whose header says what we like: ``claim`` bytes of samples (default: the
    ``n`` bytes it holds), ``channels`` and ``rate`` as given."""
    block = max(0, channels) * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, bits)
    data = bytes(n)
    size = n if claim is None else claim
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size)
    return b"RIFF" + struct.pack("<I", (4 + 24 + 8 + size) & 0xFFFFFFFF) + body + data


def queued(stack: Stack) -> int:
    return sum(v["lag"] for k, v in stack.queue.stats().items() if isinstance(v, dict))


def test_list_jobs_refuses_timestamps_outside_their_range(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    md = auth(RED)
    nan_token = base64.urlsafe_b64encode(b"nan|abc").decode()
    cases = [
        (pb.ListJobsRequest(created_after=Timestamp(seconds=-(2**62))), "created_after"),
        (pb.ListJobsRequest(created_after=Timestamp(seconds=2**62)), "created_after"),
        (pb.ListJobsRequest(created_before=Timestamp(seconds=2**63 - 1)), "created_before"),
        (pb.ListJobsRequest(created_before=Timestamp(seconds=-62_135_596_801)), "created_before"),
        (pb.ListJobsRequest(created_after=Timestamp(seconds=1, nanos=-1)), "created_after"),
        (pb.ListJobsRequest(created_before=Timestamp(seconds=1, nanos=10**9)), "created_before"),
        (pb.ListJobsRequest(page_token=nan_token), "page_token"),
    ]
    for req, fld in cases:
        assert_invalid(functools.partial(stub.ListJobs, req, metadata=md, timeout=10), fld)
    # The edges of Timestamp's range are valid requests.
    edge = pb.ListJobsRequest(
        created_after=Timestamp(seconds=-62_135_596_800),
        created_before=Timestamp(seconds=253_402_300_799, nanos=999_999_999),
    )
    submit(stub)
    assert len(stub.ListJobs(edge, metadata=md, timeout=10).jobs) == 1


def test_an_idempotency_key_is_bound_to_its_request(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    first = submit(stub, prompt="one", idempotency_key="batch-7", options=pb.JobOptions(seed=3))
    again = submit(stub, prompt="one", idempotency_key="batch-7", options=pb.JobOptions(seed=3))
    assert first.created and not again.created and again.job.job_id == first.job.job_id
    different: dict[str, dict[str, Any]] = {
        "prompt": dict(prompt="two", options=pb.JobOptions(seed=3)),
        "options": dict(prompt="one", options=pb.JobOptions(seed=4)),
        "priority": dict(prompt="one", options=pb.JobOptions(seed=3), priority=pb.PRIORITY_HIGH),
        "n": dict(prompt="one", options=pb.JobOptions(seed=3), n=2),
    }
    for what, kw in different.items():
        code, details, _ = code_of(functools.partial(submit, stub, idempotency_key="batch-7", **kw))
        assert code == grpc.StatusCode.ALREADY_EXISTS, (what, code, details)
        assert "idempotency_key 'batch-7'" in details, details
    assert queued(stack) == 1


def test_racing_submits_under_one_key_make_one_job(make_stack: Callable[..., Stack]) -> None:
    """Two payloads race for one key: exactly one job; every same-payload submit gets it and
    every other-payload submit is ALREADY_EXISTS."""
    stack = make_stack()
    stub = stack.stub()
    barrier = threading.Barrier(16)

    def go(i: int) -> tuple[str, Any]:
        barrier.wait()
        try:
            resp = submit(stub, prompt=f"payload {i % 2}", idempotency_key="race")
            return f"payload {i % 2}", resp
        except grpc.RpcError as e:
            return f"payload {i % 2}", e.code()

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(go, range(16)))
    created = [r for _, r in results if isinstance(r, pb.SubmitJobResponse) and r.created]
    assert len(created) == 1
    winner = stack.queue.get(created[0].job.job_id).payload["prompt"]
    for prompt, r in results:
        if prompt == winner:
            assert isinstance(r, pb.SubmitJobResponse), r
            assert r.job.job_id == created[0].job.job_id
        else:
            assert r == grpc.StatusCode.ALREADY_EXISTS
    assert queued(stack) == 1


def test_seeds_the_pipeline_cannot_take_are_refused(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    for seed, n in ((-(2**63), 1), (-1, 1), (2**63 - 1, 2)):
        details = assert_invalid(
            functools.partial(submit, stub, n=n, options=pb.JobOptions(seed=seed)),
            "options.seed",
        )
        assert str(seed) in details
    assert queued(stack) == 0
    for seed, n in ((0, 4), (2**63 - 4, 4), (2**63 - 1, 1)):
        assert submit(stub, n=n, options=pb.JobOptions(seed=seed)).created


def test_control_characters_in_text_are_refused(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    for prompt in ("a\x00b", "\x1b[2Jhi", "carriage\rreturn", "del\x7f", "c1\x85", "x\x0b"):
        details = assert_invalid(functools.partial(submit, stub, prompt=prompt), "prompt")
        assert "U+" in details
    identity = c.Identity(name="Ana\x00", appearance=["ok", "tall\x07"])
    assert_invalid(
        lambda: submit(stub, options=pb.JobOptions(identity_a=identity)),
        "options.identity_a.name",
    )
    identity = c.Identity(name="Ana", appearance=["ok", "tall\x07"])
    assert_invalid(
        lambda: submit(stub, options=pb.JobOptions(identity_b=identity)),
        "options.identity_b.appearance",
    )
    assert queued(stack) == 0
    ok = submit(stub, prompt="Line one,\n\tline two — with ünïcode 🙂")
    assert ok.created


def test_audio_that_can_only_fail_is_refused_before_queueing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stub = stack.stub()
    put = stack.store.put_bytes
    mono = put(wav_bytes(np.zeros(16000), 16000))
    stereo = put(wav_bytes(np.zeros((16000, 2)), 16000))
    full = wav_bytes(np.zeros(16000), 16000)
    hostile = {
        "300 bytes of a 1 s WAV": put(full[:300]),
        "header claims 4 GB": put(crafted_wav(claim=4_000_000_000)),
        "0 channels": put(crafted_wav(channels=0)),
        "2^30 Hz": put(crafted_wav(rate=2**30)),
        "1 Hz": put(crafted_wav(rate=1)),
        "header only": put(crafted_wav(n=0)),
        "not audio": put(b"hello, this is not audio at all" * 4),
        "empty": put(b""),
    }

    def pair(a: ArtifactRef, b: ArtifactRef = mono) -> pb.AudioInput:
        return pb.AudioInput(track_a=a.to_proto(), track_b=b.to_proto())

    for case, ref in hostile.items():
        details = assert_invalid(functools.partial(submit, stub, audio=pair(ref)), "audio.track_a")
        assert stack.store.root_uri.removeprefix("file://") not in details, (case, details)
    details = assert_invalid(
        lambda: submit(stub, audio=pb.AudioInput(stereo=mono.to_proto())), "audio.stereo"
    )
    assert "1 channel" in details
    # Claims that contradict the stored bytes.
    wrong_size = ArtifactRef(mono.uri, mono.sha256, mono.size_bytes + 1, mono.content_type)
    assert_invalid(lambda: submit(stub, audio=pair(wrong_size)), "audio.track_a.size_bytes")
    negative = ArtifactRef(mono.uri, "", -1, "")
    assert_invalid(lambda: submit(stub, audio=pair(negative)), "audio.track_a.size_bytes")
    wrong_hash = ArtifactRef(mono.uri, hashlib.sha256(b"x").hexdigest(), 0, "")
    assert_invalid(lambda: submit(stub, audio=pair(wrong_hash)), "audio.track_a.sha256")
    assert queued(stack) == 0

    # Other formats are read from a spooled copy's header: a long FLAC, a mono FLAC as stereo.
    long_flac, mono_flac = io.BytesIO(), io.BytesIO()
    sf.write(long_flac, np.zeros(8000 * 601, np.float32), 8000, format="FLAC")
    sf.write(mono_flac, np.zeros(16000, np.float32), 16000, format="FLAC")
    details = assert_invalid(
        lambda: submit(stub, audio=pair(put(long_flac.getvalue()))), "audio.track_a"
    )
    assert "601.0 s of audio" in details
    flac_as_stereo = pb.AudioInput(stereo=put(mono_flac.getvalue()).to_proto())
    assert_invalid(lambda: submit(stub, audio=flac_as_stereo), "audio.stereo")
    assert queued(stack) == 0

    ok = submit(stub, audio=pb.AudioInput(stereo=stereo.to_proto()))
    assert ok.created
    # A bare URI is queued with what the gateway verified: the stored size and the CAS hash.
    bare = submit(stub, audio=pair(ArtifactRef(mono.uri, "", 0, "")))
    spec = stack.queue.get(bare.job.job_id).payload
    assert spec["audio"]["track_a"] == {
        "uri": mono.uri,
        "sha256": mono.sha256,
        "size_bytes": mono.size_bytes,
        "content_type": "",
    }


def test_out_of_range_enums_are_refused(make_stack: Callable[..., Stack]) -> None:
    stub = make_stack().stub()
    md = auth(RED)
    assert_invalid(lambda: submit(stub, priority=99), "priority")
    assert_invalid(lambda: submit(stub, options=pb.JobOptions(layout=99)), "options.layout")  # type: ignore[arg-type]
    req = pb.ListJobsRequest(statuses=[-3])  # type: ignore[list-item]
    assert_invalid(functools.partial(stub.ListJobs, req, metadata=md), "statuses")
    assert_invalid(lambda: submit(stub, n=-1), "n")
    assert_invalid(
        functools.partial(stub.ListJobs, pb.ListJobsRequest(page_size=-1), metadata=md), "page_size"
    )


def test_the_cli_refuses_times_outside_the_timestamp_range(
    make_stack: Callable[..., Stack], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``dyad jobs --since 99…9d`` used to end in a ValueError traceback from protobuf."""
    import dyad.cli

    stack = make_stack()
    monkeypatch.setenv("DYAD_ENDPOINT", stack.endpoint)
    monkeypatch.setenv("DYAD_TOKEN", RED)
    for argv, fld in (
        (["jobs", "--since", "9" * 12 + "d"], "created_after"),
        (["jobs", "--since", "9" * 400 + "d"], "created_after"),
        (["jobs", "--until", "0001-01-01T00:00:00+14:00"], "created_before"),
    ):
        code = dyad.cli.main(argv)
        err = capsys.readouterr().err
        assert code == 2 and fld in err and "Traceback" not in err, (argv, err)
    assert dyad.cli.main(["jobs", "--until", "9999-12-31T00:00:00", "--json"]) == 0


def test_identities_the_worker_cannot_take_are_refused(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    nameless = c.Identity(age_band="adult")
    assert_invalid(
        lambda: submit(stub, options=pb.JobOptions(identity_a=nameless)), "options.identity_a.name"
    )
    bad_band = c.Identity(name="Ana", age_band="ancient")
    assert_invalid(
        lambda: submit(stub, options=pb.JobOptions(identity_b=bad_band)),
        "options.identity_b.age_band",
    )
    with_avatar = c.Identity(name="Ana", avatar_uri="s3://bucket/avatars/ana")
    with pytest.raises(grpc.RpcError) as e:
        submit(stub, options=pb.JobOptions(identity_a=with_avatar))
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert (e.value.details() or "").startswith("options.identity_a.avatar_uri:")
    assert queued(stack) == 0
