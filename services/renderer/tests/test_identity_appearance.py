"""Stylised default identities from CHAT-style descriptors."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.services.renderer.heads.appearance import (
    Appearance,
    appearance_from_identity,
    default_appearance,
)
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.heads.procedural import ProceduralHead
from dyad.services.renderer.heads.shape import HairStyle, HeadShape


def _lum(rgb: tuple[float, float, float]) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def _shape_vector(a: Appearance) -> np.ndarray:
    return np.array([getattr(a.shape, f.name) for f in fields(HeadShape)])


def test_same_text_same_person() -> None:
    text = "woman, 30s, dark skin, curly black hair, brown eyes"
    a, b = appearance_from_identity(text), appearance_from_identity(text)
    assert a == b
    # Normalisation: case, spacing and punctuation do not make a different person.
    assert appearance_from_identity("Woman,  30s, DARK skin; curly black hair, brown eyes!") == a


def test_two_descriptors_are_different_people() -> None:
    a = appearance_from_identity("woman, 30s, dark skin, curly black hair, brown eyes")
    b = appearance_from_identity("man, 60s, pale skin, short grey hair, blue eyes")
    assert a.palette[Material.SKIN] != b.palette[Material.SKIN]
    assert a.palette[Material.HAIR] != b.palette[Material.HAIR]
    assert a.palette[Material.IRIS] != b.palette[Material.IRIS]
    assert np.abs(_shape_vector(a) - _shape_vector(b)).max() > 0.05
    assert a.hair is HairStyle.CURLY and b.hair is HairStyle.SHORT
    assert (a.gender, a.age_band) == ("feminine", "adult")
    assert (b.gender, b.age_band) == ("masculine", "senior")


def test_unspecified_features_still_vary_between_people() -> None:
    a, b = appearance_from_identity("friendly person"), appearance_from_identity("quiet person")
    assert a != b
    assert np.abs(_shape_vector(a) - _shape_vector(b)).max() > 0.01


def test_keywords_are_honoured() -> None:
    blonde = appearance_from_identity("blonde woman")
    black = appearance_from_identity("man with black hair")
    assert _lum(blonde.palette[Material.HAIR]) > 0.6
    assert _lum(black.palette[Material.HAIR]) < 0.1
    for who in ("man", "woman, 40s", "teenager"):
        dark = appearance_from_identity(f"{who}, dark skin")
        pale = appearance_from_identity(f"{who}, pale skin")
        assert _lum(dark.palette[Material.SKIN]) < 0.4 < 0.75 < _lum(pale.palette[Material.SKIN])
    assert _lum(appearance_from_identity("a dark-skinned teenager").palette[Material.SKIN]) < 0.4
    assert (
        appearance_from_identity("light brown skin").palette[Material.SKIN]
        != appearance_from_identity("brown skin").palette[Material.SKIN]
    )
    blue, green = appearance_from_identity("blue eyes"), appearance_from_identity("green eyes")
    assert blue.palette[Material.IRIS][2] > blue.palette[Material.IRIS][0]
    assert green.palette[Material.IRIS][1] > green.palette[Material.IRIS][0]
    # Brows are the hair colour, darkened, with some skin showing between the hairs: nearer
    # the hair than the skin.
    brow, hair, skin = (black.palette[m] for m in (Material.BROW, Material.HAIR, Material.SKIN))
    assert abs(_lum(brow) - _lum(hair)) < abs(_lum(brow) - _lum(skin))


@pytest.mark.parametrize(
    ("text", "style"),
    [
        ("bald man", HairStyle.BALD),
        ("a shaved head", HairStyle.SHAVED),
        ("buzz-cut brown hair", HairStyle.SHAVED),
        ("thinning grey hair", HairStyle.RECEDING),
        ("bun-tied auburn hair", HairStyle.BUN),
        ("high ponytail", HairStyle.BUN),
        ("long straight black hair", HairStyle.LONG),
        ("shoulder-length wavy hair", HairStyle.LONG),
        ("curly red hair", HairStyle.CURLY),
        ("short bob", HairStyle.SHORT),
    ],
)
def test_hair_style_words(text: str, style: HairStyle) -> None:
    assert appearance_from_identity(text).hair is style


@pytest.mark.parametrize(
    ("text", "band"),
    [
        ("70-year-old man", "senior"),
        ("a teenager", "teen"),
        ("woman in her 20s", "young_adult"),
        ("child", "child"),
    ],
)
def test_age_words(text: str, band: str) -> None:
    assert appearance_from_identity(text).age_band == band


def test_age_cues_grey_hair_and_thinner_lips() -> None:
    names = ("Ana Silva", "Kofi Mensah", "Mei Chen", "Liam Walsh", "Priya Patel")
    grey = np.array([0.62, 0.62, 0.62])
    old_lips, young_lips = [], []
    for name in names:
        old = appearance_from_identity(
            Identity(name=name, age_band="senior", appearance=("fair skin",))
        )
        young = appearance_from_identity(
            Identity(name=name, age_band="young_adult", appearance=("fair skin",))
        )
        # An unspecified hair colour turns grey with age (an explicit colour is kept).
        assert np.abs(np.array(old.palette[Material.HAIR]) - grey).max() < 0.15
        old_lips.append(old.shape.lip_fullness)
        young_lips.append(young.shape.lip_fullness)
    assert np.mean(old_lips) < np.mean(young_lips) - 0.05
    black = appearance_from_identity(
        Identity(name="Ana Silva", age_band="senior", appearance=("black hair",))
    )
    assert max(black.palette[Material.HAIR]) < 0.1


def test_dialogue_identity_is_read() -> None:
    ident = Identity(
        name="Amara Okafor",
        age_band="adult",
        gender_presentation="feminine",
        appearance=("deep brown skin", "long curly black hair", "hazel eyes", "round glasses"),
    )
    a = appearance_from_identity(ident)
    assert a.hair is HairStyle.LONG and a.gender == "feminine" and a.age_band == "adult"
    assert _lum(a.palette[Material.SKIN]) < 0.3
    assert _lum(a.palette[Material.HAIR]) < 0.1
    assert a == appearance_from_identity(ident)
    # The name takes part in the seed: two people described alike still differ a little.
    twin = appearance_from_identity(
        Identity(
            name="Nkechi Okafor",
            age_band="adult",
            gender_presentation="feminine",
            appearance=ident.appearance,
        )
    )
    assert twin.shape != a.shape and twin.palette[Material.SKIN] == a.palette[Material.SKIN]


def test_empty_text_is_the_neutral_default_and_unknown_words_are_ignored() -> None:
    assert appearance_from_identity("") == default_appearance()
    assert appearance_from_identity("").shape == HeadShape()
    odd = appearance_from_identity("purple elephant, quantum, 🙂")
    assert isinstance(odd, Appearance)


@pytest.mark.parametrize("bad", [42, None, "x" * 3000])
def test_bad_input_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput) as err:
        appearance_from_identity(bad)
    assert err.value.field == "identity"


def test_the_head_matches_the_appearance() -> None:
    bald = ProceduralHead.from_appearance(appearance_from_identity("bald man, pale skin"))
    assert not (bald.face_labels == Material.HAIR).any()
    long_ = appearance_from_identity("woman with long black hair")
    head = ProceduralHead.from_appearance(long_)
    assert head.shape == long_.shape and head.hair is HairStyle.LONG
    assert (head.face_labels == Material.HAIR).sum() > 1000
