"""Bring-your-own-audio segmentation: conversations built from known parts are recovered."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dyad.domain import Identity, Relation, Timeline
from dyad.errors import InvalidInput
from dyad.media.audio import load_audio, resample, wav_bytes
from dyad.services.dialogue.segmentation import (
    VadParams,
    load_pair,
    parse_transcript,
    segment_conversation,
    segment_with_report,
)
from dyad.timebase import SAMPLE_RATE as RATE

TOL = 0.1
NOISE_DBFS = -55.0
BLEED_DB = -20.0

# (speaker, kind, start_s, end_s, expected turn index): A's turn 2 and B's turn 3 hold two
# sentences each; B's backchannels sit inside A's turns 0 and 2.
SCRIPT = [
    ("a", "sentence", 0.5, 2.8, 0),
    ("b", "backchannel", 1.2, 1.55, 0),
    ("b", "sentence", 3.2, 5.0, 1),
    ("a", "sentence", 5.4, 7.4, 2),
    ("b", "backchannel", 6.3, 6.6, 2),
    ("a", "sentence", 7.9, 9.6, 2),
    ("b", "sentence", 10.0, 11.6, 3),
    ("b", "sentence", 12.1, 13.4, 3),
    ("a", "sentence", 13.8, 15.5, 4),
]
DURATION = 16.0


def synth_speech(seconds: float, f0: float, seed: int) -> np.ndarray:
    """Speech-like: five harmonics with a little vibrato, a 4 Hz syllable envelope, 10 ms ramps;
    about −20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / RATE
    x = sum(np.sin(k * phase + rng.uniform(0, 6.28)) / k for k in range(1, 6))
    env = 0.3 + 0.7 * np.sin(np.pi * 4 * t + rng.uniform(0, 3.14)) ** 2
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    y = x * env * ramp
    return (y * 0.1 / np.sqrt(np.mean(y**2))).astype(np.float32)


def steady(seconds: float, f0: float, dbfs: float) -> np.ndarray:
    """Harmonics at a constant level (no syllables), 10 ms ramps."""
    t = np.arange(round(seconds * RATE)) / RATE
    x = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(4 * np.pi * f0 * t)
    x *= np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return (x * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))).astype(np.float32)


