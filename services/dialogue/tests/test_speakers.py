"""Who the speakers are: relation and roles read from the prompt (writing/relations.py) and
identities that fit them (writing/identities.py)."""

from __future__ import annotations

import random
import re

import pytest

from dyad.domain import AGE_BANDS, SCENARIOS, Dialogue, Relation
from dyad.errors import InvalidInput
from dyad.services.dialogue.writing.composer import OfflineComposer
from dyad.services.dialogue.writing.identities import (
    FEMININE_NAMES,
    MASCULINE_NAMES,
    NEUTRAL_NAMES,
    age_bands_for_roles,
    make_identity,
)
from dyad.services.dialogue.writing.relations import (
    infer_relation,
    infer_roles,
    relation_for_scenario,
    roles_for_relation,
)


def first(prompt: str, seed: int) -> Dialogue:
    return OfflineComposer().write(prompt, 1, seed)[0]


# -- relations ----------------------------------------------------------------------------------

RELATIONS = [
    # prompt, (blood, equal), roles
    ("a mother and her son", (True, False), ("mother", "son")),
    ("A MOTHER AND HER SON", (True, False), ("mother", "son")),
    ("Dad helps his daughter with maths", (True, False), ("father", "daughter")),
    ("parents and their kids at dinner", (True, False), ("parent", "child")),
    ("Mom's advice to her daughter", (True, False), ("mother", "daughter")),
    ("two siblings fight over the remote", (True, True), ("sibling", "sibling")),
    ("a brother and sister plan a party", (True, True), ("brother", "sister")),
    ("twins", (True, True), ("sibling", "sibling")),
    ("two cousins at a wedding", (True, True), ("cousin", "cousin")),
    ("grandpa and his grandkids", (True, False), ("grandfather", "grandchild")),
    ("a girl and her grandma bake cookies", (True, False), ("granddaughter", "grandmother")),
    ("an aunt and her nephew", (True, False), ("aunt", "nephew")),
    ("uncle and niece", (True, False), ("uncle", "niece")),
    ("a couple argue about money", (False, True), ("partner", "partner")),
    ("husband and wife", (False, True), ("husband", "wife")),
    ("a woman and her boyfriend", (False, True), ("girlfriend", "boyfriend")),
    ("her fiancé's cold feet", (False, True), ("friend", "friend")),  # a possessive: someone else
    ("a fiancée and her fiancé", (False, True), ("fiancée", "fiancé")),
    ("two friends", (False, True), ("friend", "friend")),
    ("roommates argue about dishes", (False, True), ("roommate", "roommate")),
    ("classmates", (False, True), ("classmate", "classmate")),
    ("the neighbours' dog", (False, True), ("friend", "friend")),
    ("two neighbours", (False, True), ("neighbour", "neighbour")),
    ("colleagues", (False, True), ("colleague", "colleague")),
    ("two coworkers", (False, True), ("colleague", "colleague")),
    ("teammates after a loss", (False, True), ("teammate", "teammate")),
    ("the boss and an intern", (False, False), ("manager", "intern")),
    ("an employee asks her supervisor for a raise", (False, False), ("employee", "manager")),
    ("a professor and a student", (False, False), ("professor", "student")),
    ("a teacher explains photosynthesis", (False, False), ("teacher", "student")),
    ("a pupil and her teacher", (False, False), ("student", "teacher")),
    ("a doctor tells a patient the results", (False, False), ("doctor", "patient")),
    ("a nurse and a patient", (False, False), ("nurse", "patient")),
    ("an interviewer and a candidate", (False, False), ("interviewer", "candidate")),
    ("a coach and a player", (False, False), ("coach", "player")),
    ("a customer and a shop assistant", (False, False), ("customer", "shop assistant")),
    ("a customer complains to a waiter", (False, False), ("customer", "waiter")),
    ("strangers on a train", (False, True), ("stranger", "stranger")),
    ("my mother-in-law visits", (False, False), ("son-in-law", "mother-in-law")),
    ("a stepdad and his stepson", (False, False), ("stepfather", "stepson")),
    # a role word naming someone else: the speakers are inferred from it
    ("planning a surprise birthday party for grandma", (True, True), ("sibling", "sibling")),
    ("two parents discuss their son's grades", (False, True), ("partner", "partner")),
    ("two students cram for the exam", (False, True), ("classmate", "classmate")),
    ("my sister is getting married tomorrow", (False, True), ("friend", "friend")),
]


