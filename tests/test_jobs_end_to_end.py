"""The batch path end to end: redis-server + moto S3 + the gateway + two worker processes,
driven through the client SDK and the CLI with a team token."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dyad.cli
from dyad import errors
from dyad.client import DyadClient, ProgressEvent
from dyad.media import probe_video
from dyad.queue import JobStatus
from dyad.services.gateway.tests.stack import BLUE, RED, Stack, start_stack
from dyad.testing import RedisServer, S3Server

pytestmark = pytest.mark.integration
TOY = "dyad.services.worker.tests.toy_runner:build_runner"


@pytest.fixture(scope="module")
def cluster(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, list[subprocess.Popen[bytes]]]]:
    """Redis, the gateway on S3 and two worker processes waiting for work (one set per module:
    the tests use distinct jobs and idempotency keys)."""
    with RedisServer() as rs:
        tmp_path = tmp_path_factory.mktemp("cluster")
        stack, gateway = start_stack(rs.url, tmp_path / "store", s3_server)
        try:
            yield from _workers(stack, tmp_path)
        finally:
            gateway.__exit__()


def _workers(stack: Stack, tmp_path: Path) -> Iterator[tuple[Stack, list[subprocess.Popen[bytes]]]]:
    procs, logs = [], []
    for name in ("w1", "w2"):
        env = {
            **os.environ,
            **stack.env,
            "DYAD_LOG_LEVEL": "INFO",
            "DYAD_WORKER_RUNNER": TOY,
            "DYAD_WORKER_CONSUMER": name,
            "DYAD_WORKER_HEARTBEAT_INTERVAL_S": "0.5",
            "DYAD_WORKER_CLAIM_BLOCK_S": "0.2",
            "DYAD_TOY_STAGE_S": "0.3",
        }
        logs.append(tmp_path / f"{name}.log")
        with open(logs[-1], "wb") as err:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dyad.services.worker"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            )
    # Both have started (runner loaded, Redis reached) before jobs arrive.
    deadline = time.monotonic() + 60
    while not all(
        f"worker {n} started" in log.read_text() for n, log in zip(("w1", "w2"), logs, strict=True)
    ):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(p.poll() is None for p in procs), "a worker exited during start-up"
        time.sleep(0.05)
    yield stack, procs
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_two_workers_share_jobs_submitted_through_the_sdk(
    cluster: tuple[Stack, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    stack, _procs = cluster
    with DyadClient(stack.endpoint, RED, timeout=10) as client:
        jobs = [client.submit(f"conversation {i}", priority="high") for i in range(4)]
        assert all(j.created and j.status == "queued" and j.team == "red" for j in jobs)
        seen: dict[str, list[ProgressEvent]] = {}
        finals = [
            client.watch(j.job_id, on_progress=lambda ev: seen.setdefault(ev.job_id, []).append(ev))
            for j in jobs
        ]
        assert all(f.status == "succeeded" and f.progress == 1.0 for f in finals)
        assert sorted(seen) == sorted(j.job_id for j in jobs)
        for events in seen.values():
            assert events[-1].status == "succeeded"
            overall = [e.progress for e in events]
            assert overall == sorted(overall)
            assert {e.stage for e in events if e.stage} == {"speech", "motion", "render"}
        workers = {stack.queue.get(j.job_id).worker for j in jobs}
        assert workers == {"w1", "w2"}, "both workers took jobs"

        # Results: URIs in S3 and presigned HTTP URLs that a plain HTTP client can fetch.
        job = finals[0]
        assert (
            job.result_uris["manifest"] == f"{stack.store.root_uri}/jobs/{job.job_id}/manifest.json"
        )
        assert job.download_urls["video"].startswith("http://127.0.0.1")
        files = client.download(job, tmp_path / "out")
        assert sorted(files) == ["conv0/audio.wav", "conv0/motion.npz", "manifest", "video"]
        assert files["conv0/audio.wav"] == tmp_path / "out" / "conv0" / "audio.wav"
        assert files["video"].name == "video.mp4" and files["manifest"].name == "manifest.json"
        video = files["video"].read_bytes()
        assert hashlib.sha256(video).hexdigest() == job.artifacts["video"].sha256
        assert video == stack.store.get_bytes(job.result_uris["video"])
        info = probe_video(files["video"])
        assert info["video"] is not None and info["video"]["codec"] == "h264"
        manifest = json.loads(files["manifest"].read_text())
        assert manifest["job_id"] == job.job_id and manifest["spec"]["prompt"] == "conversation 0"

        # A tampered download is refused.
        tampered = dataclasses.replace(job.artifacts["video"], sha256="0" * 64)
        bad = dataclasses.replace(job, artifacts={"video": tampered})
        with pytest.raises(errors.IntegrityError):
            client.download(bad, tmp_path / "bad")
        assert not (tmp_path / "bad" / "video.mp4").exists()

    # Another team's token can neither read nor cancel the job, nor list it.
    with DyadClient(stack.endpoint, BLUE, timeout=10) as other:
        with pytest.raises(errors.PermissionDenied):
            other.get(job.job_id)
        with pytest.raises(errors.PermissionDenied):
            other.download(job.job_id, tmp_path / "stolen")
        assert other.list() == []
    with (
        DyadClient(stack.endpoint, "wrong-token-0123456789", timeout=10) as anon,
        pytest.raises(errors.Unauthenticated),
    ):
        anon.list()


def test_cli_submit_wait_status_jobs_cancel(
    cluster: tuple[Stack, list[subprocess.Popen[bytes]]],
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    stack, _ = cluster
    monkeypatch.setenv("DYAD_ENDPOINT", stack.endpoint)
    monkeypatch.setenv("DYAD_TOKEN", RED)
    # The real `dyad` entry point, in this process (its parser loads nothing heavy).

    def run(*argv: str) -> tuple[int, str, str]:
        code = dyad.cli.main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = run(
        "submit",
        "--prompt",
        "A quick chat",
        "--n",
        "2",
        "--priority",
        "high",
        "--idempotency-key",
        "cli-1",
        "--layout",
        "pip",
        "--no-refine",
        "--wait",
        "--download",
        str(tmp_path / "res"),
    )
    assert code == 0, err
    job = json.loads(out)
    assert job["status"] == "succeeded" and job["created"] is True and job["priority"] == "high"
    assert set(job["stages"]) == {"speech", "motion", "render"} and job["progress"] == 1.0
    assert Path(job["files"]["video"]).stat().st_size == job["artifacts"]["video"]["size_bytes"]
    assert "succeeded" in err.splitlines()[-1]  # progress lines go to stderr
    spec = stack.queue.get(job["job_id"]).payload
    assert spec["n"] == 2 and spec["options"] == {"layout": "pip", "refine": False}

    same = ("--n", "2", "--priority", "high", "--idempotency-key", "cli-1")
    code, out, _ = run("submit", "--prompt", "A quick chat", *same, "--layout=pip", "--no-refine")
    again = json.loads(out)
    assert code == 0 and again["job_id"] == job["job_id"] and again["created"] is False
    code, _, err = run("submit", "--prompt", "other text", *same)  # the key, another request
    assert code == 2 and "idempotency_key 'cli-1'" in err

    code, out, _ = run("status", job["job_id"], "--json")
    status = json.loads(out)
    assert code == 0 and status["result"]["video"].startswith("s3://")
    assert status["stages"]["render"] == {"progress": 1.0, "status": "succeeded"}

    code, out, _ = run("jobs", "--json", "--status", "succeeded", "--since", "10m")
    listed = json.loads(out)
    assert code == 0 and listed[0]["job_id"] == job["job_id"]  # newest first
    assert all(j["status"] == "succeeded" and j["team"] == "red" for j in listed)
    code, out, _ = run("jobs", "--json", "--until", "1h")
    assert code == 0 and json.loads(out) == []

    # Cancel: a low-priority job behind busy workers, or mid-run; either way it ends cancelled.
    code, out, _ = run("submit", "--prompt", "never mind", "--priority", "low")
    victim = json.loads(out)["job_id"]
    code, out, _ = run("cancel", victim)
    assert code == 0 and json.loads(out)["cancel_requested"] is True
    deadline = time.monotonic() + 30
    while stack.queue.get(victim).status not in (JobStatus.CANCELLED, JobStatus.SUCCEEDED):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stack.queue.get(victim).status == JobStatus.CANCELLED

    # Errors: one line, exit 2.
    for argv, needle in (
        (("status", job["job_id"], "--token", "not-the-token-0123456"), "invalid bearer token"),
        (("status", "0123456789abcdef"), "no job"),
        (("submit", "--prompt", "x" * 500), "prompt:"),
        (("jobs", "--since", "yesterday"), "--since:"),
    ):
        code, out, err = run(*argv)
        lines = err.strip().splitlines()
        assert code == 2 and out == "" and len(lines) == 1 and needle in lines[0], (argv, err)
