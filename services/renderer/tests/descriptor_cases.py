"""The cases of ``test_descriptor_regions``: one case per vocabulary word (its descriptor, the
one it is compared with, its region, what it must parse to); the renders they are measured on
are ``descriptor_shots`` (see the test module's docstring)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from dyad.rigs import get_rig
from dyad.services.renderer.heads import descriptor_words as words
from dyad.services.renderer.heads.appearance import (
    Appearance,
    appearance_from_identity,
    skin_colour,
)
from dyad.services.renderer.heads.human import ethnicity
from dyad.services.renderer.heads.human.facial_hair import KINDS as FACIAL_HAIR
from dyad.services.renderer.heads.human.identity import AGE_VALUES, ethnic_weights
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.heads.shape import HairStyle
from dyad.services.renderer.video import head_camera

PX = 192
BACKGROUND = (0.91, 0.93, 0.95)
CAMERA = head_camera("front", PX)
NEUTRAL = np.zeros((1, len(get_rig("arkit55").channels)), np.float32)
#: A pixel changed: some channel moved by more than this (RGB 0–1; about 20 of 255).
DIFF = 0.08
DILATE_PX = 3
#: A pixel shows a part where the part's Gaussians make at least this much of its colour.
COVERED = 0.15
VISIBLE = 0.15  # of the region's own (undilated) pixels must change …
MIN_CHANGED = 8  # … and at least this many
IN_REGION = 0.85  # of the changed pixels must lie in the (dilated) region
#: Of the head's pixels, changed by an age, gender or ancestry word. 0.15 until the neckline
#: was cut along its line (``heads/human/cut``): its saw-tooth landed differently on every
#: neck and counted as identity change — 80–250 px of "young" (15.0 % → 14.6 %) and of
#: "Middle Eastern" (16.3 % → 14.9 %).
WHOLE_HEAD = 0.14
#: The fixed identity: skin, hair, eyes and ancestry named, everything else left open (and,
#: in the region cases, drawn from the same fixed hash). The named ancestry keeps a skin word
#: from also moving the ancestry prior (which reshapes the whole head: see ``ethnicity``).
BASE = {
    "skin": "olive skin",
    "hair": "short brown hair",
    "eyes": "hazel eyes",
    "ancestry": "mixed-race",
}

#: Where each drawn extra belongs: the vertices MakeHuman's own target for that part moves
#: (projected, grown by ``ANATOMY_PX``); garments (``clothing:*``): the bust below the jaw
#: line. A new kind of extra needs an entry here.
PARTS: dict[str, tuple[str, ...]] = {
    "glasses": ("eyes/l-eye-scale-incr", "eyes/r-eye-scale-incr"),
    "earrings": ("ears/l-ear-scale-incr", "ears/r-ear-scale-incr"),
    "nose_ring": ("nose/nose-scale-horiz-incr",),
    **{
        k: ("mouth/mouth-scale-horiz-incr", "chin/chin-width-incr", "chin/chin-height-incr")
        for k in FACIAL_HAIR
    },
}
ANATOMY_PX = PX // 24
AT_PLACE = 0.7  # of an extra's own pixels lie at its part (0.84–1.0 measured)

SKIN_REGION = (Material.SKIN, Material.NECK, Material.EYELID, Material.LIPS)


# ------------------------------------------------------------------------- the same hash


class _SameDigest:
    """Stands in for ``hashlib.sha256``: every text hashes alike."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def update(self, _data: bytes) -> None:
        pass

    def digest(self) -> bytes:
        return bytes(range(32))

    def hexdigest(self) -> str:
        return self.digest().hex()


@contextmanager
def same_hash() -> Iterator[None]:
    """Every descriptor hashes alike inside (its appearance, ancestry mix and head seeds), so
    only what the words say differs between two descriptors."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashlib, "sha256", _SameDigest)
        yield


def meaning(text: str) -> tuple[Appearance, np.ndarray]:
    """``text``'s appearance and ancestry weights, with the same hash."""
    with same_hash():
        app = appearance_from_identity(text)
        return app, ethnic_weights(app)


