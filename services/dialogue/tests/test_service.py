"""The dialogue service over gRPC (our bootstrap) and from the CLI."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import soundfile as sf

from dyad.config import PlatformSettings
from dyad.services.dialogue.__main__ import build_server
from dyad.services.dialogue.settings import DialogueSettings
from dyad.storage import LocalStore
from dyad.testing import CliResult, free_port, run_cli, with_server
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as pb
from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc


def serve(tmp_path: Path, test: Callable[[Any, LocalStore], Awaitable[None]]) -> None:
    """``test(stub, store)`` against a real server (``dyad.testing.with_server``)."""
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    store = LocalStore(tmp_path / "store")
    server = build_server(platform, DialogueSettings())
    with_server(server, lambda ch: test(pb_grpc.DialogueServiceStub(ch), store))


def test_write_speak_segment_round_trip(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        written = await stub.WriteDialogues(
            pb.WriteDialoguesRequest(
                prompt="a mother and her son talk about his new job", num_dialogues=2, seed=4
            ),
            timeout=60,
        )
        assert len(written.dialogues) == 2
        d = written.dialogues[0]
        assert 5 <= len(d.turns) <= 10 and d.relation.blood and not d.relation.equal
        spoken = await stub.SynthesizeConversation(
            pb.SynthesizeConversationRequest(dialogue=d, seed=1, interaction_probability=1.0),
            timeout=120,
        )
        conv = spoken.conversation
        a = store.get_bytes(conv.track_a.artifact.uri)
        b = store.get_bytes(conv.track_b.artifact.uri)
        import io

        xa, ra = sf.read(io.BytesIO(a), dtype="float32")
        xb, rb = sf.read(io.BytesIO(b), dtype="float32")
        assert ra == rb == 16000 and xa.shape == xb.shape and xa.ndim == 1
        assert conv.track_a.duration_s == pytest.approx(xa.size / 16000)
        kinds = [s.kind for s in conv.timeline.segments]
        assert kinds.count(c.SEGMENT_KIND_SENTENCE) == sum(len(t.sentences) for t in d.turns)
        assert c.SEGMENT_KIND_BACKCHANNEL in kinds
        back = await stub.SegmentConversation(
            pb.SegmentConversationRequest(
                tracks=pb.TrackPair(track_a=conv.track_a.artifact, track_b=conv.track_b.artifact)
            ),
            timeout=60,
        )
        got = [s for s in back.conversation.timeline.segments if s.kind == c.SEGMENT_KIND_SENTENCE]
        assert len(got) >= len(d.turns) // 2  # VAD merges a speaker's sentences within a turn

    serve(tmp_path, t)


def test_bad_requests(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        cases = [
            (pb.WriteDialoguesRequest(prompt="  "), grpc.StatusCode.INVALID_ARGUMENT, "prompt"),
            (
                pb.WriteDialoguesRequest(prompt="x" * 4001),
                grpc.StatusCode.INVALID_ARGUMENT,
                "prompt",
            ),
            (pb.WriteDialoguesRequest(prompt="hi\x07"), grpc.StatusCode.INVALID_ARGUMENT, "prompt"),
            (
                pb.WriteDialoguesRequest(prompt="hi", num_dialogues=65),
                grpc.StatusCode.INVALID_ARGUMENT,
                "n",
            ),
            (
                pb.WriteDialoguesRequest(prompt="hi", backend="gpt"),
                grpc.StatusCode.INVALID_ARGUMENT,
                "backend",
            ),
            (
                pb.WriteDialoguesRequest(prompt="hi", backend="llm"),
                grpc.StatusCode.FAILED_PRECONDITION,
                None,
            ),
        ]
        for req, code, field in cases:
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.WriteDialogues(req, timeout=30)
            assert e.value.code() == code, e.value.details()
            if field:
                assert dict(e.value.trailing_metadata())["dyad-error-field"] == field
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.SynthesizeConversation(pb.SynthesizeConversationRequest(), timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert dict(e.value.trailing_metadata())["dyad-error-field"] == "dialogue"
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.SegmentConversation(pb.SegmentConversationRequest(), timeout=30)
        assert dict(e.value.trailing_metadata())["dyad-error-field"] == "source"

    serve(tmp_path, t)


def run(*args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(*args, env=env)


def test_cli_write_speak_from_audio(tmp_path: Path) -> None:
    r = run(
        "dialogue",
        "write",
        "--prompt",
        "two colleagues argue about the quarterly report",
        "--n",
        "2",
        "--seed",
        "9",
        "--out",
        str(tmp_path / "dlg"),
    )
    assert r.returncode == 0, r.stderr
    files = json.loads(r.stdout)["dialogues"]
    assert [Path(f).name for f in files] == ["dialogue_000.json", "dialogue_001.json"]
    r = run(
        "dialogue", "speak", "--dialogue", files[0], "--seed", "2", "--out", str(tmp_path / "conv")
    )
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "conv").iterdir())
    assert names == ["mix.wav", "speaker_a.wav", "speaker_b.wav", "timeline.json"]
    a, _ = sf.read(tmp_path / "conv" / "speaker_a.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "conv" / "speaker_b.wav", dtype="float32")
    assert a.shape == b.shape and np.abs(a).max() > 0.05 and np.abs(b).max() > 0.05
    r = run(
        "dialogue",
        "from-audio",
        "--audio",
        str(tmp_path / "conv" / "speaker_a.wav"),
        "--audio-b",
        str(tmp_path / "conv" / "speaker_b.wav"),
        "--out",
        str(tmp_path / "back"),
    )
    assert r.returncode == 0, r.stderr
    tl = json.loads((tmp_path / "back" / "timeline.json").read_text())
    assert tl["sample_rate"] == 16000 and tl["segments"]


def test_cli_bad_input_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "none"
    for args, env in (
        (["--prompt", ""], None),
        (["--prompt", "ok", "--n", "0"], None),
        (
            ["--prompt", "ok", "--backend", "llm"],
            {
                "DYAD_DIALOGUE_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
                "DYAD_DIALOGUE_LLM_MODEL": "m",
            },
        ),
    ):
        r = run("dialogue", "write", *args, "--out", str(out), env=env)
        assert r.returncode == 2, r.stderr
        assert (
            r.stderr.startswith("dyad: ")
            and r.stderr.count("\n") == 1
            and "Traceback" not in r.stderr
        )
        assert not out.exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"turns": []}')
    r = run("dialogue", "speak", "--dialogue", str(bad), "--out", str(out))
    assert r.returncode == 2 and "dialogue" in r.stderr and not out.exists()


def test_voices_and_spoken_text_are_checked_before_synthesis(tmp_path: Path) -> None:
    """Unknown or malformed voices, empty text and markup (SSML injection) in dialogue text:
    INVALID_ARGUMENT naming the field; a known voice is used and reported in the timeline."""

    async def t(stub: Any, store: LocalStore) -> None:
        written = await stub.WriteDialogues(
            pb.WriteDialoguesRequest(prompt="two friends plan a trip", seed=2), timeout=60
        )
        d = written.dialogues[0]

        async def code(**fields: Any) -> tuple[Any, str]:
            req = pb.SynthesizeConversationRequest(dialogue=d, seed=1, **fields)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.SynthesizeConversation(req, timeout=60)
            return e.value.code(), e.value.details()

        status, details = await code(voice_a="piper:nobody")
        assert status == grpc.StatusCode.INVALID_ARGUMENT and "voice_a" in details
        status, details = await code(voice_b="espeak")
        assert status == grpc.StatusCode.INVALID_ARGUMENT and "voice_b" in details
        injected = '<prosody rate="x-slow">slow</prosody> <break time="60s"/>'
        d.turns[1].sentences[0].text = injected
        status, details = await code()
        assert status == grpc.StatusCode.INVALID_ARGUMENT
        assert "turns[1].sentences[0].text" in details and "markup" in details
        d.turns[1].sentences[0].text = " "
        status, details = await code()
        assert status == grpc.StatusCode.INVALID_ARGUMENT and "turns[1]" in details
        d.turns[1].sentences[0].text = "Fine, let us go on Friday."
        ok = await stub.SynthesizeConversation(
            pb.SynthesizeConversationRequest(dialogue=d, seed=1, voice_a="flite:slt"), timeout=120
        )
        assert ok.conversation.timeline.speaker_a.voice == "flite:slt"

    serve(tmp_path, t)
