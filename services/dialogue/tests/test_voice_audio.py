"""What the installed voices do to the waveform, measured: each engine moves F0, speaking rate
and loudness the way each emotion commands; sentence joins do not click; the timeline's times
hold the speech (WebRTC's VAD as the judge); a missing voice names its setting; and nothing
reaches the network while every installed engine speaks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad.domain import Dialogue, Emotion, Identity, Relation, Sentence, Turn
from dyad.errors import ConfigError, FailedPrecondition
from dyad.services.dialogue.core import engine_from_settings
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.dialogue.speech.conversation import speak
from dyad.services.dialogue.speech.dsp import active_rms, f0_track
from dyad.services.dialogue.speech.engines.piper import SETTING, PiperEngine
from dyad.services.dialogue.speech.voicebox import Voicebox, discover, make_engine
from dyad.services.dialogue.speech.voices import CastVoice
from dyad.timebase import SAMPLE_RATE as SR

TEXT = "I really thought we would finish the whole garden before the weekend was over."
ENGINES, MISSING = discover()
BY_ENGINE = {e.name: e for e in ENGINES}
#: one voice per installed engine (the first it lists)
VOICES = [(e.name, e.voices()[0].name) for e in ENGINES]


def voice(engine: str, name: str) -> tuple[Voicebox, CastVoice]:
    box = Voicebox([BY_ENGINE[engine]], engine)
    info = next(v for v in box.voices() if v.name == name)
    return box, CastVoice(info)


def median_st(x: np.ndarray) -> float:
    f0 = f0_track(x)
    voiced = f0[f0 > 0]
    assert voiced.size > 50, "too few voiced frames to measure"
    return float(12 * np.log2(np.median(voiced)))


def measure(x: np.ndarray) -> dict[str, float]:
    return {"st": median_st(x), "s": x.size / SR, "db": 20 * np.log10(active_rms(x))}


@pytest.mark.parametrize(("engine", "name"), VOICES)
def test_each_emotion_moves_the_audio_the_way_it_commands(engine: str, name: str) -> None:
    """At intensity 1 the table asks: happy F0 ×1.20 (+3.2 st), sad ×0.88 (−2.2 st) and rate
    ×0.78, angry rate ×1.22 and loudness ×1.6 (+4.1 dB), sad loudness ×0.6 (−4.4 dB)."""
    box, cast = voice(engine, name)
    m = {
        c: measure(box.synthesize(TEXT, cast, Emotion(c, 1.0)))
        for c in ("neutral", "happy", "sad", "angry")
    }
    n = m["neutral"]
    assert m["happy"]["st"] - n["st"] > 1.5, m
    assert m["sad"]["st"] - n["st"] < (-0.5 if engine == "piper" else -1.5), m
    assert m["angry"]["s"] < 0.9 * n["s"] and m["sad"]["s"] > 1.12 * n["s"], m
    assert m["angry"]["db"] - n["db"] > 2.0 and m["sad"]["db"] - n["db"] < -2.0, m


def join_steps(track: np.ndarray, segments: Any) -> tuple[float, float]:
    """The largest sample step at any sentence edge (±2 ms), and the 99th percentile step
    inside the sentences."""
    edges, inside = [], []
    for seg in segments:
        i, j = round(seg.start_s * SR), round(seg.end_s * SR)
        for k in (i, j):
            w = track[max(0, k - 32) : k + 32].astype(np.float64)
            edges.append(np.abs(np.diff(w)).max(initial=0.0))
        inside.append(np.abs(np.diff(track[i:j].astype(np.float64))))
    return float(max(edges)), float(np.percentile(np.concatenate(inside), 99))


def vad_frames(track: np.ndarray) -> np.ndarray:
    """[F] bool: WebRTC VAD (aggressiveness 3) over 30 ms frames."""
    import webrtcvad

    vad, hop = webrtcvad.Vad(3), SR * 30 // 1000
    pcm = (np.clip(track, -1, 1) * 32767).astype("<i2")
    n = pcm.size // hop
    return np.array([vad.is_speech(pcm[k * hop : (k + 1) * hop].tobytes(), SR) for k in range(n)])


LINES = [
    ("a", "Did you see the message from the landlord this morning?", "surprised"),
    ("b", "I did, and I am honestly furious about the new rent.", "angry"),
    ("a", "We could ask him to wait until the spring, at least.", "neutral"),
    ("b", "That sounds fair. I will write to him tonight.", "happy"),
]


def two_people() -> Dialogue:
    return Dialogue(
        "voice-test",
        "rent",
        "casual",
        Identity("Maya Chen", "young_adult", "feminine"),
        Identity("Tom Reyes", "adult", "masculine"),
        Relation(False, True, "flatmates"),
        tuple(Turn(s, (Sentence(t, Emotion(c, 0.8)),)) for s, t, c in LINES),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def spoken() -> Any:
    return speak(two_people(), make_engine("auto"), seed=2, p_inter=1.0, room=False)


def test_sentence_joins_do_not_click(spoken: Any) -> None:
    for track, s in ((spoken.track_a, "a"), (spoken.track_b, "b")):
        edge, inside = join_steps(track, spoken.timeline.speaker_segments(s))
        assert edge < 0.04 * inside, (s, edge, inside)  # without the fades: 0.12 × on A


def test_timeline_times_hold_the_speech(spoken: Any) -> None:
    """≥ 90 % of the voice activity WebRTC's VAD finds on a track lies inside that speaker's
    segments (±60 ms), and every sentence's span is mostly voiced."""
    for track, s in ((spoken.track_a, "a"), (spoken.track_b, "b")):
        voiced = vad_frames(track)
        t = (np.arange(voiced.size) + 0.5) * 0.03
        segs = spoken.timeline.speaker_segments(s)
        inside = np.zeros(voiced.size, bool)
        for seg in segs:
            inside |= (t >= seg.start_s - 0.06) & (t <= seg.end_s + 0.06)
        assert voiced[inside].sum() >= 0.9 * voiced.sum(), s
        for seg in spoken.timeline.speaker_segments(s, "sentence"):
            span = (t >= seg.start_s) & (t <= seg.end_s)
            assert voiced[span].mean() > 0.5, (s, seg.text, voiced[span].mean())
    assert {who.voice for who in spoken.timeline.speakers.values()} == {
        v.info.id for v in make_engine("auto").cast(spoken.timeline.speakers, "voice-test").values()
    }


