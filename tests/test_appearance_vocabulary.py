"""The dialogue writer's appearance vocabulary and the renderer's are one list: every phrase the
writer can give an identity (``writing/identities.py``) is something the renderer draws — it
changes the ``Appearance`` — or is listed in ``descriptor_words.NOT_DRAWN`` as read but not
shown by a bust. A new word on either side fails here until the other side knows it."""

from __future__ import annotations

import pytest

from dyad.domain import Identity
from dyad.services.dialogue.writing import identities as writer
from dyad.services.renderer.heads.appearance import appearance_from_identity, appearance_to_dict
from dyad.services.renderer.heads.descriptor_words import NOT_DRAWN


def writer_phrases() -> list[str]:
    hair = [
        f"{s} {c} hair"
        for styles in writer._HAIR_STYLE.values()
        for s in styles
        for c in ("black",)
    ]
    hair += [f"short {c} hair" for c in (*writer._HAIR_COLOUR, *writer._GREY)]
    extras = [*writer._EXTRAS_ANY, *(w for ws in writer._EXTRAS_AGE.values() for w in ws)]
    return sorted({*writer._SKIN, *hair, *writer._EYES, *writer._FACIAL_HAIR, *extras})


BASE = ("olive skin", "short brown hair", "hazel eyes")


@pytest.mark.parametrize("phrase", writer_phrases())
def test_every_writer_phrase_is_drawn_or_declared_not_drawn(phrase: str) -> None:
    if phrase in NOT_DRAWN:
        return
    who = Identity("Sam Reyes", "adult", "masculine", appearance=BASE)
    with_phrase = Identity("Sam Reyes", "adult", "masculine", appearance=(*BASE, phrase))
    before = appearance_to_dict(appearance_from_identity(who))
    after = appearance_to_dict(appearance_from_identity(with_phrase))
    # Not what a phrase sets: the text itself, and what is drawn from its hash (proportion
    # jitter, lip tint, the colours of unspecified clothing and metal).
    for d in (before, after):
        d.pop("shape"), d.pop("descriptor")
        d["palette"].pop("cloth"), d["palette"].pop("metal"), d["palette"].pop("lips")
    if phrase in BASE:
        return
    assert before != after, f"the renderer ignores the writer's {phrase!r}"


def test_not_drawn_lists_only_words_the_writer_uses() -> None:
    assert set(NOT_DRAWN) <= set(writer_phrases()), set(NOT_DRAWN) - set(writer_phrases())
