"""Default stylised looks from CHAT's identity descriptors (ID-txt).

CHAT turns each speaker's text identity into a face (§3, "identity generation/sampling"). Our
equivalent picks the procedural head's proportions, hair style and colours from the words of
a descriptor — either the dialogue service's ``Identity`` (its ``appearance`` words, age band
and gender presentation) or free text such as ``"woman, 30s, dark skin, curly black hair,
brown eyes"``. Recognised words set features; unknown words are ignored; whatever the text
leaves open is drawn from a generator seeded by a hash of the normalised text, so the same
descriptor always gives the same person and two people described alike still differ a little.
The empty string gives the neutral default (average proportions, no randomness).

Facial hair, glasses, jewellery and clothing words become ``Appearance.extras`` (with the
clothing colour in the palette), drawn by the human head; the procedural head ignores them.
``NOT_DRAWN`` lists the writer's words a bust does not show.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np

from dyad.domain import AGE_BANDS, Identity
from dyad.errors import InvalidInput

from .descriptor_words import (
    AGE_SHAPE,
    AGE_WORDS,
    CLOTHING_COLOURS,
    EXTRA_WORDS,
    EYE_COLOURS,
    GENDER_SHAPE,
    GENDER_WORDS,
    GREY,
    HAIR_COLOURS,
    HAIR_ONLY,
    METAL_COLOURS,
    RANDOM_CLOTHING,
    RANDOM_EYES,
    RANDOM_HAIR,
    RGB,
    SKIN_WORDS,
    STYLE_RULES,
    TONE_RGB,
    TONE_STOPS,
)
from .model import Material
from .shape import SHAPE_RANGE, HairStyle, HeadShape

_MAX_TEXT = 2000


@dataclass(frozen=True)
class Appearance:
    """How a procedural head looks: proportions, hair and per-material colours (RGB 0–1)."""

    shape: HeadShape
    hair: HairStyle
    palette: dict[Material, RGB] = field(hash=False)
    age_band: str = "adult"
    gender: str = "androgynous"
    descriptor: str = ""  # the normalised text it was made from
    #: drawable extras (``EXTRA_WORDS`` values: facial hair kinds, ``glasses``, ``earrings``,
    #: ``nose_ring``, ``clothing:<kind>``); the human head draws them, the procedural does not
    extras: frozenset[str] = frozenset()
    #: what seeds every feature the descriptor leaves open: the descriptor without its
    #: clauses about things worn (``person_clauses``), so glasses never change the face
    person: str = ""


def normalise(text: str) -> str:
    """Lower case, punctuation other than hyphens to spaces, single spaces."""
    t = re.sub(r"[^a-z0-9\- ]+", " ", text.lower())
    return " ".join(t.split())


def _descriptor_text(identity: Identity | str) -> tuple[str, str | None, str | None, str]:
    """(clauses joined by commas, age band, gender, hashing key) of a descriptor."""
    if isinstance(identity, Identity):
        clauses = [
            normalise(_JOINED.sub("salt-and-pepper", a.lower())) for a in identity.appearance
        ]
        who = [identity.name, identity.age_band, identity.gender_presentation]
        key = "|".join([*who, *person_clauses(clauses)])
        gender = (
            identity.gender_presentation if identity.gender_presentation != "androgynous" else None
        )
        return ",".join(clauses), identity.age_band, gender, key
    if not isinstance(identity, str):
        raise InvalidInput(
            "identity", f"expected an Identity or descriptor text, got {type(identity).__name__}"
        )
    if len(identity) > _MAX_TEXT:
        raise InvalidInput("identity", f"descriptor longer than {_MAX_TEXT} characters")
    text = _JOINED.sub("salt-and-pepper", identity.lower())
    clauses = [normalise(c) for c in re.split(r"[,;/\n]| with | and ", text)]
    clauses = [c for c in clauses if c]
    return ",".join(clauses), None, None, ",".join(person_clauses(clauses))


#: A clause about facial hair ("a grey beard", "a red-bearded man", "a moustache").
_FACIAL_HAIR = re.compile(r"beard|moustache|mustache|goatee|stubble")

#: Phrases with " and " inside that are one description, not two clauses.
_JOINED = re.compile(r"\bsalt\s*(?:and|&|n)\s*pepper\b")


def person_clauses(clauses: list[str]) -> list[str]:
    """The clauses that describe the person rather than something worn or grown on the face
    (a clause naming any ``EXTRA_WORDS`` phrase is left out): the seed of everything a
    descriptor leaves open is made of these, so adding "glasses", "a beard" or "a denim
    jacket" to someone keeps their face, skin, eyes and hair."""
    return [c for c in clauses if find_phrase(EXTRA_WORDS, c) is None]