def test_missing_voices_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as e:
        PiperEngine((tmp_path / "nowhere",), packaged=False)
    assert e.value.setting == SETTING
    (tmp_path / "v.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"has no v\.onnx\.json") as e:
        PiperEngine((tmp_path,), packaged=False)
    with pytest.raises(FailedPrecondition, match=SETTING):
        PiperEngine((), packaged=False)
    monkeypatch.setenv("DYAD_DIALOGUE_TTS_VOICE_B", "piper:nobody")
    with pytest.raises(ConfigError) as e:
        engine_from_settings(DialogueSettings.from_env())
    assert e.value.setting == "DYAD_DIALOGUE_TTS_VOICE_B"
    monkeypatch.setenv("DYAD_DIALOGUE_TTS_VOICE_B", "")
    monkeypatch.setenv("DYAD_DIALOGUE_TTS_PIPER_VOICES", str(tmp_path / "gone"))
    with pytest.raises(ConfigError) as e:
        engine_from_settings(DialogueSettings.from_env())
    assert e.value.setting == SETTING


_OFFLINE = textwrap.dedent(
    """
    import socket, sys
    def refuse(*a, **k):
        raise OSError("network access attempted")
    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.create_connection = socket.getaddrinfo = refuse
    from dyad.domain import Emotion
    from dyad.services.dialogue.speech.voicebox import make_engine
    from dyad.services.dialogue.speech.voices import CastVoice
    box = make_engine("auto")
    spoken = []
    for info in box.voices():
        if info.engine == "espeak" and spoken and spoken[-1].startswith("espeak"):
            continue
        x = box.synthesize("Nothing leaves this machine.", CastVoice(info), Emotion("happy", 0.7))
        assert x.size > 8000, info.id
        spoken.append(info.id)
    print(" ".join(spoken))
    """
)


def test_nothing_reaches_the_network_while_every_engine_speaks() -> None:
    """Inside a network namespace with no interfaces but loopback (``unshare --net``), so the
    engines' subprocesses are cut off too; Python's own sockets refuse in any case."""
    cmd = [sys.executable, "-c", _OFFLINE]
    if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
        cmd = ["unshare", "--net", *cmd]
    else:
        pytest.skip("unshare --net is not permitted here (needs root or user namespaces)")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=os.environ)
    assert done.returncode == 0, done.stderr[-2000:]
    engines = {v.split(":")[0] for v in done.stdout.split()}
    assert engines == {e.name for e in ENGINES}, (done.stdout, MISSING)


def test_no_socket_is_opened_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    box = make_engine("auto")
    for info in {v.engine: v for v in box.voices()}.values():
        assert box.synthesize("Offline.", CastVoice(info), Emotion()).size > 1600


def test_backchannels_are_in_the_listeners_own_voice() -> None:
    """Every interactive word is synthesised with its speaker's cast voice (and offsets)."""
    box = make_engine("auto")
    calls: list[tuple[str, CastVoice]] = []
    synthesize = box.synthesize

    def spy(text: str, voice: Any, emotion: Emotion) -> np.ndarray:
        calls.append((text, voice))
        return synthesize(text, voice, emotion)

    box.synthesize = spy
    d = two_people()
    conv = speak(d, box, seed=2, p_inter=1.0, room=False)
    cast = box.cast({"a": d.speaker_a, "b": d.speaker_b}, d.dialogue_id)
    assert cast["a"] != cast["b"]
    words = [s for s in conv.timeline.segments if s.kind == "backchannel"]
    assert {w.speaker for w in words} == {"a", "b"}
    for w in words:
        assert (w.text, cast[w.speaker]) in calls, w
