"""Ancestry of a human head's identity: the (african, asian, caucasian) weights of MakeHuman's
macro targets, read from an ``Appearance``.

A named ancestry ("east asian", "nigerian", "latina", …) gives its weights directly;
otherwise the skin tone sets a prior (``_TONE_PRIOR``) and a hash of the descriptor varies
it — less when the descriptor names the skin tone, more when it says nothing — so people
whose descriptors say nothing still differ. Clauses about hair, eyes, beards, skin or
clothes, or anything worn, never name an ancestry ("black hair" is not "black").
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from ..appearance import Appearance, person_clauses, skin_colour
from ..descriptor_words import SKIN_WORDS
from ..model import Material

ETHNICITIES = ("african", "asian", "caucasian")
EQUAL_THIRDS = np.full(3, 1.0 / 3.0)

#: Skin tone (0 palest … 1 deepest) → (african, asian, caucasian) prior; rows sum to 1.
_TONE_STOPS = np.array([0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0])
_TONE_PRIOR = np.array(
    [
        [0.05, 0.15, 0.80],
        [0.05, 0.35, 0.60],
        [0.10, 0.45, 0.45],
        [0.25, 0.40, 0.35],
        [0.55, 0.25, 0.20],
        [0.80, 0.10, 0.10],
        [0.90, 0.05, 0.05],
    ]
)
_HASH_SHARE_KNOWN_TONE = 0.2
_HASH_SHARE_UNKNOWN = 0.6
#: Descriptor words naming an ancestry → (african, asian, caucasian) weights.
_ETHNIC_WORDS: dict[str, tuple[float, float, float]] = {
    "african": (1.0, 0.0, 0.0),
    "african-american": (0.85, 0.0, 0.15),
    "black": (1.0, 0.0, 0.0),
    "nigerian": (1.0, 0.0, 0.0),
    "kenyan": (1.0, 0.0, 0.0),
    "ethiopian": (0.8, 0.0, 0.2),
    "asian": (0.0, 1.0, 0.0),
    "east asian": (0.0, 1.0, 0.0),
    "chinese": (0.0, 1.0, 0.0),
    "japanese": (0.0, 1.0, 0.0),
    "korean": (0.0, 1.0, 0.0),
    "vietnamese": (0.0, 1.0, 0.0),
    "filipino": (0.0, 0.8, 0.2),
    "south asian": (0.15, 0.35, 0.5),
    "indian": (0.15, 0.35, 0.5),
    "middle eastern": (0.1, 0.1, 0.8),
    "arab": (0.1, 0.1, 0.8),
    "latina": (0.15, 0.3, 0.55),
    "latino": (0.15, 0.3, 0.55),
    "hispanic": (0.15, 0.3, 0.55),
    "mixed-race": (0.4, 0.2, 0.4),
    "biracial": (0.45, 0.1, 0.45),
    "european": (0.0, 0.0, 1.0),
    "caucasian": (0.0, 0.0, 1.0),
    "white": (0.0, 0.0, 1.0),
}
_NOT_ETHNIC_CLAUSE = re.compile(r"\bhair|\beyes?\b|eyed|\bbeard|\bshirt|\bjacket|\bdress|\bskin")


def _hash_blend(descriptor: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(f"ethnicity|{descriptor}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed).dirichlet(np.ones(3))


def skin_tone(rgb: tuple[float, float, float]) -> float:
    """The 0–1 tone whose ``appearance.skin_colour`` is nearest ``rgb``."""
    return float(_TONE_GRID[np.argmin(np.linalg.norm(_TONE_RGB_GRID - np.asarray(rgb), axis=1))])


_TONE_GRID = np.linspace(0.0, 1.0, 201)
_TONE_RGB_GRID = np.array([skin_colour(t) for t in _TONE_GRID])


def _names_skin(descriptor: str) -> bool:
    for clause in descriptor.split(","):
        c = clause.replace("-skinned", " skinned")
        if re.search(r"\bskin(ned)?\b|complexion", c) and any(
            re.search(rf"(?<![a-z\-]){re.escape(w)}(?![a-z\-])", c) for w in SKIN_WORDS
        ):
            return True
    return False


def _named_ethnicity(descriptor: str) -> np.ndarray | None:
    found: list[tuple[float, float, float]] = []
    # "a black hoodie", "white earrings": a clause about something worn names no ancestry
    for clause in person_clauses(descriptor.split(",")):
        if _NOT_ETHNIC_CLAUSE.search(clause):
            continue
        for phrase in sorted(_ETHNIC_WORDS, key=len, reverse=True):
            pattern = rf"(?<![a-z\-]){re.escape(phrase)}(?![a-z\-])"
            if re.search(pattern, clause):
                found.append(_ETHNIC_WORDS[phrase])
                clause = re.sub(pattern, " ", clause)
    if not found:
        return None
    w = np.mean(np.asarray(found), axis=0)
    return np.asarray(w / w.sum())


def ethnic_weights(appearance: Appearance) -> np.ndarray:
    """``[3]`` (african, asian, caucasian) weights summing to 1 (rule: module docstring)."""
    text = appearance.descriptor
    if not text:
        return EQUAL_THIRDS.copy()
    named = _named_ethnicity(text)
    if named is not None:
        return named
    tone = skin_tone(appearance.palette[Material.SKIN])
    prior = np.array([np.interp(tone, _TONE_STOPS, _TONE_PRIOR[:, k]) for k in range(3)])
    share = _HASH_SHARE_KNOWN_TONE if _names_skin(text) else _HASH_SHARE_UNKNOWN
    w = (1.0 - share) * prior + share * _hash_blend(appearance.person or text)
    return np.asarray(w / w.sum())
