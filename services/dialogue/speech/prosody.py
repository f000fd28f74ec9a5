"""Emotion → prosody: the one table of how each emotion sounds, in engine-neutral multipliers.

Each row is the deviation at intensity 1; intensity ``i`` scales it geometrically
(``factor ** i``, the word gap linearly), then the Emotion's own ``rate``, ``pitch`` and
``energy`` multipliers apply on top::

    category    rate×  f0×   loud×  range×  word gap (+10 ms)
    neutral     1.00   1.00  1.00   1.00    0
    happy       1.10   1.20  1.15   1.35    0
    sad         0.78   0.88  0.60   0.55    3
    angry       1.22   1.06  1.60   1.50    0
    surprised   1.08   1.25  1.20   1.70    0
    fearful     1.20   1.18  0.90   1.25    0
    disgusted   0.90   0.94  1.05   0.85    1
    contempt    0.92   0.95  0.95   0.70    1

Every engine reaches these numbers: natively where it has the control (espeak: all of them;
flite and RHVoice: rate and pitch; Piper: rate as its length scale), the rest by signal
processing (``dsp``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dyad.domain import EMOTIONS, Emotion
from dyad.errors import InvalidInput

_EMOTION_TABLE: dict[str, tuple[float, float, float, float, float]] = {
    "neutral": (1.00, 1.00, 1.00, 1.00, 0),
    "happy": (1.10, 1.20, 1.15, 1.35, 0),
    "sad": (0.78, 0.88, 0.60, 0.55, 3),
    "angry": (1.22, 1.06, 1.60, 1.50, 0),
    "surprised": (1.08, 1.25, 1.20, 1.70, 0),
    "fearful": (1.20, 1.18, 0.90, 1.25, 0),
    "disgusted": (0.90, 0.94, 1.05, 0.85, 1),
    "contempt": (0.92, 0.95, 0.95, 0.70, 1),
}
assert set(_EMOTION_TABLE) == set(EMOTIONS)
_EMOTION_LIMITS = {
    "intensity": (0.0, 1.0),
    "rate": (0.5, 2.0),
    "pitch": (0.5, 2.0),
    "energy": (0.0, 2.0),
}
#: The prosody controls an engine may apply itself; ``dsp`` applies the rest.
CONTROLS = frozenset({"rate", "pitch", "range", "gain"})


@dataclass(frozen=True)
class ProsodyTarget:
    """Multipliers against the voice's neutral delivery: tempo, mean F0, F0 range (in log
    F0 around the sentence's mean), loudness (linear gain); ``word_gap_s`` is extra silence
    between words (espeak only)."""

    rate: float = 1.0
    f0: float = 1.0
    range: float = 1.0
    gain: float = 1.0
    word_gap_s: float = 0.0

    def is_neutral(self, controls: frozenset[str] = CONTROLS) -> bool:
        values = {"rate": self.rate, "pitch": self.f0, "range": self.range, "gain": self.gain}
        return all(abs(values[c] - 1.0) < 1e-6 for c in controls)


def target_for(emotion: Emotion) -> ProsodyTarget:
    """The emotion's multipliers (category × intensity, then its own rate/pitch/energy)."""
    if emotion.category not in _EMOTION_TABLE:
        raise InvalidInput("emotion.category", f"{emotion.category!r} not in {EMOTIONS}")
    for name, (lo, hi) in _EMOTION_LIMITS.items():
        value = getattr(emotion, name)
        if not isinstance(value, int | float) or not lo <= value <= hi:
            raise InvalidInput(f"emotion.{name}", f"{value!r} is outside [{lo}, {hi}]")
    i = float(emotion.intensity)
    rate_f, f0_f, loud_f, range_f, gap = _EMOTION_TABLE[emotion.category]
    return ProsodyTarget(
        rate=rate_f**i * emotion.rate,
        f0=f0_f**i * emotion.pitch,
        range=range_f**i,
        gain=loud_f**i * emotion.energy,
        word_gap_s=0.01 * gap * i,
    )
