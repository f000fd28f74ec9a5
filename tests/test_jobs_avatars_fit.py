"""Fit-avatar jobs on redis-server + moto's S3 server: the video checked before queueing, the
job on its own queue (a worker that takes only conversations never claims it; one that takes
``fit_avatar`` does), seen by GetJob/ListJobs/CancelJob like any job — and, once capture's
``fit_from_video`` exists, fitted end to end into the team's avatars."""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad import errors
from dyad.client import DyadClient
from dyad.errors import ConfigError
from dyad.media import wav_bytes, write_mp4
from dyad.queue import JobQueue
from dyad.services.gateway.cli import register_avatars
from dyad.services.gateway.fitjobs import kind_queue
from dyad.services.gateway.tests.stack import BLUE, RED, Stack
from dyad.services.worker.pipeline.jobs import PipelineRunner
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.worker import Worker
from dyad.testing import S3Server

pytestmark = pytest.mark.integration
REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "real" / "video"


class _Recording:
    """A runner that records what it is given: which jobs a worker claims, nothing else."""

    stages = ("fit",)

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def run(self, job_id: str, spec: dict[str, Any], store: Any, report: Any) -> dict[str, Any]:
        self.specs.append(spec)
        return {"manifest": store.put_manifest(job_id, {"job_id": job_id}).to_dict()}


def _video(stack: Stack, team: str, name: str = "me.mp4", frames: int = 10) -> str:
    """A small MP4 (``frames`` at 25 fps, 64×64) uploaded as ``uploads/<team>/<name>``."""
    rgb = np.zeros((frames, 64, 64, 3), np.uint8)  # [T, H, W, 3]
    rgb[:, 16:48, 16:48] = np.linspace(0, 255, frames, dtype=np.uint8)[:, None, None, None]
    with tempfile.TemporaryDirectory() as tmp:
        write_mp4(Path(tmp) / name, rgb, fps=25)
        data = (Path(tmp) / name).read_bytes()
    return stack.store.put_named(f"uploads/{team}/{name}", data, "video/mp4").uri


def test_the_video_is_checked_before_the_job_is_queued(
    make_stack: Callable[..., Stack], s3_server: S3Server
) -> None:
    stack = make_stack(s3_server, max_video_bytes=200_000, max_video_duration_s=2.0)
    good = _video(stack, "red")
    wav = stack.store.put_named("uploads/red/a.wav", wav_bytes(np.zeros(1600), 16000)).uri
    long = _video(stack, "red", "long.mp4", frames=75)  # 3 s
    big = stack.store.put_named("uploads/red/big.mp4", b"\x00" * 200_001).uri
    with DyadClient(stack.endpoint, RED, timeout=30) as red:
        cases: dict[str, tuple[Any, dict[str, Any]]] = {
            "fit_avatar.video": (wav, {}),  # audio only: no video stream
            "fit_avatar.name": (good, {"name": "../blue/x"}),
            "fit_avatar.iters": (good, {"iters": 0}),
            "fit_avatar.size_px": (good, {"size_px": 4096}),
        }
        for fld, (video, kw) in cases.items():
            with pytest.raises(errors.InvalidInput) as e:
                red.fit_avatar(video, **{"name": "me", **kw})
            assert e.value.field == fld, (fld, str(e.value))
        for video, words in ((long, "3.0 s long"), (big, "200001 bytes")):
            with pytest.raises(errors.InvalidInput) as e:
                red.fit_avatar(video, "me")
            assert e.value.field == "fit_avatar.video" and words in str(e.value)
            assert "/tmp" not in str(e.value)
        with pytest.raises(errors.InvalidInput) as e:  # not a container: no server path leaks
            red.fit_avatar(stack.store.put_named("uploads/red/x.mp4", b"RIFF....").uri, "me")
        assert e.value.field == "fit_avatar.video" and "/tmp" not in str(e.value)
    with (
        DyadClient(stack.endpoint, BLUE, timeout=30) as blue,
        pytest.raises(errors.PermissionDenied),  # red's upload is not blue's to read
    ):
        blue.fit_avatar(good, "me")
    fit_queue = kind_queue(stack.queue, "fit_avatar")
    assert fit_queue.list_jobs() == [] and stack.queue.list_jobs() == []


