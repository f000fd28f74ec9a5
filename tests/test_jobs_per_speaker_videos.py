"""The job option ``per_speaker_videos``, end to end: the SDK and ``dyad submit`` set it, the
gateway carries it into the queued spec, the real runner reads it, and a job without
per-speaker videos lists (and stores) the composite only; with them, all three videos."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dyad.client import DyadClient
from dyad.errors import InvalidInput
from dyad.services.gateway.cli import register_submit
from dyad.services.gateway.tests.stack import Stack
from dyad.services.gateway.tests.test_service import submit
from dyad.services.worker.pipeline.jobs import PipelineRunner, options_from_spec
from dyad.storage import LocalStore
from dyad.v1 import job_service_pb2 as pb

pytestmark = pytest.mark.integration
VIDEOS = {"conversation.mp4", "speaker_a.mp4", "speaker_b.mp4"}


class _Silent:
    def stage(self, name: str, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


def test_the_gateway_carries_the_option_to_the_runner(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stub = stack.stub()
    off = pb.JobOptions(per_speaker_videos=False)
    spec = stack.queue.get(submit(stub, options=off).job.job_id).payload
    assert spec["options"]["per_speaker_videos"] is False
    assert options_from_spec(spec).per_speaker_videos is False
    plain = stack.queue.get(submit(stub).job.job_id).payload
    assert "per_speaker_videos" not in plain["options"]  # unset: the runner's default, on
    assert options_from_spec(plain).per_speaker_videos is True


def test_the_runner_refuses_a_malformed_value() -> None:
    for bad in ("no", 0, None, [False]):
        with pytest.raises(InvalidInput) as e:
            options_from_spec({"options": {"per_speaker_videos": bad}})
        assert e.value.field == "options.per_speaker_videos"


def test_sdk_and_cli_set_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    def call(self: DyadClient, method: Any, request: Any, timeout: float | None = None) -> Any:
        sent.append(request)
        return pb.SubmitJobResponse(job=pb.Job(job_id="j"), created=True)

    monkeypatch.setattr(DyadClient, "_call", call)
    client = DyadClient("127.0.0.1:1", "token")
    client.submit("a prompt", per_speaker_videos=False)
    client.submit("a prompt")
    assert sent[0].options.HasField("per_speaker_videos") and not sent[0].options.per_speaker_videos
    assert not sent[1].options.HasField("per_speaker_videos")
    parser = argparse.ArgumentParser()
    register_submit(parser.add_subparsers())
    assert parser.parse_args(["submit", "--prompt", "x"]).per_speaker_videos is None
    args = parser.parse_args(["submit", "--prompt", "x", "--no-per-speaker-videos"])
    assert args.per_speaker_videos is False


@pytest.fixture(scope="module")
def runner_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineRunner, LocalStore]:
    return PipelineRunner(), LocalStore(tmp_path_factory.mktemp("jobs") / "store")


@pytest.mark.parametrize("singles", [False, True])
def test_a_job_lists_the_videos_it_asked_for(
    runner_store: tuple[PipelineRunner, LocalStore], singles: bool, tmp_path: Path
) -> None:
    runner, store = runner_store
    options = {"head_px": 64, "turns": [5, 5], "refine": False, "seed": 5}
    spec = {"input": "prompt", "prompt": "Two cousins plan a picnic", "n": 1, "options": options}
    if not singles:
        spec["options"] = {**options, "per_speaker_videos": False}
    result = runner.run(f"job-{singles}", spec, store, _Silent())
    videos = {name.split("/")[-1] for name in result["artifacts"] if name.endswith(".mp4")}
    assert videos == (VIDEOS if singles else {"conversation.mp4"})
    for name, ref in result["artifacts"].items():  # every listed artefact is in the store
        assert store.get_bytes(ref["uri"]) is not None, name
