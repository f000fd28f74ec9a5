"""Voice casting (speech/casting.py) on fixed voice lists: fit, best engine first,
distinctness, determinism, explicit voices and the errors that name their field."""

from __future__ import annotations

import pytest

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.services.dialogue.speech.casting import (
    DISTINCT_SEMITONES,
    SHIFT_FORMANT,
    SHIFT_SEMITONES,
    cast,
)
from dyad.services.dialogue.speech.voices import VoiceInfo, voice_for

JOE = VoiceInfo("piper", "en_US-joe-medium", "masculine", sample_rate=22050)
FRESH = [  # what `make setup` installs: Piper's joe, flite, espeak
    JOE,
    VoiceInfo("flite", "awb", "masculine"),
    VoiceInfo("flite", "rms", "masculine"),
    VoiceInfo("flite", "slt", "feminine"),
    VoiceInfo("espeak", "en-us+m3", "masculine"),
]
EXTRA = [
    *FRESH,
    VoiceInfo("rhvoice", "clb", "feminine"),
    VoiceInfo("rhvoice", "slt", "feminine"),
    VoiceInfo("rhvoice", "alan", "masculine"),
]


def people(a: tuple[str, str], b: tuple[str, str]) -> dict[str, Identity]:
    return {
        "a": Identity("Ana Silva", gender_presentation=a[0], age_band=a[1]),
        "b": Identity("Ben Okafor", gender_presentation=b[0], age_band=b[1]),
    }


def test_voices_fit_gender_best_engine_first() -> None:
    got = cast(people(("masculine", "adult"), ("feminine", "adult")), FRESH, key="d1")
    assert got["a"].info.id == "piper:en_US-joe-medium"  # the neural voice for a man
    assert got["b"].info.id == "flite:slt"  # the best female voice a fresh machine has
    with_rhvoice = cast(people(("masculine", "adult"), ("feminine", "adult")), EXTRA, key="d1")
    assert (
        with_rhvoice["b"].info.engine == "rhvoice" and with_rhvoice["b"].info.gender == "feminine"
    )


def test_two_speakers_on_one_voice_are_shifted_clearly_apart() -> None:
    got = cast(people(("masculine", "adult"), ("masculine", "adult")), FRESH, key="d2")
    a, b = got["a"], got["b"]
    assert a.info.id == b.info.id == JOE.id  # quality first: both on the neural voice …
    assert abs(b.pitch_st - a.pitch_st) == pytest.approx(SHIFT_SEMITONES)  # … but B moved
    ratio = b.formant / a.formant
    assert ratio == pytest.approx(SHIFT_FORMANT) or ratio == pytest.approx(1 / SHIFT_FORMANT)


def test_a_distinct_voice_of_the_same_quality_is_preferred_to_a_shift() -> None:
    got = cast(people(("feminine", "adult"), ("feminine", "adult")), EXTRA, key="d3")
    assert {got["a"].info.id, got["b"].info.id} == {"rhvoice:clb", "rhvoice:slt"}
    # distinct voices of one gender may share a pitch (clb and slt both ~171 Hz): kept apart
    assert abs(got["b"].pitch_st - got["a"].pitch_st) >= DISTINCT_SEMITONES - 1e-9
    assert got["b"].formant == got["a"].formant == 1.0  # their own timbres differ already


def test_younger_or_more_feminine_goes_up() -> None:
    got = cast(people(("masculine", "senior"), ("masculine", "teen")), FRESH, key="x")
    assert got["b"].info.id == got["a"].info.id
    assert got["b"].pitch_st >= got["a"].pitch_st + SHIFT_SEMITONES - 1e-9
    assert got["b"].formant > got["a"].formant


def test_children_take_feminine_voices_raised() -> None:
    got = cast(people(("masculine", "child"), ("masculine", "adult")), FRESH, key="k")
    assert got["a"].info.gender == "feminine" and got["a"].pitch_st >= 5.5  # ~170 → ~240 Hz
    assert got["a"].formant > 1.05 and got["a"].rate > 1.0


def test_casting_is_deterministic_per_dialogue() -> None:
    who = people(("feminine", "adult"), ("feminine", "adult"))
    runs = {tuple(v.describe()["id"] for v in cast(who, EXTRA, key="same").values()) for _ in "xyz"}
    assert len(runs) == 1
    keys = {cast(who, EXTRA, key=f"k{i}")["a"].info.id for i in range(12)}
    assert keys == {"rhvoice:clb", "rhvoice:slt"}  # ties go either way across dialogues


def test_explicit_voices_win_and_unknown_ones_name_their_field() -> None:
    who = people(("masculine", "adult"), ("feminine", "adult"))
    got = cast(who, FRESH, requested={"a": ("flite:rms", "voice_a")})
    assert got["a"].info.id == "flite:rms" and got["b"].info.id == "flite:slt"
    for value, message in (("piper:nobody", "no installed voice"), ("not a voice", "voice id")):
        with pytest.raises(InvalidInput, match=message) as e:
            cast(who, FRESH, requested={"b": (value, "voice_b")})
        assert e.value.field == "voice_b"
    own = dict(who, a=Identity("Ana", gender_presentation="masculine", voice="flite:awb"))
    assert cast(own, FRESH)["a"].info.id == "flite:awb"  # the identity's own voice id
    bad = dict(who, a=Identity("Ana", voice="piper:nobody"))
    with pytest.raises(InvalidInput) as e:
        cast(bad, FRESH)
    assert e.value.field == "dialogue.speaker_a.voice"


def test_espeak_only_keeps_each_identitys_own_voice() -> None:
    espeak = [VoiceInfo("espeak", "en-us+m1", "masculine")]
    who = people(("feminine", "young_adult"), ("masculine", "senior"))
    got = cast(who, espeak, key="e")
    for s in ("a", "b"):
        assert got[s].info.id == f"espeak:{voice_for(who[s]).espeak_voice}"
        assert got[s].espeak == voice_for(who[s]) and not got[s].shifted
    twins = {s: Identity("Same Name", gender_presentation="feminine") for s in ("a", "b")}
    same = cast(twins, espeak, key="e")
    assert same["a"].info.id == same["b"].info.id and same["b"].shifted


def test_a_child_keeps_a_childs_voice_beside_an_adult_of_the_same_voice_kind() -> None:
    """The child's own offsets (+7 semitones, a shorter vocal tract) are not undone by the
    rule that keeps two same-gender voices apart."""
    for voices in (FRESH, EXTRA):
        got = cast(people(("feminine", "adult"), ("masculine", "child")), voices, key="c")
        assert got["b"].info.gender == "feminine"
        assert got["b"].pitch_st >= 5.0 and got["b"].formant > 1.1, got["b"].describe()
        assert got["b"].pitch_st - got["a"].pitch_st >= DISTINCT_SEMITONES