def test_a_fit_job_has_its_own_queue_and_the_job_api(
    make_stack: Callable[..., Stack], s3_server: S3Server, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = make_stack(s3_server)
    video = _video(stack, "red")
    with DyadClient(stack.endpoint, RED, timeout=30) as red:
        talk = red.submit("Two friends plan a trip")
        parser = argparse.ArgumentParser()
        register_avatars(parser.add_subparsers())
        args = parser.parse_args(
            [
                *("avatars", "fit", video, "--name", "me", "--iters", "5", "--size-px", "128"),
                *("--endpoint", stack.endpoint, "--token", RED),
            ]
        )
        assert args.func(args) == 0
        fit = json.loads(capsys.readouterr().out)
        assert fit["status"] == "queued" and fit["team"] == "red"
        fit_queue: JobQueue = kind_queue(stack.queue, "fit_avatar")
        spec = fit_queue.get(fit["job_id"]).payload
        assert spec["input"] == "fit_avatar" and spec["team"] == "red"
        assert spec["fit"]["name"] == "me" and spec["fit"]["iters"] == 5
        assert spec["fit"]["size_px"] == 128 and spec["fit"]["video"]["size_bytes"] > 0
        # Seen through the Job API like any job: get, list (both kinds, newest first).
        assert red.get(fit["job_id"]).status == "queued"
        assert [j.job_id for j in red.list()] == [fit["job_id"], talk.job_id]
        assert [j.job_id for j in red.list(limit=1)] == [fit["job_id"]]

        # A conversations-only worker never claims it; a fit_avatar worker does.
        talker, fitter = _Recording(), _Recording()
        for runner, kinds in ((talker, "generate"), (fitter, "fit_avatar")):
            settings = WorkerSettings(claim_block_s=0.2, max_jobs=1, job_kinds=kinds)
            worker = Worker(stack.queue, stack.store, runner, settings)
            for q in worker.queues:
                q.ensure_groups()
            thread = threading.Thread(target=worker.run, daemon=True)
            thread.start()
            thread.join(30)
        assert [s["input"] for s in talker.specs] == ["prompt"]
        assert [s["input"] for s in fitter.specs] == ["fit_avatar"]
        assert red.get(fit["job_id"]).status == "succeeded"

        queued = red.fit_avatar(video, "me-too")
        assert red.cancel(queued.job_id).status == "cancelled"
    with DyadClient(stack.endpoint, BLUE, timeout=30) as blue:
        with pytest.raises(errors.PermissionDenied):
            blue.get(fit["job_id"])
        assert blue.list() == []
    with pytest.raises(ConfigError):
        WorkerSettings(job_kinds="generate,render").validate()


def test_a_video_uploaded_through_the_api_feeds_a_fit_job(
    make_stack: Callable[..., Stack],
    s3_server: S3Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = make_stack(s3_server, max_video_upload_bytes=50_000)
    rgb = np.zeros((10, 64, 64, 3), np.uint8)  # [T, H, W, 3]
    rgb[:, 20:40] = 200
    write_mp4(tmp_path / "me.mp4", rgb, fps=25)
    (tmp_path / "a.wav").write_bytes(wav_bytes(np.zeros(1600), 16000))
    (tmp_path / "big.mp4").write_bytes(b"\x00" * 50_001)
    with DyadClient(stack.endpoint, RED, timeout=30) as red:
        video = red.upload_video(tmp_path / "me.mp4")
        data = (tmp_path / "me.mp4").read_bytes()
        assert video.sha256 == hashlib.sha256(data).hexdigest()
        assert video.uri == f"{stack.store.root_uri}/uploads/red/videos/{video.sha256}"
        assert stack.store.get_bytes(video.uri) == data and video.content_type == "video/mp4"
        for bad, words in (("a.wav", "no video stream"), ("big.mp4", "limit is 50000")):
            with pytest.raises(errors.InvalidInput) as e:
                red.upload_video(tmp_path / bad)
            assert e.value.field == "data" and words in str(e.value), str(e.value)
        assert stack.store.list("uploads/red/") == [f"uploads/red/videos/{video.sha256}"]
        job = red.fit_avatar(video, "me")
        fit_queue = kind_queue(stack.queue, "fit_avatar")
        assert fit_queue.get(job.job_id).payload["fit"]["video"]["uri"] == video.uri

    parser = argparse.ArgumentParser()
    register_avatars(parser.add_subparsers())
    cli = ["--endpoint", stack.endpoint, "--token", BLUE]
    args = parser.parse_args(["avatars", "fit", str(tmp_path / "me.mp4"), "--name", "me", *cli])
    assert args.func(args) == 0
    queued = json.loads(capsys.readouterr().out)
    spec = fit_queue.get(queued["job_id"]).payload
    assert spec["team"] == "blue"
    assert spec["fit"]["video"]["uri"].startswith(f"{stack.store.root_uri}/uploads/blue/videos/")


@pytest.mark.slow
# A real 20 s clip through every stage (face tracking of ~470 frames, shape fit, 20
# iterations, held-out tracking): 5.5 min on 2 loaded cores, past the suite's 300 s default.
@pytest.mark.timeout(1500)
def test_a_fit_job_stores_the_fitted_avatar(
    make_stack: Callable[..., Stack], s3_server: S3Server
) -> None:
    clip = REAL / "WolfgangLanger_Pexels.mp4"
    if not clip.is_file():
        pytest.skip(f"no real video fixture at {clip}")
    stack = make_stack(s3_server, max_video_duration_s=600.0)
    video = stack.store.put_named("uploads/red/me.mp4", clip.read_bytes(), "video/mp4").uri
    settings = WorkerSettings(claim_block_s=0.2, max_jobs=1, job_kinds="fit_avatar")
    worker = Worker(stack.queue, stack.store, PipelineRunner(), settings)
    for q in worker.queues:
        q.ensure_groups()
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    with DyadClient(stack.endpoint, RED, timeout=30) as red:
        job = red.fit_avatar(video, "wolfgang", iters=20, size_px=128)
        job = red.watch(job.job_id, timeout=1800)
        thread.join(30)
        assert job.status == "succeeded", job.error
        assert job.avatar is not None and job.avatar.name == "wolfgang"
        (listed,) = red.list_avatars()
        assert listed.avatar_id == job.avatar.avatar_id
        assert "metrics.json" in job.artifacts
        metrics = json.loads(stack.store.get_bytes(job.result_uris["metrics.json"]))
        assert isinstance(metrics, dict) and metrics
        # Usable by reference at once.
        talk = red.submit("Two friends plan a trip", avatar_a="wolfgang")
        assert (
            stack.queue.get(talk.job_id).payload["options"]["avatar_a"]
            == listed.uri.split(stack.store.root_uri + "/")[1]
        )
