"""Interactive Audio Refinement (CHAT §4.2): emotion prosody and interactive words.

- **Emotion.** The writer gives each sentence a category and an intensity; how a category
  *sounds* (faster, louder, higher, wider range) is one table, ``voices.prosody``'s. IAR adds
  what belongs to the dialogue: the pause after the sentence (longer when sad, shorter when
  angry, scaled by intensity) and a little per-sentence jitter of the rate, pitch and energy
  multipliers (DESIGN.md §2) so two neutral sentences do not sound stamped out. Multipliers a
  caller sets explicitly apply on top of the category.
- **Interactive words** (CHAT eq. 4). For each of the partner's sentences, the listener says
  ``random(W_inter)`` with probability ``P_inter``, else stays silent. The word is timed at a
  pause or phrase end *inside* the partner's sentence, never over the partner's first word.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from dyad.domain import INTERACTIVE_WORDS, Dialogue, Emotion, Sentence, Turn

#: category → pause after the sentence (s) at intensity 1; neutral pauses 0.35 s.
PAUSE_S = {
    "neutral": 0.35,
    "happy": 0.30,
    "sad": 0.70,
    "angry": 0.20,
    "surprised": 0.30,
    "fearful": 0.40,
    "disgusted": 0.45,
    "contempt": 0.50,
}
JITTER = 0.03
#: Listener words are quieter and calm.
BACKCHANNEL_EMOTION = Emotion("neutral", 0.2, rate=1.0, pitch=1.0, energy=0.6, pause_s=0.0)


def emotion_prosody(emotion: Emotion, rng: np.random.Generator) -> Emotion:
    """``emotion`` with its pause set from category and intensity and ±3 % jitter on the
    multipliers it already has."""

    def jitter(value: float) -> float:
        return float(np.clip(value * (1.0 + rng.uniform(-JITTER, JITTER)), 0.5, 2.0))

    pause_s = 0.35 + emotion.intensity * (PAUSE_S[emotion.category] - 0.35)
    return Emotion(
        category=emotion.category,
        intensity=emotion.intensity,
        rate=jitter(emotion.rate),
        pitch=jitter(emotion.pitch),
        energy=jitter(emotion.energy),
        pause_s=float(np.clip(pause_s * rng.uniform(0.85, 1.15), 0.1, 2.0)),
    )


def refine_emotions(dialogue: Dialogue, rng: np.random.Generator) -> Dialogue:
    """Every sentence's prosody from its category and intensity."""
    turns = tuple(
        Turn(
            t.speaker,
            tuple(Sentence(s.text, emotion_prosody(s.emotion, rng)) for s in t.sentences),
        )
        for t in dialogue.turns
    )
    return replace(dialogue, turns=turns)


def pick_interactive_word(p_inter: float, rng: np.random.Generator) -> str | None:
    """CHAT eq. 4: a random interactive word with probability ``p_inter``, else silence."""
    return str(rng.choice(INTERACTIVE_WORDS)) if rng.random() < p_inter else None


def pause_slots(
    audio: np.ndarray, sample_rate: int, *, min_gap_s: float = 0.08, frame_s: float = 0.02
) -> list[float]:
    """Times (s, from the clip start) where the speaker pauses: ends of runs of quiet frames.

    A frame is quiet below 10 % of the clip's 95th-percentile frame RMS. The returned time is
    the start of the quiet run — the phrase end, where a listener naturally responds.
    """
    hop = int(frame_s * sample_rate)
    n = audio.size // hop
    if n < 3:
        return []
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1))
    quiet = rms < 0.1 * max(np.percentile(rms, 95), 1e-9)
    slots, run_start = [], None
    for i, q in enumerate(quiet):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            if (i - run_start) * frame_s >= min_gap_s:
                slots.append(run_start * frame_s)
            run_start = None
    return slots


def place_backchannel(
    partner_audio: np.ndarray,
    partner_start_s: float,
    word_s: float,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    first_word_guard_s: float = 0.45,
) -> float | None:
    """Start time for an interactive word of ``word_s`` seconds inside the partner's
    sentence: at a pause after the first word, or just before the sentence ends; None if the
    sentence is too short to hold it."""
    dur = partner_audio.size / sample_rate
    latest = dur - word_s - 0.02
    if latest < first_word_guard_s:
        return None
    candidates = [
        t for t in pause_slots(partner_audio, sample_rate) if first_word_guard_s <= t <= latest
    ]
    candidates.append(latest)  # the phrase end at the close of the sentence
    return partner_start_s + float(rng.choice(candidates))