def mix(
    parts: list[tuple[str, float, np.ndarray]],
    seconds: float,
    *,
    bleed_db: float = BLEED_DB,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Place clips on two tracks, add cross-talk bleed and a −55 dBFS noise floor."""
    n = round(seconds * RATE)
    clean = {"a": np.zeros(n, np.float32), "b": np.zeros(n, np.float32)}
    for spk, start, clip in parts:
        i = round(start * RATE)
        clean[spk][i : i + len(clip)] += clip
    rng = np.random.default_rng(seed)
    g = 10 ** (bleed_db / 20)
    sigma = 10 ** (NOISE_DBFS / 20)
    a = clean["a"] + g * clean["b"] + rng.normal(0, sigma, n)
    b = clean["b"] + g * clean["a"] + rng.normal(0, sigma, n)
    return a.astype(np.float32), b.astype(np.float32)


def synthetic_conversation(**kw: float) -> tuple[np.ndarray, np.ndarray]:
    parts = [
        (spk, s, synth_speech(e - s, 120.0 if spk == "a" else 210.0, seed=i))
        for i, (spk, _, s, e, _) in enumerate(SCRIPT)
    ]
    return mix(parts, DURATION, **kw)  # type: ignore[arg-type]


def check_recovered(tl: Timeline, expected: list[tuple[str, str, float, float, int]]) -> None:
    tl.validate()
    got = [(g.speaker, g.kind, g.start_s, g.end_s, g.turn_index) for g in tl.segments]
    assert len(got) == len(expected), f"expected {len(expected)} segments, got {got}"
    for g, want in zip(got, expected, strict=True):
        assert g[0] == want[0] and g[1] == want[1] and g[4] == want[4], (g, want)
        assert abs(g[2] - want[2]) <= TOL and abs(g[3] - want[3]) <= TOL, (g, want)


def test_synthetic_conversation_is_recovered() -> None:
    a, b = synthetic_conversation()
    tl = segment_conversation(a, b)
    check_recovered(tl, SCRIPT)
    assert tl.sample_rate == RATE and tl.duration_s == pytest.approx(DURATION)
    assert tl.speakers["a"].name == "Speaker A" and tl.speakers["b"].name == "Speaker B"
    assert tl.relation == Relation(False, True, "unknown") and tl.sound_environment == "unknown"
    assert Timeline.from_dict(tl.to_dict()).segments == tl.segments


def test_stronger_bleed_and_no_bleed() -> None:
    for bleed in (-12.0, -80.0):
        a, b = synthetic_conversation(bleed_db=bleed)
        check_recovered(segment_conversation(a, b), SCRIPT)


def test_bleed_alone_is_not_speech() -> None:
    """B never speaks; B's mic hears A at −20 dB: no segment for B, and a warning."""
    a, b = mix(
        [("a", 0.5, synth_speech(2.0, 120.0, 1)), ("a", 3.0, synth_speech(1.5, 120.0, 2))], 5
    )
    tl, warnings = segment_with_report(a, b)
    assert [(g.speaker, g.kind) for g in tl.segments] == [("a", "sentence")] * 2
    assert any("speaker B" in w and "no speech" in w for w in warnings)


def test_hysteresis_keeps_a_quiet_tail_but_needs_a_loud_onset() -> None:
    """A loud second, then half a second of a steady sound 9 dB above the floor: one segment
    to the end of the tail. The same quiet sound alone (below the start threshold) is not
    speech."""
    loud = synth_speech(1.0, 150.0, 3)
    quiet = steady(0.5, 150.0, NOISE_DBFS + 9)
    a, b = mix([("a", 0.5, loud), ("a", 1.5, quiet), ("a", 3.0, quiet), ("b", 4.0, loud)], 5.5)
    tl = segment_conversation(a, b)
    spans = [(g.speaker, round(g.start_s, 2), round(g.end_s, 2)) for g in tl.segments]
    assert len(spans) == 2, spans
    assert spans[0][0] == "a" and abs(spans[0][1] - 0.5) <= TOL and abs(spans[0][2] - 2.0) <= TOL


def test_overlap_at_equal_loudness_keeps_both_speakers() -> None:
    """B says 0.6 s over A at the same level: neither is "louder by 6 dB", yet both speak —
    each channel is well above the bleed the other explains."""
    parts = [
        ("a", 0.5, steady(2.5, 120.0, -20.0)),
        ("b", 1.4, steady(0.6, 210.0, -20.0)),
        ("b", 3.4, steady(1.2, 210.0, -20.0)),
    ]
    a, b = mix(parts, 5.0)
    expected = [
        ("a", "sentence", 0.5, 3.0, 0),
        ("b", "backchannel", 1.4, 2.0, 0),
        ("b", "sentence", 3.4, 4.6, 1),
    ]
    check_recovered(segment_conversation(a, b), expected)


def test_short_reply_in_the_others_pause_is_a_backchannel() -> None:
    """B's 0.3 s "yeah" falls in a 0.6 s pause of A's, touching neither sentence: still a
    backchannel, and A's turn goes on."""
    parts = [
        ("a", 0.5, steady(1.5, 120.0, -20.0)),
        ("b", 2.15, steady(0.3, 210.0, -20.0)),
        ("a", 2.6, steady(1.4, 120.0, -20.0)),
        ("b", 4.5, steady(1.0, 210.0, -20.0)),
    ]
    expected = [
        ("a", "sentence", 0.5, 2.0, 0),
        ("b", "backchannel", 2.15, 2.45, 0),
        ("a", "sentence", 2.6, 4.0, 0),
        ("b", "sentence", 4.5, 5.5, 1),
    ]
    check_recovered(segment_conversation(*mix(parts, 6.0)), expected)


def espeak(text: str, voice: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", "-w", str(path), "-v", voice, text], check=True)
        x = load_audio(path.read_bytes())
    # Ground truth: first to last 10 ms block within 30 dB of the loudest. espeak ends a
    # sentence with ~0.1 s of residue 25–35 dB down, which no listener would call speech.
    n = len(x) // 160
    power = np.square(x[: n * 160]).reshape(n, 160).mean(axis=1)
    keep = np.flatnonzero(power > power.max() * 1e-3)
    x = x[keep[0] * 160 : (keep[-1] + 1) * 160]
    return (x * 0.1 / np.sqrt(np.mean(x**2))).astype(np.float32)


def test_real_speech_conversation_is_recovered() -> None:
    voices = {"a": "en-us+m3", "b": "en-us+f3"}
    lines = [
        ("a", "sentence", "I went to the market this morning and bought apples"),
        ("b", "backchannel", "uh-huh"),
        ("b", "sentence", "Were they any good this time of year"),
        ("a", "sentence", "They were crisp and sweet"),
        ("b", "backchannel", "yeah"),
        ("a", "sentence", "I will bake a pie tonight"),
        ("b", "sentence", "Save me a slice please"),
        ("b", "sentence", "I can bring the cream"),
        ("a", "sentence", "Deal"),
    ]
    gaps = {("a", "b"): 0.4, ("b", "a"): 0.4, ("a", "a"): 0.5, ("b", "b"): 0.5}
    parts: list[tuple[str, float, np.ndarray]] = []
    expected: list[tuple[str, str, float, float, int]] = []
    t, prev, turn = 0.5, "", -1
    for spk, kind, text in lines:
        clip = espeak(text, voices[spk])
        if kind == "backchannel":  # over the middle of the other's latest sentence
            s = expected[-1][2] + 0.3 * (expected[-1][3] - expected[-1][2])
        else:
            s = t + (gaps[(prev, spk)] if prev else 0.0)
            turn += spk != prev
            t, prev = s + len(clip) / RATE, spk
        parts.append((spk, s, clip))
        expected.append((spk, kind, s, s + len(clip) / RATE, turn))
    a, b = mix(parts, t + 0.5)
    expected.sort(key=lambda r: r[2])
    transcript = [(spk, text) for spk, kind, text in lines if kind == "sentence"]
    tl = segment_conversation(a, b, transcript=transcript)
    check_recovered(tl, expected)
    assert [g.text for g in tl.segments if g.kind == "sentence"] == [x[1] for x in transcript]


def test_stereo_file_via_load_pair() -> None:
    a, b = synthetic_conversation()
    stereo = resample(np.stack([a, b], axis=1), RATE, 44100)
    buf = io.BytesIO()
    sf.write(buf, stereo, 44100, subtype="PCM_16", format="WAV")
    ta, tb = load_pair(buf.getvalue())
    assert ta.dtype == np.float32 and len(ta) == len(tb) == len(a)
    check_recovered(segment_conversation(ta, tb), SCRIPT)


def test_two_mono_files_at_different_rates_and_lengths() -> None:
    a, b = synthetic_conversation()
    file_a = wav_bytes(resample(a, RATE, 22050), 22050)
    file_b = wav_bytes(b[: -RATE // 2], RATE, "FLOAT")  # half a second short
    ta, tb = load_pair(file_a, file_b)
    assert len(ta) == len(tb) == len(a)
    assert not tb[-RATE // 2 :].any()
    tl, warnings = segment_with_report(ta, tb)
    check_recovered(tl, SCRIPT)
    assert warnings == []  # load_pair already padded
    _, warnings = segment_with_report(a, b[: -RATE // 2])
    assert warnings == ["speaker B's track was 0.500 s short; padded with zeros"]


def test_load_pair_rejects_wrong_channel_counts_and_bad_files() -> None:
    mono = wav_bytes(np.zeros(RATE, np.float32), RATE)
    with pytest.raises(InvalidInput, match=r"two channels.*--audio-b") as e:
        load_pair(mono)
    assert e.value.field == "audio"
    with pytest.raises(InvalidInput, match="got 3") as e:
        load_pair(wav_bytes(np.zeros((RATE, 3), np.float32), RATE))
    assert e.value.field == "audio"
    with pytest.raises(InvalidInput) as e:
        load_pair(mono, b"not audio")
    assert e.value.field == "audio_b"
    with pytest.raises(InvalidInput, match="differ in length") as e:
        load_pair(mono, wav_bytes(np.zeros(3 * RATE, np.float32), RATE))
    assert e.value.field == "audio_b"


def test_transcript_assignment_and_warnings() -> None:
    a, b = synthetic_conversation()
    names = {"a": Identity(name="Ana"), "b": Identity(name="Ben")}
    exact = [("a", "A1"), ("b", "B1"), ("a", "A2"), ("a", "A3"), ("b", "B2"), ("b", "B3")]
    exact.append(("a", "A4"))
    tl, warnings = segment_with_report(
        a, b, transcript=exact, identities=names, relation=Relation(True, False, "siblings")
    )
    assert warnings == []
    sentences = [(g.speaker, g.text) for g in tl.segments if g.kind == "sentence"]
    assert sentences == exact
    assert all(g.text == "" for g in tl.segments if g.kind == "backchannel")
    assert tl.speakers["a"].name == "Ana" and tl.relation.label == "siblings"

    # A has one line too many, B one too few: what fits is assigned, in order.
    uneven = [x for x in [*exact, ("a", "A5")] if x[1] != "B3"]
    tl, warnings = segment_with_report(a, b, transcript=uneven)
    a_texts = [g.text for g in tl.speaker_segments("a", "sentence")]
    b_texts = [g.text for g in tl.speaker_segments("b", "sentence")]
    assert a_texts == ["A1", "A2", "A3", "A4"] and b_texts == ["B1", "B2", ""]
    assert len(warnings) == 2
    assert (
        "speaker A has 5 lines but 4 sentences" in warnings[0] and "1 line(s) unused" in warnings[0]
    )
    assert (
        "speaker B has 2 lines but 3 sentences" in warnings[1] and "1 without text" in warnings[1]
    )


def test_parse_transcript() -> None:
    text = "A: Hello there.\n\n  b :  Hi!  \nA: How are you: fine?\n"
    assert parse_transcript(text) == [
        ("a", "Hello there."),
        ("b", "Hi!"),
        ("a", "How are you: fine?"),
    ]
    for bad in ("A: hi\nC: who?", "A hi", "B:", "A:   ", "", "\n\n"):
        with pytest.raises(InvalidInput) as e:
            parse_transcript(bad)
        assert e.value.field == "transcript"
    with pytest.raises(InvalidInput, match="line 2"):
        parse_transcript("A: hi\nnonsense")


def test_bad_inputs() -> None:
    a, b = synthetic_conversation()
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 10 ** (NOISE_DBFS / 20), len(a)).astype(np.float32)
    nan = b.copy()
    nan[100] = np.nan
    cases = [
        ((np.zeros(0, np.float32), b), {}, "track_a"),
        ((a, nan), {}, "track_b"),
        ((np.stack([a, b], 1), b), {}, "track_a"),
        ((a, b[: -2 * RATE]), {}, "track_b"),
        ((np.zeros_like(a), np.zeros_like(b)), {}, "audio"),
        ((noise, noise[::-1].copy()), {}, "audio"),
        ((a, a.copy()), {}, "audio"),
        ((a[:100], b[:100]), {}, "audio"),
        ((a, b), {"transcript": [("a", "x"), ("c", "y")]}, "transcript[1]"),
        ((a, b), {"identities": {"a": Identity(name="X")}}, "identities"),
        ((a, b), {"sample_rate": 0}, "sample_rate"),
    ]
    for args, kw, field in cases:
        with pytest.raises(InvalidInput) as e:
            segment_conversation(*args, **kw)  # type: ignore[arg-type]
        assert e.value.field == field, (field, e.value)
    with pytest.raises(InvalidInput, match="no speech found in either track"):
        segment_conversation(noise, noise[::-1].copy())
    with pytest.raises(InvalidInput) as e:
        VadParams(start_db=5.0, end_db=6.0)
    assert e.value.field == "params.end_db"
    with pytest.raises(InvalidInput):
        VadParams(frame_s=0.025, hop_s=0.01)


def test_other_sample_rates_are_resampled() -> None:
    a, b = synthetic_conversation()
    tl = segment_conversation(resample(a, RATE, 48000), resample(b, RATE, 48000), sample_rate=48000)
    assert tl.sample_rate == RATE
    check_recovered(tl, SCRIPT)