# ------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One vocabulary word: the descriptor with it, the one it is compared with, what the word
    must parse to (``expect``: an ``Appearance`` check) and the region it must change."""

    id: str
    text: str
    contrast: str
    region: str  # "materials" | "added" | "whole_head"
    materials: tuple[Material, ...] = ()
    expect: tuple[str, Any] = ("", None)


def describe(extra: str = "", **clauses: str) -> str:
    """``BASE`` with some clauses replaced (a value "" drops one) and ``extra`` appended."""
    parts = {**BASE, **clauses}
    return ", ".join([p for p in parts.values() if p] + ([extra] if extra else []))


def _farthest(table: dict[str, Any], value: Any) -> str:
    """The entry of ``table`` most unlike ``value`` (RGB or scalar)."""
    dist = {k: float(np.linalg.norm(np.subtract(v, value))) for k, v in table.items()}
    return max(dist, key=lambda k: dist[k])


def _clothing_phrases() -> list[str]:
    return sorted(p for p, f in words.EXTRA_WORDS.items() if f.startswith("clothing:"))


def skin_cases() -> Iterator[Case]:
    for w, tone in words.SKIN_WORDS.items():
        other = _farthest(words.SKIN_WORDS, tone)
        yield Case(
            f"skin:{w}",
            describe(skin=f"{w} skin"),
            describe(skin=f"{other} skin"),
            "materials",
            SKIN_REGION,
            ("skin", skin_colour(tone)),
        )


def eye_cases() -> Iterator[Case]:
    for w, rgb in words.EYE_COLOURS.items():
        other = _farthest(words.EYE_COLOURS, rgb)
        yield Case(
            f"eyes:{w}",
            describe(eyes=f"{w} eyes"),
            describe(eyes=f"{other} eyes"),
            "materials",
            (Material.IRIS,),
            ("iris", rgb),
        )


def hair_colour_cases() -> Iterator[Case]:
    hair = (Material.HAIR, Material.BROW)
    for w, rgb in words.HAIR_COLOURS.items():
        other = _farthest(words.HAIR_COLOURS, rgb)
        yield Case(
            f"hair colour:{w}",
            describe(hair=f"short {w} hair"),
            describe(hair=f"short {other} hair"),
            "materials",
            hair,
            ("hair_rgb", rgb),
        )
    for w, colour in words.HAIR_ONLY.items():
        rgb = words.HAIR_COLOURS[colour]
        other = _farthest(words.HAIR_COLOURS, rgb)
        yield Case(
            f"hair word:{w}",
            describe(w, hair="short hair"),
            describe(hair=f"short {other} hair"),
            "materials",
            hair,
            ("hair_rgb", rgb),
        )


def beard_colour_cases() -> Iterator[Case]:
    """A colour on facial hair paints the beard, not the (named) hair."""
    for w, rgb in words.HAIR_COLOURS.items():
        other = _farthest(words.HAIR_COLOURS, rgb)
        yield Case(
            f"beard colour:{w}",
            describe(f"a full {w} beard"),
            describe(f"a full {other} beard"),
            "materials",
            (Material.BEARD,),
            ("beard_rgb", rgb),
        )


def style_cases() -> Iterator[Case]:
    for style, keywords in words.STYLE_RULES:
        for w in keywords:
            # Against no hair; "bald" and its like against the base's short hair.
            contrast = "short brown hair" if style is HairStyle.BALD else "bald brown hair"
            yield Case(
                f"hair style:{w}",
                describe(hair=f"{w} brown hair"),
                describe(hair=contrast),
                "added",
                expect=("style", style),
            )


def extra_cases() -> Iterator[Case]:
    for phrase, feature in words.EXTRA_WORDS.items():
        contrast = describe()  # the base wears the default garment, a shirt
        if feature == "clothing:shirt":
            contrast = describe("a hoodie")
        yield Case(
            f"extra:{phrase}",
            describe(phrase),
            contrast,
            "added",
            expect=("extra", feature),
        )


def clothing_colour_cases() -> Iterator[Case]:
    for w, rgb in words.CLOTHING_COLOURS.items():
        other = _farthest(words.CLOTHING_COLOURS, rgb)
        yield Case(
            f"clothing colour:{w}",
            describe(f"a {w} shirt"),
            describe(f"a {other} shirt"),
            "materials",
            (Material.CLOTH,),
            ("cloth", rgb),
        )


def whole_head_cases() -> Iterator[Case]:
    # Against the other gender, the farthest age band and the farthest ancestry blend.
    for gender, ws in words.GENDER_WORDS.items():
        other = next(v[0] for g, v in words.GENDER_WORDS.items() if g != gender)
        for w in ws:
            yield Case(
                f"gender:{w}", describe(w), describe(other), "whole_head", (), ("gender", gender)
            )
    for band, ws in words.AGE_WORDS.items():
        other = _farthest(AGE_VALUES, AGE_VALUES[band])
        for w in ws:
            yield Case(
                f"age:{w}",
                describe(w),
                describe(words.AGE_WORDS[other][0]),
                "whole_head",
                (),
                ("age", band),
            )
    blends = {w: np.asarray(v) / sum(v) for w, v in ethnicity._ETHNIC_WORDS.items()}
    for w, weights in blends.items():
        yield Case(
            f"ancestry:{w}",
            describe(ancestry=w),
            describe(ancestry=_farthest(blends, weights)),
            "whole_head",
            (),
            ("ancestry", weights),
        )


def all_cases() -> list[Case]:
    return [
        *skin_cases(),
        *eye_cases(),
        *hair_colour_cases(),
        *beard_colour_cases(),
        *style_cases(),
        *extra_cases(),
        *clothing_colour_cases(),
        *whole_head_cases(),
    ]


CASES = all_cases()


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]
