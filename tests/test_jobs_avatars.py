"""A team's avatars through the Job API, on redis-server + moto's S3 server: uploaded (SDK and
``dyad avatars``), checked before anything is stored, listed per team, and rendered by
reference in a job — a reference another team cannot use."""

from __future__ import annotations

import argparse
import json
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad import errors
from dyad.client import DyadClient
from dyad.media import wav_bytes
from dyad.services.gateway.cli import register_avatars
from dyad.services.gateway.tests.stack import BLUE, RED, Stack
from dyad.services.worker.pipeline.jobs import PipelineRunner
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.worker import Worker
from dyad.testing import S3Server

pytestmark = pytest.mark.integration
#: A short, small job: what the avatar changes is the render.
SMALL: dict[str, Any] = {"head_px": 64, "refine": False, "seed": 11, "per_speaker_videos": False}


@pytest.fixture(scope="module")
def avatar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dyad.services.renderer.avatars.avatar import create_avatar

    d = tmp_path_factory.mktemp("avatar")
    create_avatar("a tall woman with red hair", head="procedural", seed=7).save(d)
    return d


def _copy(src: Path, dest: Path, **changes: bytes) -> Path:
    dest.mkdir()
    for name in ("config.json", "model.safetensors"):
        (dest / name).write_bytes(changes.get(name.split(".")[0], (src / name).read_bytes()))
    return dest


def _without_tensor(model: bytes, name: str) -> bytes:
    """The safetensors file less one tensor (header and data rewritten consistently)."""
    (n,) = struct.unpack("<Q", model[:8])
    header = json.loads(model[8 : 8 + n])
    body = model[8 + n :]
    kept, parts, at = {}, [], 0
    for key, t in sorted(header.items(), key=lambda kv: kv[1].get("data_offsets", [0])[0]):
        if key == "__metadata__" or key == name:
            continue
        start, end = t["data_offsets"]
        kept[key] = {**t, "data_offsets": [at, at + end - start]}
        parts.append(body[start:end])
        at += end - start
    raw = json.dumps(kept).encode()
    return struct.pack("<Q", len(raw)) + raw + b"".join(parts)


def test_avatars_are_checked_stored_and_listed_per_team(
    make_stack: Callable[..., Stack], s3_server: S3Server, avatar_dir: Path, tmp_path: Path
) -> None:
    stack = make_stack(s3_server)
    with DyadClient(stack.endpoint, RED, timeout=10) as red:
        ana = red.upload_avatar(avatar_dir, "ana")
        assert ana.created and ana.rig == "arkit55" and ana.head == "procedural"
        assert ana.num_gaussians > 1000 and len(ana.avatar_id) == 32
        assert ana.uri == f"{stack.store.root_uri}/avatars/teams/red/{ana.avatar_id}"
        size = sum((avatar_dir / n).stat().st_size for n in ("config.json", "model.safetensors"))
        assert ana.size_bytes == size
        again = red.upload_avatar(avatar_dir, "ana")
        assert again.created is False and again.avatar_id == ana.avatar_id
        stored = stack.store.list("avatars/teams/red/")
        assert len(stored) == 3  # two files + the name, once

        # Refused before anything is stored, naming the field (and the entry in the file).
        config = json.loads((avatar_dir / "config.json").read_text())
        model = (avatar_dir / "model.safetensors").read_bytes()
        bad = {
            "config_json.format": {"config": json.dumps({**config, "version": 2}).encode()},
            "config_json.rig": {"config": json.dumps({**config, "rig": "smplx"}).encode()},
            "config_json": {"config": b"\x00not json"},
            "model_safetensors.soft": {"model": _without_tensor(model, "soft")},
            "model_safetensors.xyz": {"model": model[:-4]},  # truncated: its range is outside
            "model_safetensors": {"model": b"PK\x03\x04 a zip file, not tensors"},
        }
        for i, (fld, change) in enumerate(bad.items()):
            d = _copy(avatar_dir, tmp_path / f"bad{i}", **change)
            with pytest.raises(errors.InvalidInput) as e:
                red.upload_avatar(d, f"bad{i}")
            assert e.value.field == fld, (fld, str(e.value))
        with pytest.raises(errors.InvalidInput) as e:
            red.upload_avatar(avatar_dir, "../blue/ana")
        assert e.value.field == "name"
        assert stack.store.list("avatars/teams/red/") == stored
        assert [a.name for a in red.list_avatars()] == ["ana"]

        job = red.submit("Two friends plan a trip", avatar_a="ana", avatar_b=ana.avatar_id)
        spec = stack.queue.get(job.job_id).payload
        key = f"avatars/teams/red/{ana.avatar_id}"
        assert spec["options"]["avatar_a"] == key and spec["options"]["avatar_b"] == key
        with pytest.raises(errors.NotFound):
            red.submit("Two friends plan a trip", avatar_b="nobody")
        with pytest.raises(errors.InvalidInput) as e:  # posed by arkit55, animated by flame56
            red.submit("Two friends plan a trip", avatar_a="ana", rig="flame56")
        assert e.value.field == "options.avatar_a"

    with DyadClient(stack.endpoint, BLUE, timeout=10) as blue:
        assert blue.list_avatars() == []
        for ref in ("ana", ana.avatar_id):  # red's name and red's id: not blue's to use
            with pytest.raises(errors.NotFound):
                blue.submit("Two friends plan a trip", avatar_a=ref)
        assert blue.upload_avatar(avatar_dir, "ana").uri.startswith(
            f"{stack.store.root_uri}/avatars/teams/blue/"
        )

    small = make_stack(s3_server, max_avatar_bytes=1000)
    with DyadClient(small.endpoint, RED, timeout=10) as red:
        with pytest.raises(errors.InvalidInput) as e:
            red.upload_avatar(avatar_dir, "big")
        assert e.value.field == "model_safetensors" and "limit is 1000" in str(e.value)