def find_phrase(words: Mapping[str, object], clause: str) -> str | None:
    """The longest phrase of ``words`` occurring in ``clause`` as whole words."""
    for phrase in sorted(words, key=len, reverse=True):
        if re.search(rf"(?<![a-z\-]){re.escape(phrase)}(?![a-z\-])", clause):
            return phrase
    return None


def _has_word(clause: str, options: tuple[str, ...]) -> bool:
    tokens = set(clause.split())
    return any(o in tokens for o in options)


def _age_from_text(text: str) -> str | None:
    for m in re.finditer(r"\b(\d{1,3})(?:s|-year-old| year old| years old|yo)?\b", text):
        n = int(m.group(1))
        if 2 <= n <= 110:
            if n < 13:
                return "child"
            if n < 20:
                return "teen"
            if n < 30:
                return "young_adult"
            if n < 60:
                return "adult"
            return "senior"
    for band in ("senior", "teen", "child", "young_adult", "adult"):
        if _has_word(text, AGE_WORDS[band]):
            return band
    return None


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _scale(c: RGB, k: float) -> RGB:
    return (min(c[0] * k, 1.0), min(c[1] * k, 1.0), min(c[2] * k, 1.0))


def skin_colour(tone: float) -> RGB:
    """RGB of a skin tone on the 0 (palest) … 1 (deepest) scale."""
    t = float(np.clip(tone, 0.0, 1.0))
    return tuple(float(np.interp(t, TONE_STOPS, TONE_RGB[:, i])) for i in range(3))  # type: ignore[return-value]


