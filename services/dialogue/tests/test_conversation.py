"""DADG + IAR: a dialogue spoken as two tracks on one timeline (real espeak-ng and room)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dyad.domain import Dialogue, Emotion, Identity, Relation, Sentence, SpeakerId, Turn
from dyad.services.dialogue.speech.conversation import SAMPLE_RATE, Conversation, speak
from dyad.services.dialogue.speech.voicebox import make_engine

LINES: list[tuple[SpeakerId, str, str]] = [
    ("a", "Hi Sam, have you seen the new schedule for the spring concert?", "happy"),
    ("b", "Not yet, is it bad? I heard the rehearsals moved to Saturday mornings.", "surprised"),
    ("a", "They did, and honestly I am furious about it. Nobody asked us at all!", "angry"),
    ("b", "That is such a shame. I was hoping to visit my grandmother those weekends.", "sad"),
    ("a", "Maybe we can talk to the director together tomorrow after class.", "neutral"),
    ("b", "Okay, let us do that. I will bring the old timetable to show her.", "happy"),
]


def dialogue() -> Dialogue:
    return Dialogue(
        dialogue_id="t",
        prompt="concert schedule",
        scenario="casual",
        speaker_a=Identity("Alex", "young_adult", "feminine"),
        speaker_b=Identity("Sam", "adult", "masculine"),
        relation=Relation(False, True, "friends"),
        environment="office",
        turns=tuple(Turn(s, (Sentence(text, Emotion(cat, 0.9)),)) for s, text, cat in LINES),
    )


@pytest.fixture(scope="module")
def conv() -> Conversation:
    return speak(dialogue(), make_engine("espeak"), seed=3, p_inter=1.0)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def test_timeline_is_well_formed(conv: Conversation) -> None:
    tl = conv.timeline
    n = conv.track_a.size
    assert conv.track_b.size == n and conv.mix.shape == (n, 2)
    assert tl.duration_s == pytest.approx(n / SAMPLE_RATE)
    starts = [s.start_s for s in tl.segments]
    assert starts == sorted(starts)
    sentences = [s for s in tl.segments if s.kind == "sentence"]
    assert [s.text for s in sentences] == [t for _, t, _ in LINES]
    for spk in "ab":
        own = tl.speaker_segments(spk)
        assert all(x.end_s <= y.start_s for x, y in itertools.pairwise(own))
    # Each speaker is silent while the other talks, except backchannels.
    for x, y in itertools.pairwise(sentences):
        assert x.end_s < y.start_s


def test_backchannels_sit_inside_the_partners_sentences(conv: Conversation) -> None:
    tl = conv.timeline
    bcs = [s for s in tl.segments if s.kind == "backchannel"]
    assert len(bcs) >= 4, "p_inter=1 should give a word for most sentences"
    for bc in bcs:
        host = [
            s
            for s in tl.segments
            if s.kind == "sentence"
            and s.speaker != bc.speaker
            and s.start_s <= bc.start_s
            and bc.end_s <= s.end_s
        ]
        assert len(host) == 1, bc
        assert bc.start_s >= host[0].start_s + 0.45, "never on top of the partner's first word"
        assert bc.text in ("uh-huh", "hmm", "okay", "yeah", "right", "mm-hmm", "oh", "I see")


def test_each_track_is_loud_in_its_own_segments_only(conv: Conversation) -> None:
    for spk, track in (("a", conv.track_a), ("b", conv.track_b)):
        mask = np.zeros(track.size, bool)
        for s in conv.timeline.speaker_segments(spk):
            mask[int(s.start_s * SAMPLE_RATE) : int(s.end_s * SAMPLE_RATE)] = True
        # Leave 0.5 s after each segment for the room's reverberation tail.
        tail = np.convolve(mask, np.ones(SAMPLE_RATE // 2), mode="full")[: track.size] > 0
        inside, outside = rms(track[mask]), rms(track[~tail])
        assert 20 * np.log10(inside / outside) > 30, (spk, inside, outside)


def test_emotion_is_audible(conv: Conversation) -> None:
    """The angry line (A) is louder and faster than the sad line (B); both go through the same
    room. Per-character duration normalises for the texts' lengths."""
    seg = {s.emotion.category: s for s in conv.timeline.segments if s.kind == "sentence"}
    angry, sad = seg["angry"], seg["sad"]

    def cut(track: np.ndarray, s: object) -> np.ndarray:
        return track[int(s.start_s * SAMPLE_RATE) : int(s.end_s * SAMPLE_RATE)]  # type: ignore[attr-defined]

    assert rms(cut(conv.track_a, angry)) > 1.3 * rms(cut(conv.track_b, sad))
    pace_angry = (angry.end_s - angry.start_s) / len(angry.text)
    pace_sad = (sad.end_s - sad.start_s) / len(sad.text)
    assert pace_angry < 0.85 * pace_sad


def test_mix_places_a_left_and_b_right(conv: Conversation) -> None:
    a = next(s for s in conv.timeline.segments if s.speaker == "a" and s.kind == "sentence")
    b = next(s for s in conv.timeline.segments if s.speaker == "b" and s.kind == "sentence")
    for seg, louder, quieter in ((a, 0, 1), (b, 1, 0)):
        part = conv.mix[int(seg.start_s * SAMPLE_RATE) : int(seg.end_s * SAMPLE_RATE)]
        assert rms(part[:, louder]) > 1.5 * rms(part[:, quieter])


def test_deterministic_per_seed() -> None:
    engine = make_engine("espeak")
    one, two = speak(dialogue(), engine, seed=5), speak(dialogue(), engine, seed=5)
    assert one.timeline == two.timeline and np.array_equal(one.track_a, two.track_a)
    other = speak(dialogue(), engine, seed=6)
    assert other.timeline != one.timeline
    none = speak(dialogue(), engine, seed=5, p_inter=0.0)
    assert not [s for s in none.timeline.segments if s.kind == "backchannel"]


def test_files(conv: Conversation, tmp_path: Path) -> None:
    files = conv.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in files)
    for name in ("speaker_a.wav", "speaker_b.wav"):
        info = sf.info(tmp_path / name)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "FLOAT")
        assert info.frames == conv.track_a.size
    assert sf.info(tmp_path / "mix.wav").channels == 2
    tl = json.loads((tmp_path / "timeline.json").read_text())
    assert set(tl) == {
        "sample_rate",
        "duration_s",
        "speakers",
        "relation",
        "sound_environment",
        "segments",
    }
    assert tl["sample_rate"] == 16000 and tl["relation"]["blood"] is False
    assert set(tl["segments"][0]) >= {"speaker", "kind", "text", "start_s", "end_s", "emotion"}


def test_sentences_spoken_in_threads_equal_the_serial_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speech threads change the time, never the audio or the timeline."""
    from dyad.services.dialogue.speech import conversation

    engine = make_engine("espeak")
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(conversation, "_SPEECH_THREADS", threads)
        runs.append(speak(dialogue(), engine, seed=7, p_inter=1.0))
    serial, threaded = runs
    np.testing.assert_array_equal(serial.track_a, threaded.track_a)
    np.testing.assert_array_equal(serial.track_b, threaded.track_b)
    assert serial.timeline.to_dict() == threaded.timeline.to_dict()