def test_the_cli_uploads_and_lists(
    make_stack: Callable[..., Stack],
    avatar_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = make_stack()
    parser = argparse.ArgumentParser()
    register_avatars(parser.add_subparsers())
    common = ["--endpoint", stack.endpoint, "--token", RED]
    args = parser.parse_args(["avatars", "upload", str(avatar_dir), "--name", "ana", *common])
    assert args.func(args) == 0
    uploaded = json.loads(capsys.readouterr().out)
    assert uploaded["name"] == "ana" and uploaded["created"] is True
    args = parser.parse_args(["avatars", "list", "--json", *common])
    assert args.func(args) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["avatar_id"] == uploaded["avatar_id"] and "created" not in listed


def test_a_job_renders_the_team_avatar_it_names(
    make_stack: Callable[..., Stack], s3_server: S3Server, avatar_dir: Path
) -> None:
    stack = make_stack(s3_server)
    worker = Worker(
        stack.queue,
        stack.store,
        PipelineRunner(),
        WorkerSettings(heartbeat_interval_s=1.0, claim_block_s=0.1, max_jobs=2),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    # Bring-your-own-audio (1.6 s, one speaker after the other): no dialogue, no speech.
    sr, t = 16000, np.arange(int(1.6 * 16000)) / 16000
    tracks = {
        slot: stack.store.put_named(
            f"uploads/red/{slot}.wav",
            wav_bytes((0.3 * np.sin(2 * np.pi * hz * t) * on).astype(np.float32), sr),
            "audio/wav",
        ).uri
        for slot, hz, on in (("track_a", 180, t < 0.8), ("track_b", 120, t >= 0.8))
    }
    with DyadClient(stack.endpoint, RED, timeout=10) as red:
        red.upload_avatar(avatar_dir, "ana")
        plain = red.watch(red.submit(audio=tracks, **SMALL).job_id, timeout=300)
        named = red.submit(audio=tracks, avatar_a="ana", **SMALL)
        named = red.watch(named.job_id, timeout=300)
    thread.join(30)
    assert plain.status == named.status == "succeeded", (plain.error, named.error)
    videos = [stack.store.get_bytes(j.result_uris["video"]) for j in (plain, named)]
    assert all(len(v) > 1000 for v in videos)
    assert named.artifacts["video"].sha256 != plain.artifacts["video"].sha256
    # Everything before the render is the same conversation (the stage cache served it).
    motion = [j.artifacts[k].sha256 for j in (plain, named) for k in j.artifacts if "motion_a" in k]
    assert len(motion) == 2 and motion[0] == motion[1]