def appearance_from_identity(identity: Identity | str) -> Appearance:
    """A deterministic ``Appearance`` for a dialogue ``Identity`` or a descriptor string."""
    text, age_band, gender, key = _descriptor_text(identity)
    if not text and age_band is None and gender is None:
        return default_appearance()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    # Draw every random choice up front, in a fixed order, so a keyword never shifts the draws
    # of an unrelated feature.
    jitter = rng.normal(0.0, 0.045, len(fields(HeadShape)))
    r_tone = float(rng.uniform(0.05, 0.92))
    r_hair = RANDOM_HAIR[int(rng.integers(0, len(RANDOM_HAIR)))]
    r_eyes = RANDOM_EYES[int(rng.integers(0, len(RANDOM_EYES)))]
    r_style = float(rng.uniform())
    r_lip = float(rng.uniform(-0.04, 0.04))
    r_clothing = RANDOM_CLOTHING[int(rng.integers(0, len(RANDOM_CLOTHING)))]
    r_metal = METAL_COLOURS[int(rng.integers(0, len(METAL_COLOURS)))]

    clauses = text.split(",") if text else []
    gender = gender or next(
        (g for g, ws in GENDER_WORDS.items() for c in clauses if _has_word(c, ws)), None
    )
    band: str = age_band if age_band in AGE_BANDS and age_band else ""
    band = band or _age_from_text(" ".join(clauses)) or "adult"

    tone = r_tone
    hair_rgb: RGB | None = None
    beard_rgb: RGB | None = None
    greying = False
    eyes: RGB = EYE_COLOURS[r_eyes]
    style: HairStyle | None = None
    for c in clauses:
        c = c.replace("-skinned", " skinned")
        if re.search(r"\bskin(ned)?\b|complexion", c) and (w := find_phrase(SKIN_WORDS, c)):
            tone = SKIN_WORDS[w]
        if re.search(r"\beyes?\b|eyed", c) and (w := find_phrase(EYE_COLOURS, c)):
            eyes = EYE_COLOURS[w]
        is_hair = re.search(
            r"\bhair|\bhead\b|\bbun\b|\bbob\b|pixie|ponytail|afro|braid|\blocs\b|bald|buzz|"
            r"updo|topknot|\bcurls\b",
            c,
        )
        if is_hair:
            # "grey-haired" matches the hair clause but no colour word (a hyphen follows it):
            # the longer of the two tables' phrases names the colour
            colour = find_phrase(HAIR_COLOURS, c) or ""
            colour_only = find_phrase(HAIR_ONLY, c) or ""
            if len(colour_only) > len(colour):
                colour = HAIR_ONLY[colour_only]
            if colour:
                hair_rgb = HAIR_COLOURS[colour]
            greying = greying or bool(re.search(r"greying|graying|grizzled", c))
            for s, words in STYLE_RULES:
                if style is None and _has_word(c, words):
                    style = s
        elif _FACIAL_HAIR.search(c):
            # "a grey beard", "a red-bearded man": the beard's own colour, not the hair's
            if w := find_phrase(HAIR_COLOURS, c.replace("-bearded", " bearded")):
                beard_rgb = HAIR_COLOURS[w]
        elif not re.search(r"\bskin|\beyes?\b|eyed", c) and (w := find_phrase(HAIR_ONLY, c)):
            hair_rgb = HAIR_COLOURS[HAIR_ONLY[w]]  # "a blonde woman", "redhead"
    extras, clothing_rgb = _extras(clauses, r_clothing)
    if style is None:
        style = _default_style(gender, r_style)
    if hair_rgb is None:
        hair_rgb = HAIR_COLOURS[r_hair]
        if band == "senior":
            hair_rgb = _mix(hair_rgb, GREY, 0.75)
        if beard_rgb is not None:  # unnamed hair leans to the named beard (a grey beard:
            hair_rgb = _mix(hair_rgb, beard_rgb, 0.5)  # greying hair, a red one: auburn)
    if greying:
        hair_rgb = _mix(hair_rgb, GREY, 0.5)

    cues: dict[str, float] = {}
    for source in (GENDER_SHAPE.get(gender or "", {}), AGE_SHAPE.get(band, {})):
        for name, k in source.items():
            cues[name] = cues.get(name, 1.0) * k
    lo, hi = SHAPE_RANGE
    values = {
        f.name: float(np.clip(cues.get(f.name, 1.0) + j, lo + 0.02, hi - 0.02))
        for f, j in zip(fields(HeadShape), jitter, strict=True)
    }
    shape = HeadShape(**values)
    skin = skin_colour(tone)
    palette = _palette(skin, hair_rgb, eyes, band, r_lip, beard_rgb)
    palette[Material.CLOTH] = clothing_rgb
    palette[Material.METAL] = r_metal
    return Appearance(
        shape=shape,
        hair=style,
        palette=palette,
        age_band=band,
        gender=gender or "androgynous",
        descriptor=text,
        person=key,
        extras=extras,
    )


def _extras(clauses: list[str], fallback_colour: str) -> tuple[frozenset[str], RGB]:
    """Drawable extras and the clothing colour; without a clothing word, a shirt in
    ``fallback_colour`` (a bust on a video call wears something)."""
    found: set[str] = set()
    colour: RGB | None = None
    for c in clauses:
        c = re.sub(r"\bon a cord\b", "", c).replace("-bearded", " bearded")
        if (w := find_phrase(EXTRA_WORDS, c)) is None:
            continue
        found.add(EXTRA_WORDS[w])
        if EXTRA_WORDS[w].startswith("clothing:") and (k := find_phrase(CLOTHING_COLOURS, c)):
            colour = CLOTHING_COLOURS[k]
    kinds = sorted(x for x in found if x.startswith("clothing:"))
    found -= set(kinds[1:])  # one garment: the first named (sorted: deterministic)
    if not kinds:
        found.add("clothing:shirt")
    return frozenset(found), colour or CLOTHING_COLOURS[fallback_colour]


