"""The offline dialogue writer (CHAT TDG without a model): determinism, structure, the
prompt's own words, scenario, environment and emotions, input checking."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from dyad.domain import (
    EMOTIONS,
    ENVIRONMENTS,
    MAX_TURNS,
    MIN_TURNS,
    SCENARIOS,
    Dialogue,
    Emotion,
    Relation,
)
from dyad.errors import InvalidInput
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.dialogue.writing.composer import OfflineComposer, subseed
from dyad.services.dialogue.writing.topic import extract_topic, infer_scenario
from dyad.services.dialogue.writing.writer import DialogueWriter

COMPOSER = OfflineComposer()
PROMPTS = [
    "planning a surprise birthday party for grandma",
    "quantum chromodynamics",
    "my cat ate my homework",
    "homework",
    "TWO COWORKERS ARGUE ABOUT A MISSED DEADLINE",
    "pizza night with the neighbours 🍕🎉",
    "Zoë and José plan a trip",
    "a mother and her son talk about his grades",
    "two friends talk after one of them lost her father",
    "a customer complains to a waiter about cold soup",
    "how do I tell my boss I quit?",
    "a teacher and a student discuss her thesis",
    "strangers on a night train",
    "grandpa teaches his grandkids to fish",
    "a doctor and a patient discuss knee surgery",
    "should we adopt a dog",
    "an interviewer asks a candidate about a gap in her CV",
    "a couple argue about money, chores and whose turn it is to cook",
    "x",
    "Two old friends who haven't seen each other in twenty years bump into each other at an "
    "airport and talk about their lives, their regrets, and what they want next.",
]


def text_of(d: Dialogue) -> str:
    return " ".join(s.text for t in d.turns for s in t.sentences)


def sentences(d: Dialogue) -> list[str]:
    return [s.text for t in d.turns for s in t.sentences]


def first(prompt: str, seed: int, **kw: object) -> Dialogue:
    return COMPOSER.write(prompt, 1, seed, **kw)[0]


# -- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", PROMPTS[:6])
def test_same_seed_gives_identical_json(prompt: str) -> None:
    a = [json.dumps(d.to_dict(), ensure_ascii=False) for d in COMPOSER.write(prompt, 3, 42)]
    b = [json.dumps(d.to_dict(), ensure_ascii=False) for d in COMPOSER.write(prompt, 3, 42)]
    assert a == b


def test_same_seed_gives_identical_json_across_processes() -> None:
    """Nothing depends on set order or string hashing (PYTHONHASHSEED differs per process)."""
    code = (
        "import json; from dyad.services.dialogue.writing.composer import OfflineComposer as C; "
        f"print(json.dumps([d.to_dict() for d in C().write({PROMPTS[0]!r}, 2, 5)]))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": h},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for h in ("1", "2")
    }
    here = json.dumps([d.to_dict() for d in COMPOSER.write(PROMPTS[0], 2, 5)])
    assert outs == {here + "\n"}


def test_first_dialogue_does_not_depend_on_n() -> None:
    one = COMPOSER.write(PROMPTS[0], 1, 9)[0]
    three = COMPOSER.write(PROMPTS[0], 3, 9)
    assert one.to_dict() == three[0].to_dict()
    assert [d.dialogue_id for d in three] == ["dlg-9-0", "dlg-9-1", "dlg-9-2"]
    assert len({text_of(d) for d in three}) == 3
    assert subseed(9, 0) != subseed(9, 1) != subseed(10, 0)


@pytest.mark.parametrize("prompt", PROMPTS[:8])
def test_different_seeds_give_clearly_different_dialogues(prompt: str) -> None:
    for seed in range(0, 20, 2):
        a, b = first(prompt, seed), first(prompt, seed + 1)
        assert text_of(a) != text_of(b)
        sa, sb = sentences(a), sentences(b)
        differ = sum(s not in sb for s in sa) + sum(s not in sa for s in sb)
        assert differ >= 0.3 * (len(sa) + len(sb)), (prompt, seed)


def test_seeds_vary_names_plans_and_length() -> None:
    ds = [first(PROMPTS[0], s) for s in range(40)]
    assert len({d.speaker_a.name for d in ds}) >= 20
    assert len({len(d.turns) for d in ds}) >= 4
    assert len({tuple(len(t.sentences) for t in d.turns) for d in ds}) >= 20


# -- structure over many prompts and seeds ------------------------------------------------------


def test_structure_for_200_seeds_over_20_prompts() -> None:
    for p, prompt in enumerate(PROMPTS):
        for seed in range(10):
            d = first(prompt, seed * 31 + p)
            d.validate()
            assert MIN_TURNS <= len(d.turns) <= MAX_TURNS
            assert [t.speaker for t in d.turns] == ["ab"[i % 2] for i in range(len(d.turns))]
            assert all(1 <= len(t.sentences) <= 3 for t in d.turns)
            assert d.scenario in SCENARIOS and d.environment in ENVIRONMENTS
            assert d.speaker_a.name != d.speaker_b.name
            assert Dialogue.from_dict(json.loads(json.dumps(d.to_dict()))) == d
            for s in (s for t in d.turns for s in t.sentences):
                assert re.fullmatch(r"[A-Z0-9¿¡\"'].*[.?!]", s.text), s.text
                assert not re.search(r"[{}]|\s[,.?!]|,,|  |(?<!\.)\.\.(?!\.)", s.text), s.text
                e = s.emotion
                assert e.category in EMOTIONS and 0.0 <= e.intensity <= 1.0
                default = Emotion()
                assert (e.rate, e.pitch, e.energy, e.pause_s) == (
                    default.rate,
                    default.pitch,
                    default.energy,
                    default.pause_s,
                )


def test_no_sentence_repeats_within_a_dialogue() -> None:
    for prompt in PROMPTS[:10]:
        for seed in range(10):
            said = sentences(first(prompt, seed))
            assert len(said) == len(set(said)), said


# -- the prompt's own words ---------------------------------------------------------------------

TOPIC_WORDS = {
    "planning a surprise birthday party for grandma": ["surprise birthday party", "Grandma"],
    "quantum chromodynamics": ["quantum chromodynamics"],
    "my cat ate my homework": ["cat", "homework"],
    "homework": ["homework"],
    "TWO COWORKERS ARGUE ABOUT A MISSED DEADLINE": ["missed deadline"],
    "pizza night with the neighbours 🍕🎉": ["pizza night"],
    "Zoë and José plan a trip": ["trip"],
    "a mother and her son talk about his grades": ["grades"],
    "a customer complains to a waiter about cold soup": ["cold soup"],
    "how do I tell my boss I quit?": ["boss", "quit"],
    "a teacher and a student discuss her thesis": ["thesis"],
    "a doctor and a patient discuss knee surgery": ["knee surgery"],
    "should we adopt a dog": ["adopt", "dog"],
    "x": ["x"],
}


@pytest.mark.parametrize(("prompt", "words"), TOPIC_WORDS.items())
def test_topic_words_of_the_prompt_appear(prompt: str, words: list[str]) -> None:
    for seed in range(5):
        text = text_of(first(prompt, seed)).lower()
        for w in words:
            assert w.lower() in text, (prompt, seed, w)


def test_topic_reader_keeps_the_users_wording() -> None:
    t = extract_topic("planning a surprise birthday party for grandma")
    assert t is not None
    assert " ".join(t.about0) == "planning a surprise birthday party for Grandma"
    assert " ".join(t.np) == "the surprise birthday party"
    assert t.eventish
    t = extract_topic("Zoë and José plan a trip tomorrow")
    assert t is not None and " ".join(t.about0) == "planning a trip" and t.time == "tomorrow"
    t = extract_topic("my cat ate my homework")
    assert t is not None and " ".join(t.event) == "my cat ate my homework"
    assert extract_topic("a mother and her son") is None


def test_point_of_view_follows_the_speaker() -> None:
    echoed = owned = 0
    for seed in range(20):
        d = first("my cat ate my homework", seed)
        said_by_b = " ".join(s.text for t in d.turns if t.speaker == "b" for s in t.sentences)
        assert "my cat" not in said_by_b.lower() and "my homework" not in said_by_b.lower()
        echoed += "your cat" in said_by_b or "your homework" in said_by_b
        d = first("a mother and her son talk about his grades", seed)
        said_by_mum = " ".join(s.text for t in d.turns if t.speaker == "a" for s in t.sentences)
        said_by_son = " ".join(s.text for t in d.turns if t.speaker == "b" for s in t.sentences)
        assert "his grades" not in text_of(d).lower() and "my grades" not in said_by_mum
        assert "your grades" not in said_by_son
        owned += "your grades" in said_by_mum
    assert echoed >= 5 and owned >= 10


def test_partner_details_are_picked_up() -> None:
    """Most dialogues answer with words the partner just used (a concern, an idea, a time)."""
    picked = 0
    for seed in range(40):
        d = first(PROMPTS[seed % 8], seed)
        for prev, turn in zip(d.turns, d.turns[1:], strict=False):
            words = re.findall(r"[\w']+", " ".join(s.text for s in prev.sentences).lower())
            grams = {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}
            now = " ".join(re.findall(r"[\w']+", " ".join(s.text for s in turn.sentences).lower()))
            if any(g in now for g in grams if len(g) > 12):
                picked += 1
                break
    assert picked >= 30


def test_names_in_the_prompt_become_the_speakers() -> None:
    for seed in range(5):
        d = first("Zoë and José plan a trip", seed)
        assert "trip" in text_of(d)
        assert d.speaker_a.name.split()[0] == "Zoë"
        assert d.speaker_b.name.split()[0] == "José"
        assert d.speaker_a.gender_presentation == "feminine"


# -- scenario, environment, emotions ------------------------------------------------------------

SCENARIO_TABLE = [
    ("two colleagues argue about a missed deadline", "professional"),
    ("preparing for a job interview", "professional"),
    ("the quarterly budget meeting", "professional"),
    ("revising for the physics exam", "academic"),
    ("my thesis is due and my research is a mess", "academic"),
    ("a lecture on quantum chromodynamics", "academic"),
    ("I'm worried about my dad, he is sick", "emotional"),
    ("after the breakup", "emotional"),
    ("saying sorry after a fight", "emotional"),
    ("planning a surprise birthday party for grandma", "social"),
    ("a wedding toast", "social"),
    ("dinner with the neighbours", "social"),
    ("a weekend trip to the coast", "casual"),
    ("which film to watch tonight", "casual"),
]


@pytest.mark.parametrize(("prompt", "scenario"), SCENARIO_TABLE)
def test_scenario_inference(prompt: str, scenario: str) -> None:
    assert infer_scenario(prompt) == scenario
    assert first(prompt, 1).scenario == scenario


def test_no_cue_lets_later_dialogues_vary_the_family() -> None:
    assert infer_scenario("Zoë and José") is None
    ds = COMPOSER.write("Zoë and José", 12, 4)
    assert ds[0].scenario == "casual"
    assert len({d.scenario for d in ds}) >= 3
    cued = COMPOSER.write("revising for the physics exam", 8, 4)
    assert {d.scenario for d in cued} == {"academic"}


def test_given_scenario_and_relation_win() -> None:
    rel = Relation(blood=False, equal=False, label="manager and employee")
    for seed in range(5):
        d = first("pizza night", seed, scenario="professional", relation=rel)
        assert d.scenario == "professional" and d.relation == rel
        assert d.environment in ("office", "cafe")


def test_environment_fits() -> None:
    for seed in range(10):
        assert first("the quarterly budget meeting", seed).environment in ("office", "cafe")
        assert first("a teacher and a student", seed).environment in ("classroom", "cafe")
        assert first("a customer and a waiter", seed).environment == "cafe"


def test_emotions_fit_acts_and_family() -> None:
    sad = 0
    for seed in range(20):
        d = first("two friends talk after one of them lost her father", seed)
        assert d.scenario == "emotional"
        cats = [(s.emotion.category, s.emotion.intensity) for t in d.turns for s in t.sentences]
        sad += any(c in ("sad", "fearful") and 0.5 <= i <= 0.9 for c, i in cats)
        assert not any(c == "happy" and i > 0.5 for c, i in cats[:3])
        p = first("a customer complains to a waiter about cold soup", seed)
        assert any(s.emotion.category == "angry" for t in p.turns for s in t.sentences)
    assert sad == 20
    party = [first("planning a surprise birthday party for grandma", s) for s in range(20)]
    happy = [
        s for d in party for t in d.turns for s in t.sentences if s.emotion.category == "happy"
    ]
    assert len(happy) >= 40


# -- input checking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   \n\t "}, "prompt"),
        ({"prompt": "x" * 4001}, "prompt"),
        ({"prompt": "hello\x00world"}, "prompt"),
        ({"prompt": "bell\x07"}, "prompt"),
        ({"prompt": "\x9bcsi"}, "prompt"),
        ({"prompt": "lone \ud800 surrogate"}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"n": 0}, "n"),
        ({"n": 65}, "n"),
        ({"n": True}, "n"),
        ({"n": 2.0}, "n"),
        ({"seed": "7"}, "seed"),
        ({"scenario": "party"}, "scenario"),
        ({"scenario": "Casual"}, "scenario"),
        ({"relation": {"blood": True}}, "relation"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"prompt": "a walk in the park", "n": 1, "seed": 0} | kwargs
    prompt, n, seed = args.pop("prompt"), args.pop("n"), args.pop("seed")
    with pytest.raises(InvalidInput) as err:
        COMPOSER.write(prompt, n, seed, **args)
    assert err.value.field == field


def test_edge_inputs_are_fine() -> None:
    assert len(COMPOSER.write("x" * 4000, 1, 0)) == 1
    assert len(COMPOSER.write("tabs\tand\nnewlines", 64, -5)) == 64
    d = first("  🍕🎉  ", 3)  # nothing but emoji: a general chat
    d.validate()


def test_turn_range_is_honoured_and_checked() -> None:
    writer = DialogueWriter(DialogueSettings())
    for lo, hi in ((5, 5), (6, 7), (10, 10)):
        lengths = {
            len(d.turns) for d in writer.write("a trip to Lisbon", 6, seed=3, turns=(lo, hi))
        }
        assert lengths <= set(range(lo, hi + 1)), (lo, hi, lengths)
    for bad in ((3, 6), (7, 6), (9, 12)):
        with pytest.raises(InvalidInput) as e:
            writer.write("a trip", 1, turns=bad)
        assert e.value.field == "turns"
