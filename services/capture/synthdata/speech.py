"""A deterministic two-speaker "conversation" of speech-like sound, to drive the animator.

Synthetic capture data needs motion that looks like talking (jaw opening with syllables, lips
closing in pauses, blinks, nods while listening) without a TTS voice: the procedural animator
reads loudness, frication and low-F2 energy from the audio, so a harmonic source (a wobbling
f0) under syllable envelopes, with fricative noise bursts on some syllables, drives it the way
speech does. Turns alternate between the two speakers, starting with A (the avatar), so the
avatar both talks and listens. Everything is a pure function of (seconds, seed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.domain import Identity, Relation, Segment, SpeakerId, Timeline
from dyad.timebase import SAMPLE_RATE

SYLLABLE_S = (0.12, 0.28)  # syllable length range
SYLLABLES_PER_PHRASE = (3, 9)
PAUSE_S = (0.25, 0.7)  # silence between phrases (the lips close, the listener may nod)
PHRASES_PER_TURN = (1, 3)
F0_HZ = {"a": 190.0, "b": 120.0}  # two distinguishable voices
FRICATIVE_SHARE = 0.3  # syllables that start with an s/f-like noise burst


@dataclass(frozen=True)
class Conversation:
    track_a: np.ndarray  # [N] float32, 16 kHz: speaker A's voice only
    track_b: np.ndarray  # [N] float32, 16 kHz: speaker B's voice only
    timeline: Timeline


def _phrase(rng: np.random.Generator, f0: float, start: int, out: np.ndarray) -> int:
    """Write one phrase into ``out`` from sample ``start``; returns where it ends."""
    pos = start
    for _ in range(int(rng.integers(*SYLLABLES_PER_PHRASE, endpoint=True))):
        n = int(rng.uniform(*SYLLABLE_S) * SAMPLE_RATE)
        if pos + n >= out.size:
            break
        t = np.arange(n) / SAMPLE_RATE
        pitch = f0 * (1.0 + 0.06 * np.sin(2 * np.pi * rng.uniform(2.0, 5.0) * t))
        phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
        # harmonics with a vowel-like spectral tilt; a random low/high balance varies the
        # rounding (low-F2) cue from syllable to syllable
        low = rng.uniform(0.3, 1.0)
        voiced = sum((low if k < 4 else 1.0) / k * np.sin(k * phase) for k in range(1, 12))
        env = np.sin(np.pi * np.arange(n) / n) ** 1.5 * rng.uniform(0.35, 1.0)  # [n]
        syl = 0.12 * voiced * env
        if rng.random() < FRICATIVE_SHARE:  # an s-like onset: high-passed noise, first third
            k = n // 3
            noise = np.diff(rng.standard_normal(k + 1))  # first difference ≈ high-pass
            syl[:k] += 0.05 * noise * np.hanning(k)
        out[pos : pos + n] += syl
        pos += n
    return pos


def conversation(num_samples: int, seed: int) -> Conversation:
    """Alternating turns (A first) filling ``num_samples`` at 16 kHz; one timeline sentence
    per phrase."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) % 2**64, 0x5EED]))
    tracks = {"a": np.zeros(num_samples), "b": np.zeros(num_samples)}
    segments: list[Segment] = []
    speaker: SpeakerId = "a"
    pos, turn = int(0.2 * SAMPLE_RATE), 0
    while pos < num_samples - SAMPLE_RATE // 2:
        for _ in range(int(rng.integers(*PHRASES_PER_TURN, endpoint=True))):
            end = _phrase(rng, F0_HZ[speaker], pos, tracks[speaker])
            if end > pos:
                segments.append(
                    Segment(
                        speaker,
                        "sentence",
                        "",
                        pos / SAMPLE_RATE,
                        end / SAMPLE_RATE,
                        turn_index=turn,
                    )
                )
            pos = end + int(rng.uniform(*PAUSE_S) * SAMPLE_RATE)
            if pos >= num_samples:
                break
        speaker, turn = ("b" if speaker == "a" else "a"), turn + 1
    timeline = Timeline(
        SAMPLE_RATE,
        num_samples / SAMPLE_RATE,
        {"a": Identity("Avatar"), "b": Identity("Partner")},
        Relation(),
        "studio",
        tuple(segments),
    )
    timeline.validate()
    return Conversation(tracks["a"].astype(np.float32), tracks["b"].astype(np.float32), timeline)