def _default_style(gender: str | None, u: float) -> HairStyle:
    if gender == "feminine":
        options = (HairStyle.LONG, HairStyle.BUN, HairStyle.CURLY, HairStyle.SHORT)
    elif gender == "masculine":
        options = (HairStyle.SHORT, HairStyle.SHORT, HairStyle.CURLY, HairStyle.SHAVED)
    else:
        options = (HairStyle.SHORT, HairStyle.CURLY, HairStyle.LONG, HairStyle.BUN)
    return options[min(int(u * len(options)), len(options) - 1)]


def _palette(
    skin: RGB, hair: RGB, eyes: RGB, age_band: str, lip_shift: float, beard: RGB | None = None
) -> dict[Material, RGB]:
    """Colours by material; the beard takes the hair's colour unless ``beard`` names one."""
    beard = hair if beard is None else beard
    lips = _mix(_scale(skin, 0.86), (0.62, 0.26, 0.28), 0.45 + lip_shift)
    if age_band == "senior":
        lips = _mix(lips, skin, 0.25)
    brow = _scale(hair, 0.7) if sum(hair) < 2.0 else _mix(hair, (0.35, 0.33, 0.32), 0.35)
    brow = _mix(skin, brow, 0.8)  # hairs over skin: the skin shows between them
    return {
        Material.SKIN: skin,
        Material.NECK: _scale(skin, 0.96),
        Material.EYELID: _mix(skin, (0.70, 0.45, 0.42), 0.12),
        Material.LIPS: lips,
        Material.HAIR: hair,
        Material.BEARD: beard,
        Material.STUBBLE: _mix(skin, _scale(beard, 0.8), 0.45),
        Material.BROW: brow,
        Material.SCLERA: (0.93, 0.92, 0.88) if age_band != "senior" else (0.90, 0.88, 0.80),
        Material.IRIS: eyes,
        Material.PUPIL: (0.03, 0.03, 0.03),
        Material.TEETH: (0.88, 0.85, 0.78),
        Material.MOUTH: (0.16, 0.05, 0.06),
        Material.TONGUE: (0.52, 0.24, 0.26),
    }


def default_appearance() -> Appearance:
    """Average proportions, medium skin, short brown hair, brown eyes."""
    skin = skin_colour(0.35)
    return Appearance(
        shape=HeadShape(),
        hair=HairStyle.SHORT,
        palette=_palette(skin, HAIR_COLOURS["brown"], EYE_COLOURS["brown"], "adult", 0.0),
        age_band="adult",
        gender="androgynous",
        descriptor="",
    )


def with_shape(appearance: Appearance, **shape: float) -> Appearance:
    """The same look with some proportions overridden (validated by ``HeadShape``)."""
    return replace(appearance, shape=replace(appearance.shape, **shape))


def appearance_to_dict(app: Appearance) -> dict[str, Any]:
    """``app`` as JSON values (an avatar's ``head_config["appearance"]``)."""
    return {
        "shape": asdict(app.shape),
        "hair": app.hair.value,
        "palette": {Material(k).name.lower(): list(v) for k, v in app.palette.items()},
        "age_band": app.age_band,
        "gender": app.gender,
        "descriptor": app.descriptor,
        "extras": sorted(app.extras),
        "person": app.person,
    }


def appearance_from_dict(d: dict[str, Any]) -> Appearance:
    """``appearance_to_dict``'s inverse; older files lack later keys (defaults)."""
    palette: dict[Material, RGB] = {
        Material[k.upper()]: (float(v[0]), float(v[1]), float(v[2]))
        for k, v in d["palette"].items()
    }
    return Appearance(
        HeadShape(**d["shape"]),
        HairStyle(d["hair"]),
        palette,
        d.get("age_band", "adult"),
        d.get("gender", "androgynous"),
        d.get("descriptor", ""),
        frozenset(d.get("extras", ())),
        # files written before ``person`` existed seeded their hair from the descriptor
        d.get("person", d.get("descriptor", "")),
    )
