"""The fast speech paths equal their references sample for sample: the pipelined layout (words
spoken alongside the sentences, repeated words spoken once) against the serial one, the room
on two threads against one, Piper with sleeping idle threads against spinning ones."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from dyad.domain import ENVIRONMENTS, Dialogue, Emotion, Identity, Relation, Sentence, Turn
from dyad.errors import InvalidInput, Unavailable
from dyad.services.dialogue.speech import conversation
from dyad.services.dialogue.speech.acoustics import render_room
from dyad.services.dialogue.speech.conversation import Conversation, speak
from dyad.services.dialogue.speech.refinement import BACKCHANNEL_EMOTION
from dyad.services.dialogue.speech.voicebox import SpeechEngine, discover, make_engine

TURNS = [
    ("a", ["Did you get my message about the trip?", "I sent it on Monday, right after lunch."]),
    ("b", ["I did, and I think Lisbon in May sounds wonderful.", "Shall we take the train?"]),
    ("a", ["The train is slow, but honestly I would love to see the coast on the way."]),
    ("b", ["Then it is settled.", "I will look at the timetables tonight and call you."]),
    ("a", ["Perfect, talk to you tomorrow."]),
]


def dialogue(environment: str = "cafe", a: str = "feminine") -> Dialogue:
    return Dialogue(
        dialogue_id="pipeline",
        prompt="a trip",
        scenario="casual",
        speaker_a=Identity("Ines", "adult", a),
        speaker_b=Identity("Rui", "adult", "masculine"),
        relation=Relation(False, True, "friends"),
        environment=environment,
        turns=tuple(
            Turn(s, tuple(Sentence(t, Emotion("happy", 0.5)) for t in texts))  # type: ignore[arg-type]
            for s, texts in TURNS
        ),
    )


def assert_same(one: Conversation, two: Conversation) -> None:
    np.testing.assert_array_equal(one.track_a, two.track_a)
    np.testing.assert_array_equal(one.track_b, two.track_b)
    np.testing.assert_array_equal(one.mix, two.mix)
    assert one.timeline.to_dict() == two.timeline.to_dict()


class Counting:
    """An engine that counts what it is asked to say, and may fail on one text."""

    def __init__(
        self, inner: SpeechEngine, deterministic: bool, fail: tuple[str, ...] = ()
    ) -> None:
        self.inner, self.name, self.deterministic, self.fail = (
            inner,
            inner.name,
            deterministic,
            fail,
        )
        self.said: Counter[tuple[str, str]] = Counter()

    def voices(self) -> Any:
        return self.inner.voices()

    def cast(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.cast(*args, **kwargs)

    def synthesize(self, text: str, voice: Any, emotion: Emotion) -> np.ndarray:
        self.said[text, voice.info.id] += 1
        if text in self.fail:
            raise Unavailable(f"cannot say {text!r}")
        return self.inner.synthesize(text, voice, emotion)


@pytest.fixture(scope="module")
def espeak() -> SpeechEngine:
    return make_engine("espeak")


@pytest.mark.parametrize(("seed", "p_inter"), [(0, 1.0), (1, 0.5), (2, 0.8)])
def test_pipelined_speech_equals_the_serial_reference(
    espeak: SpeechEngine, seed: int, p_inter: float
) -> None:
    """Same tracks, mix and timeline for a dialogue and seed, the room included."""
    fast = speak(dialogue(), espeak, seed=seed, p_inter=p_inter)
    assert_same(speak(dialogue(), espeak, seed=seed, p_inter=p_inter, reference=True), fast)
    if p_inter == 1.0:  # words at all, so the test would see them misplaced
        assert [s for s in fast.timeline.segments if s.kind == "backchannel"]


def test_one_speech_thread_equals_the_reference(
    espeak: SpeechEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conversation, "_SPEECH_THREADS", 1)
    assert_same(
        speak(dialogue(), espeak, seed=4, p_inter=1.0, reference=True),
        speak(dialogue(), espeak, seed=4, p_inter=1.0),
    )


def test_a_deterministic_engine_says_each_word_once_per_listener(espeak: SpeechEngine) -> None:
    """Five sentences draw eight words from eight, so a word repeats for some seed; a
    deterministic engine speaks it once, a sampling one every time, as the reference does."""
    texts = {t for _, ts in TURNS for t in ts}
    for seed in range(6):
        once, every, ref = Counting(espeak, True), Counting(espeak, False), Counting(espeak, False)
        assert_same(
            speak(dialogue(), ref, seed=seed, p_inter=1.0, reference=True),
            speak(dialogue(), once, seed=seed, p_inter=1.0),
        )
        speak(dialogue(), every, seed=seed, p_inter=1.0)
        assert every.said == ref.said
        words = {k: n for k, n in ref.said.items() if k[0] not in texts}
        assert set(words) == {k for k in once.said if k[0] not in texts}
        assert all(once.said[k] == 1 for k in words)
        if max(words.values()) > 1:
            return
    pytest.fail("no seed repeated a word: the test saw nothing")


def test_backchannel_audio_is_the_same_every_time(espeak: SpeechEngine) -> None:
    """What makes saying a word once safe: the engine gives the same samples again."""
    cast = espeak.cast({"a": dialogue().speaker_a, "b": dialogue().speaker_b}, "x")
    one, two = (espeak.synthesize("mm-hmm", cast["b"], BACKCHANNEL_EMOTION) for _ in range(2))
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize(
    "fail", [("Shall we take the train?",), ("yeah",), ("Perfect, talk to you tomorrow.", "yeah")]
)
def test_a_failure_is_the_one_the_reference_raises(
    espeak: SpeechEngine, fail: tuple[str, ...]
) -> None:
    """A failed sentence wins over a failed word, as when every sentence is spoken first."""
    errors = []
    for reference in (True, False):
        engine = Counting(espeak, True, fail=fail)
        with pytest.raises(Unavailable) as e:
            for seed in range(20):  # until a seed draws the failing word
                speak(dialogue(), engine, seed=seed, p_inter=1.0, reference=reference)
        errors.append((str(e.value), seed))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("reference", [True, False])
def test_an_unknown_room_fails_as_before(espeak: SpeechEngine, reference: bool) -> None:
    """The room's impulse responses start early on the fast path; their error still comes
    from ``render_room``."""
    with pytest.raises(InvalidInput, match="environment"):
        speak(dialogue("mars"), espeak, seed=1, reference=reference)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_room_on_two_threads_equals_one(environment: str) -> None:
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal(16000 * 3) * 0.1).astype(np.float32), np.zeros(48000, np.float32)
    b[8000:24000] = rng.standard_normal(16000) * 0.3
    for one, two in zip(
        render_room(a, b, environment, 3, parallel=False),
        render_room(a, b, environment, 3, parallel=True),
        strict=True,
    ):
        np.testing.assert_array_equal(one, two)


PIPER = {e.name: e for e in discover()[0]}.get("piper")


@pytest.mark.skipif(PIPER is None, reason="Piper is not installed")
def test_piper_with_sleeping_threads_equals_spinning() -> None:
    from dyad.services.dialogue.speech.engines.piper import PiperEngine
    from dyad.services.dialogue.speech.voicebox import Voicebox

    spinning = Voicebox([PiperEngine(spin=True)], "piper")
    sleeping = Voicebox([PiperEngine()], "piper")
    assert sleeping.deterministic
    cast = sleeping.cast({"a": dialogue().speaker_b, "b": dialogue().speaker_b}, "x")
    for text, emotion in [
        (TURNS[2][1][0], Emotion("sad", 0.9)),
        ("Okay, let's sleep on it.", Emotion("happy", 0.4)),
        ("Okay, let's sleep on it.", Emotion("angry", 0.7)),
        ("okay", BACKCHANNEL_EMOTION),
    ]:
        np.testing.assert_array_equal(
            spinning.synthesize(text, cast["a"], emotion),
            sleeping.synthesize(text, cast["a"], emotion),
        )


@pytest.mark.skipif(PIPER is None, reason="Piper is not installed")
def test_piper_conversation_equals_the_serial_reference() -> None:
    """The real engine with its one lock per voice and a model loading under the threads."""
    box = make_engine("piper")  # one voice here (joe): both speakers masculine
    short = replace(dialogue("car", a="masculine"), turns=dialogue().turns[2:4])
    assert_same(
        speak(short, box, seed=3, p_inter=1.0, reference=True),
        speak(short, make_engine("piper"), seed=3, p_inter=1.0),
    )


def test_only_reproducible_engines_are_deterministic() -> None:
    assert make_engine("espeak").deterministic
    assert not make_engine("http", base_url="http://127.0.0.1:9").deterministic
    if PIPER is not None:
        assert not make_engine("piper", sample_noise=True).deterministic


@pytest.mark.skipif(PIPER is None, reason="Piper is not installed")
def test_piper_prepares_the_same_phonemes_it_would_make_and_never_fails() -> None:
    from dyad.services.dialogue.speech.engines.piper import PiperEngine
    from dyad.services.dialogue.speech.voicebox import Voicebox
    from dyad.services.dialogue.speech.voices import VoiceInfo

    engine = PiperEngine()
    box = Voicebox([engine], "piper")
    cast = box.cast({"a": dialogue().speaker_b, "b": dialogue().speaker_b}, "x")
    text = "Then it is settled, I will look at the timetables tonight!"
    box.prepare([(text, cast["a"]), ("  ", cast["a"])])  # bad text: left to synthesize
    name = cast["a"].info.name
    espeak_voice = engine.espeak_voice(name)
    assert espeak_voice == engine.voice(name).espeak_voice
    assert engine._ipa == {(text, espeak_voice): engine._phonemise(text, espeak_voice)}
    missing = replace(cast["a"], info=VoiceInfo("piper", "no-such-voice", "masculine"))
    box.prepare([(text, missing)])
    with pytest.raises(InvalidInput, match="no Piper voice"):
        box.synthesize(text, missing, Emotion())