@pytest.mark.parametrize(("prompt", "axes", "roles"), RELATIONS)
def test_relation_inference(prompt: str, axes: tuple[bool, bool], roles: tuple[str, str]) -> None:
    relation = infer_relation(prompt)
    assert relation is not None
    assert (relation.blood, relation.equal) == axes
    assert relation.label
    assert infer_roles(prompt) == roles


NO_ROLES = ["quantum chromodynamics", "my cat ate my homework", "Zoë and José plan a trip", "x"]
NO_ROLES += ["a sonnet about the sea", "momentum", "the grandstand", "kidney beans"]


@pytest.mark.parametrize("prompt", NO_ROLES)
def test_no_relation_when_no_role_word(prompt: str) -> None:
    assert infer_relation(prompt) is None
    assert infer_roles(prompt) is None


def test_relation_fallback_per_scenario() -> None:
    rng = random.Random(3)
    for scenario in SCENARIOS:
        for _ in range(20):
            relation = relation_for_scenario(scenario, rng)
            assert isinstance(relation, Relation) and relation.label
            roles = roles_for_relation(relation, rng)
            assert len(roles) == 2
    with pytest.raises(InvalidInput) as err:
        relation_for_scenario("party", rng)
    assert err.value.field == "scenario"
    assert roles_for_relation(Relation(True, False, ""), rng)[0] in (
        "parent",
        "grandparent",
        "aunt",
    )


# -- identities ---------------------------------------------------------------------------------


def test_identities_follow_the_roles() -> None:
    for seed in range(30):
        d = first("a mother and her son talk about his grades", seed)
        mum, son = d.speaker_a, d.speaker_b
        assert mum.gender_presentation == "feminine" and son.gender_presentation == "masculine"
        assert AGE_BANDS.index(mum.age_band) > AGE_BANDS.index(son.age_band)
        assert mum.name.split()[-1] == son.name.split()[-1]  # one family name
        assert mum.appearance[0] == son.appearance[0]  # and skin tone
        assert d.relation.blood and not d.relation.equal
        g = first("grandpa teaches his grandkids to fish", seed)
        assert g.speaker_a.age_band == "senior" and g.speaker_a.gender_presentation == "masculine"
        assert g.speaker_b.age_band in ("child", "teen")
        p = first("a professor and a student", seed)
        assert p.speaker_a.age_band in ("adult", "senior")


def test_identity_details_fit_age_and_gender() -> None:
    rng = random.Random(5)
    for i in range(400):
        role = ["mother", "son", "grandchild", "professor", None, "intern"][i % 6]
        ident = make_identity(rng, role=role, exclude_names=set())
        looks = " ".join(ident.appearance)
        if ident.age_band in ("child", "teen") or ident.gender_presentation == "feminine":
            assert not re.search(r"beard|stubble|moustache|goatee", looks), ident
        if ident.age_band == "child":
            assert ident.voice.split("+")[1] in ("f3", "f5")
        if ident.age_band in ("child", "teen", "young_adult"):
            assert not re.search(r"grey|silver|white|salt", ident.appearance[1]), ident
        assert re.fullmatch(r"en-(us|gb-x-rp)\+(f[1-5]|m[1-8]|klatt\d?)", ident.voice), ident.voice
        assert ident.personality and len(ident.appearance) >= 4
    mother = make_identity(rng, role="mother", exclude_names=set())
    assert mother.gender_presentation == "feminine" and mother.age_band != "child"


def test_identity_names() -> None:
    assert len(FEMININE_NAMES) >= 40 and len(MASCULINE_NAMES) >= 40 and len(NEUTRAL_NAMES) >= 20
    rng = random.Random(1)
    taken = {"Maya Okafor"}
    for _ in range(50):
        ident = make_identity(rng, role="sister", gender="feminine", exclude_names=taken)
        assert not ident.name.startswith("Maya ")
    a = make_identity(random.Random(8), role="teacher", exclude_names=set())
    b = make_identity(random.Random(8), role="teacher", exclude_names=set())
    assert a == b
    with pytest.raises(InvalidInput) as err:
        make_identity(rng, age_band="ancient", exclude_names=set())
    assert err.value.field == "age_band"


def test_age_bands_keep_elders_older() -> None:
    rng = random.Random(2)
    for _ in range(300):
        for roles in (("mother", "son"), ("son", "mother"), ("teacher", "student")):
            a, b = age_bands_for_roles(roles, rng)
            elder, younger = (a, b) if roles[0] != "son" else (b, a)
            assert AGE_BANDS.index(elder) > AGE_BANDS.index(younger), (roles, a, b)
