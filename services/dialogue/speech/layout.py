"""Sentences and interactive words laid out on one timeline (DADG + IAR), in two ways.

``layout_serial`` is the reference: every sentence spoken in order, laid out with a
turn-taking gap per turn and each sentence's pause, then, sentence by sentence, maybe an
interactive word from the listener (``pick_interactive_word``) timed inside it
(``place_backchannel``).

``layout_pipelined`` gives the same segments, audio and random draws, faster. Sentences are
spoken in a thread pool; the calling thread meanwhile walks the interactive words in sentence
order, speaking each word as soon as it is drawn (before its sentence is even spoken), so the
words cost no wall time of their own. Two facts keep the draws in the reference's order:

* the turn-taking gaps are the only draws between the emotion refinement and the words, and
  their number does not depend on any audio, so they are drawn first, up front;
* the word for sentence *k* depends only on the draws so far, not on sentence *k*'s audio:
  only its placement needs that audio.

A deterministic engine (``deterministic`` true: the same text, voice and emotion give the
same samples) speaks each (word, listener) once per conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from dyad.domain import Dialogue, Segment, SpeakerId
from dyad.services.dialogue.speech.refinement import (
    BACKCHANNEL_EMOTION,
    pick_interactive_word,
    place_backchannel,
)
from dyad.services.dialogue.speech.voicebox import SpeechEngine
from dyad.services.dialogue.speech.voices import CastVoice
from dyad.timebase import SAMPLE_RATE

LEAD_IN_S, TAIL_S = 0.4, 0.6
#: What a layout returns: (segment, its [n] float32 audio) — every sentence in order, then
#: the interactive words in their sentences' order — and the conversation's duration (s).
Placed = tuple[list[tuple[Segment, np.ndarray]], float]


def _listener(speaker: SpeakerId) -> SpeakerId:
    return "b" if speaker == "a" else "a"


def layout_serial(
    dialogue: Dialogue,
    engine: SpeechEngine,
    cast: dict[SpeakerId, CastVoice],
    rng: np.random.Generator,
    p_inter: float,
) -> Placed:
    """The reference: one synthesis at a time, each word spoken when it is placed."""
    spoken = iter(
        [
            engine.synthesize(s.text, cast[turn.speaker], s.emotion)
            for turn in dialogue.turns
            for s in turn.sentences
        ]
    )
    placed: list[tuple[Segment, np.ndarray]] = []
    t = LEAD_IN_S
    for ti, turn in enumerate(dialogue.turns):
        if ti > 0:
            t += float(rng.uniform(0.15, 0.45))  # turn-taking gap
        for si, sentence in enumerate(turn.sentences):
            audio = next(spoken)
            end = t + audio.size / SAMPLE_RATE
            seg = Segment(turn.speaker, "sentence", sentence.text, t, end, sentence.emotion, ti)
            placed.append((seg, audio))
            t = end + (sentence.emotion.pause_s if si < len(turn.sentences) - 1 else 0.0)
    duration = t + TAIL_S
    for seg, audio in [p for p in placed if p[0].kind == "sentence"]:
        word = pick_interactive_word(p_inter, rng)
        if word is None:
            continue
        listener = _listener(seg.speaker)
        bc_audio = engine.synthesize(word, cast[listener], BACKCHANNEL_EMOTION)
        start = place_backchannel(audio, seg.start_s, bc_audio.size / SAMPLE_RATE, SAMPLE_RATE, rng)
        if start is not None:
            end = start + bc_audio.size / SAMPLE_RATE
            placed.append(
                (Segment(listener, "backchannel", word, start, end, BACKCHANNEL_EMOTION), bc_audio)
            )
    return placed, duration


def _word_speaker(
    engine: SpeechEngine, cast: dict[SpeakerId, CastVoice]
) -> Callable[[str, SpeakerId], np.ndarray]:
    """``(word, listener)`` → the word in the listener's voice, once per pair when the engine
    is deterministic (a sampling engine speaks every word afresh, as the reference does)."""
    said: dict[tuple[str, SpeakerId], np.ndarray] = {}
    remember = bool(getattr(engine, "deterministic", False))

    def say(word: str, listener: SpeakerId) -> np.ndarray:
        if not remember:
            return engine.synthesize(word, cast[listener], BACKCHANNEL_EMOTION)
        if (word, listener) not in said:
            said[word, listener] = engine.synthesize(word, cast[listener], BACKCHANNEL_EMOTION)
        return said[word, listener]

    return say


def layout_pipelined(
    dialogue: Dialogue,
    engine: SpeechEngine,
    cast: dict[SpeakerId, CastVoice],
    rng: np.random.Generator,
    p_inter: float,
    threads: int,
) -> Placed:
    """``layout_serial``'s result, with the sentences spoken on ``threads`` threads and the
    words on the calling thread alongside them."""
    order = [
        (ti, si) for ti, turn in enumerate(dialogue.turns) for si in range(len(turn.sentences))
    ]
    gaps = [0.0] + [float(rng.uniform(0.15, 0.45)) for _ in dialogue.turns[1:]]  # by turn
    say = _word_speaker(engine, cast)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="dyad-speech")
    try:
        futures: list[Future[np.ndarray]] = [
            pool.submit(engine.synthesize, s.text, cast[turn.speaker], s.emotion)
            for turn in dialogue.turns
            for s in turn.sentences
        ]
        sentences: list[tuple[Segment, np.ndarray]] = []
        words: list[tuple[Segment, np.ndarray]] = []
        t = LEAD_IN_S
        for k, (ti, si) in enumerate(order):
            turn, sentence = dialogue.turns[ti], dialogue.turns[ti].sentences[si]
            word = pick_interactive_word(p_inter, rng)
            listener = _listener(turn.speaker)
            try:
                bc_audio = say(word, listener) if word is not None else None
            except BaseException:
                # The reference speaks every sentence before any word: a failed sentence is
                # the error it would have raised.
                for f in futures:
                    f.result()
                raise
            audio = futures[k].result()
            if si == 0 and ti > 0:
                t += gaps[ti]  # turn-taking gap
            end = t + audio.size / SAMPLE_RATE
            seg = Segment(turn.speaker, "sentence", sentence.text, t, end, sentence.emotion, ti)
            sentences.append((seg, audio))
            t = end + (sentence.emotion.pause_s if si < len(turn.sentences) - 1 else 0.0)
            if word is None or bc_audio is None:
                continue
            word_s = bc_audio.size / SAMPLE_RATE
            start = place_backchannel(audio, seg.start_s, word_s, SAMPLE_RATE, rng)
            if start is not None:
                bc = Segment(
                    listener, "backchannel", word, start, start + word_s, BACKCHANNEL_EMOTION
                )
                words.append((bc, bc_audio))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return sentences + words, t + TAIL_S
