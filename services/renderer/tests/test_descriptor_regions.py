"""Each descriptor word changes the pixels of its own region (issue 17).

Every word of the descriptor vocabulary (``descriptor_words``' tables and the ancestry words
of ``human.ethnicity``) gets a test, generated from the tables, so a new word is tested as
soon as it is added; ``NOT_DRAWN`` is excluded, and a test holds that those phrases really
change nothing. Each case renders a fixed free-text identity (``BASE``) with the word and
with a contrast — the word left out, or, for attribute words (skin, eye, hair and clothing
colours), the most different value of the same table, since "olive" against the base's own
olive skin would change nothing — on the human head, front camera, neutral face, CPU
rasteriser, ``PX``², and asserts:

* the change is visible: at least ``VISIBLE`` of the region's own pixels change by more
  than ``DIFF``;
* the change is in its own region: at least ``IN_REGION`` of the changed pixels lie inside
  it. Regions come from geometry, painted through the same camera (so occlusion is right):
  the faces of the materials a word colours (skin, iris, hair and brows, cloth), or, for
  drawn extras (facial hair, glasses, jewellery, garments) and hair styles, the faces one
  head has that the other lacks; dilated by ``DILATE_PX``. Age band, gender and ancestry
  words reshape the whole head (MakeHuman's macro targets): they are held to a whole-head
  change instead (``WHOLE_HEAD`` of the head's pixels, spread over its upper, middle and
  lower thirds).

Drawn extras are also checked to sit at their part of the face (``PARTS``: glasses at the
eyes, earrings at the ears, a nose ring at the nose, facial hair around the mouth and chin,
garments below the jaw line), from the vertices MakeHuman's own targets for those parts move.
Colour words that are also ancestry words must not reshape the head whatever the garment.

The hash of the descriptor's clauses about the person (``appearance.person_clauses``: not the
things worn) seeds everything it leaves open (proportion jitter, skin tone, colours, lip tint,
hair and garment seeds, the ancestry mix), so a word about the person re-rolls all of that —
by design, two people described alike still differ. To see what such a word itself does, the
region cases hold those draws fixed by giving every descriptor the same hash
(``same_hash``), and ``BASE`` names its ancestry, since a skin word otherwise also moves the
ancestry prior (``ethnicity``) and with it the whole head's shape. Determinism, variety, and
that something worn keeps the person, are tested with the real hash at the end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from dyad.domain import Identity
from dyad.services.renderer.avatars.avatar import (
    create_avatar,
)
from dyad.services.renderer.heads import descriptor_words as words
from dyad.services.renderer.heads.appearance import (
    appearance_from_identity,
)
from dyad.services.renderer.heads.human import human_head
from dyad.services.renderer.heads.model import Material

from .descriptor_cases import (
    AT_PLACE,
    CASES,
    DIFF,
    DILATE_PX,
    IN_REGION,
    MIN_CHANGED,
    VISIBLE,
    WHOLE_HEAD,
    Case,
    _clothing_phrases,
    _params,
    describe,
    meaning,
    same_hash,
)
from .descriptor_shots import (
    Shots,
    _draw,
    _triangles,
    changed,
    check_parse,
    painted,
    part_zone,
    region_numbers,
)


@pytest.fixture(scope="module")
def shots() -> Shots:
    """Renders shared by this module's tests (each built once)."""
    return Shots()


# ------------------------------------------------------------------------- tests


def test_every_table_of_the_vocabulary_is_covered() -> None:
    """A new table of words in ``descriptor_words`` needs region cases here; ``NOT_DRAWN``
    phrases get none."""
    tested = {"SKIN_WORDS", "EYE_COLOURS", "HAIR_COLOURS", "HAIR_ONLY", "STYLE_RULES"}
    tested |= {"EXTRA_WORDS", "CLOTHING_COLOURS", "GENDER_WORDS", "AGE_WORDS", "NOT_DRAWN"}
    not_words = {"TONE_STOPS", "TONE_RGB", "GREY", "RANDOM_HAIR", "RANDOM_EYES", "RGB"}
    not_words |= {"GENDER_SHAPE", "AGE_SHAPE", "CLOTHING_KINDS", "RANDOM_CLOTHING"}
    not_words |= {"METAL_COLOURS"}
    tables = {n for n in dir(words) if n.isupper()}
    assert tables == tested | not_words, tables ^ (tested | not_words)
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert not {i.split(":", 1)[1] for i in ids} & set(words.NOT_DRAWN)


def test_not_drawn_phrases_change_nothing(shots: Shots) -> None:
    """``NOT_DRAWN`` is what the code says: those phrases leave the head as it was."""
    base = shots(describe())
    for phrase in words.NOT_DRAWN:
        assert np.array_equal(shots(describe(phrase)).rgb, base.rgb), phrase


def test_recolouring_is_what_create_avatar_draws(shots: Shots) -> None:
    """The shortcut ``Shots`` takes for colour words gives ``create_avatar``'s own albedo."""
    text = describe(eyes="blue eyes", hair="short red hair")
    base, shot = shots(describe()), shots(text)
    assert shot.avatar.head is base.avatar.head  # recoloured, not rebuilt
    with same_hash():
        full = create_avatar(text, head="human")
    assert torch.equal(full.albedo, shot.avatar.albedo)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.region != "whole_head"]))
def test_descriptor_changes_its_own_region(case: Case, shots: Shots) -> None:
    a, b = shots(case.contrast), shots(case.text)
    check_parse(case, b)
    m = region_numbers(case, shots)
    assert m["changed_in_core"] >= max(MIN_CHANGED, VISIBLE * m["region"]), m
    assert m["in_region"] >= IN_REGION, m
    what, feature = case.expect
    if what == "extra":  # and the extra is drawn where it belongs
        own = shots.added(b, a)
        at_place = (own & part_zone(b.avatar, feature)).sum() / max(own.sum(), 1)
        assert at_place >= AT_PLACE, (feature, round(float(at_place), 3), m)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.region == "whole_head"]))
def test_age_gender_and_ancestry_words_change_the_whole_head(case: Case, shots: Shots) -> None:
    a, b = shots(case.contrast), shots(case.text)
    check_parse(case, b)
    m = region_numbers(case, shots)
    assert m["changed"] >= WHOLE_HEAD * m["region"], m
    assert m["in_region"] >= IN_REGION, m
    rows = np.flatnonzero(((a.alpha > 0.5) | (b.alpha > 0.5)).any(axis=1))
    diff = changed(a, b)
    for part in np.array_split(np.arange(rows.min(), rows.max() + 1), 3):
        # forehead and eyes, nose and mouth, chin and shoulders
        assert diff[part].sum() >= 0.05 * m["changed"], (int(part[0]), m)


@pytest.mark.parametrize(
    "garment",
    [g for g in _clothing_phrases()],
)
def test_a_garment_colour_changes_nothing_but_the_garment(garment: str) -> None:
    """Every clothing colour on every garment phrase: the appearance differs from the
    uncoloured garment's in the cloth colour only, and the head's ancestry (its shape) not
    at all."""
    plain, plain_ancestry = meaning(describe(f"a {garment}"))
    for colour, rgb in words.CLOTHING_COLOURS.items():
        app, ancestry = meaning(describe(f"a {colour} {garment}"))
        assert app.palette[Material.CLOTH] == rgb, colour
        assert replace(app, descriptor="", palette={}) == replace(
            plain, descriptor="", palette={}
        ), colour
        assert np.allclose(ancestry, plain_ancestry), (colour, ancestry, plain_ancestry)


# ------------------------------------------------------------------------- the real hash

#: A descriptor for determinism: one word of nearly every table.
SAME_TWICE = (
    "dark brown skin, long auburn hair, green eyes, a full beard, glasses, earrings, "
    "a nose ring, a red hoodie, a man, 40s, nigerian"
)


def _front(identity: Any) -> np.ndarray:
    """A fresh avatar of ``identity`` (no cached head) drawn as the region cases draw."""
    human_head.cache_clear()
    return np.asarray(_draw(create_avatar(identity, head="human")).rgb)


def test_the_same_descriptor_gives_the_same_pixels() -> None:
    """Built from scratch twice (the real hash, no cached head): the same pixels."""
    assert np.array_equal(_front(SAME_TWICE), _front(SAME_TWICE))


def test_people_described_alike_still_differ() -> None:
    """What a descriptor leaves open is drawn from its hash: two people whose descriptors
    name nothing but their names look visibly different."""
    a = _front(Identity("Sam Reyes", "adult", "androgynous"))
    b = _front(Identity("Alex Kim", "adult", "androgynous"))
    diff = np.abs(a - b).max(axis=-1) > DIFF
    assert diff.mean() > 0.1, diff.mean()


@pytest.mark.parametrize("worn", ["glasses", "a full beard", "a denim jacket", "earrings"])
def test_something_worn_keeps_the_person(worn: str) -> None:
    """The real hash: adding something worn to an Identity changes the pixels of that thing
    only — the face, skin, eyes and hair stay the person's (their seed leaves out clauses
    about what is worn)."""
    who = Identity("Sam Reyes", "adult", "androgynous", appearance=("olive skin",))
    human_head.cache_clear()
    dressed_who = replace(who, appearance=(*who.appearance, worn))
    assert appearance_from_identity(dressed_who).person == appearance_from_identity(who).person
    plain = create_avatar(who, head="human")
    dressed = create_avatar(dressed_who, head="human")
    mine, theirs = _triangles(dressed), set(_triangles(plain))
    region = binary_dilation(
        painted(dressed, np.array([t not in theirs for t in mine])), iterations=DILATE_PX
    )
    diff = np.abs(_draw(dressed).rgb - _draw(plain).rgb).max(axis=-1) > DIFF
    assert diff.sum() >= MIN_CHANGED, worn
    assert diff[region].sum() / diff.sum() >= IN_REGION, (worn, diff[region].sum() / diff.sum())
