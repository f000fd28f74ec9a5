"""Who talks about what in each clip of the synthetic corpus: the prompt grid, the split of a
clip index and the identity and voice pools that recast a written dialogue's speakers.

``prompt_for(i, rng)`` walks a grid of relationships × topics (by scenario family), so
consecutive clips land far apart in it; ``split_of(i)`` gives a clip's split from its index
alone; ``recast(dialogue, split, rng)`` renames and revoices both speakers from the split's pool.

OOD split: its speakers come from disjoint pools — first names (a fixed hash partition of the
identity module's name lists) and voices (British English ``en-gb-x-rp``/``en-gb-scotland``
with variants unused by train/test, which speak ``en-us``). Plain ``en-gb+<variant>`` is not
used: espeak-ng 1.51 ignores the variant for it.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from dataclasses import replace

from dyad.dataset.layout import SPLITS
from dyad.domain import Dialogue, Identity, Sentence, Turn
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.dialogue.speech.voices import voice_for
from dyad.services.dialogue.writing.identities import (
    FEMININE_NAMES,
    MASCULINE_NAMES,
    NEUTRAL_NAMES,
)

# -- prompt grid: topics by scenario family × relationships ----------------------------------
TOPICS: dict[str, tuple[str, ...]] = {
    "casual": (
        "planning a weekend camping trip",
        "learning to bake sourdough bread",
        "a broken washing machine",
        "choosing a film for Friday night",
        "redecorating the living room",
        "starting a vegetable garden",
        "training for a charity run",
        "adopting a rescue cat",
        "a road trip along the coast",
        "a new video game",
    ),
    "professional": (
        "a missed project deadline",
        "asking for a pay rise",
        "preparing a client presentation",
        "moving the team to a new office",
        "a difficult performance review",
        "hiring a new developer",
        "a budget cut for next quarter",
        "a mistake in the quarterly report",
        "launching the new product in spring",
        "working from home",
    ),
    "academic": (
        "a failed chemistry exam",
        "choosing a university",
        "writing a history essay",
        "a group project that is falling behind",
        "applying for a scholarship",
        "studying for the final exams",
        "a science fair experiment",
        "picking a thesis topic",
        "learning to speak Spanish",
        "a maths homework problem",
    ),
    "emotional": (
        "the death of the family dog",
        "losing a job",
        "a friend who moved abroad",
        "feeling lonely after moving to a new city",
        "a breakup",
        "worrying about money",
        "a fight with an old friend",
        "stress before the wedding",
        "missing home",
        "a parent's illness",
    ),
    "social": (
        "a surprise birthday party",
        "a wedding invitation",
        "meeting the new neighbours",
        "a family reunion at the lake",
        "an argument at dinner",
        "a friend's engagement",
        "organising the school fundraiser",
        "a holiday gift exchange",
        "volunteering at the food bank",
        "a barbecue this Saturday",
    ),
}
HEALTH_TOPICS = (
    "trouble sleeping",
    "back pain that will not go away",
    "a hospital stay",
    "test results",
    "a new medication",
    "feeling tired all the time",
)
_ALL = tuple(TOPICS)
# relationship phrase → scenario families it talks about ("health" = HEALTH_TOPICS, emotional)
RELATIONSHIPS: dict[str, tuple[str, ...]] = {
    "a mother and her son": _ALL,
    "a father and his daughter": _ALL,
    "two siblings": ("casual", "emotional", "social", "academic"),
    "a brother and sister": ("casual", "emotional", "social"),
    "two colleagues": ("professional", "social", "casual", "emotional"),
    "a couple": ("casual", "emotional", "social"),
    "a husband and wife": ("casual", "emotional"),
    "a boss and an employee": ("professional", "emotional"),
    "a teacher and a student": ("academic", "emotional"),
    "two friends": _ALL,
    "two strangers": ("casual", "social"),
    "a doctor and a patient": ("health",),
    "a grandmother and her grandson": ("casual", "emotional", "social", "academic"),
    "a grandfather and his granddaughter": ("casual", "emotional", "social"),
    "two roommates": ("casual", "social", "academic"),
    "two neighbours": ("social", "casual"),
    "two classmates": ("academic", "social", "casual"),
}
_TEMPLATES = (
    "{rel} talk about {topic}",
    "{rel} discussing {topic}",
    "{rel} chat about {topic}",
    "{rel} having a conversation about {topic}",
)
GRID: tuple[tuple[str, str, str], ...] = tuple(
    (rel, topic, "emotional" if fam == "health" else fam)
    for rel, fams in RELATIONSHIPS.items()
    for fam in fams
    for topic in (HEALTH_TOPICS if fam == "health" else TOPICS[fam])
)
# a stride near len·(golden ratio − 1), coprime to len: neighbours land far apart in the grid
_STRIDE = next(s for s in range(int(len(GRID) * 0.618), 10**6) if math.gcd(s, len(GRID)) == 1)


def prompt_for(i: int, rng: random.Random) -> tuple[str, str]:
    """(prompt, scenario family) of clip ``i``: consecutive indices walk the whole grid
    (a stride coprime to its size); ``rng`` picks the phrasing."""
    rel, topic, family = GRID[(i * _STRIDE) % len(GRID)]
    return rng.choice(_TEMPLATES).format(rel=rel, topic=topic), family


def split_of(index: int, splits: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Split of a clip from its index alone: Fibonacci hashing spreads u = frac(i·φ) evenly,
    so even a few clips follow the fractions (10 clips at 0.8/0.1/0.1 → 8/1/1)."""
    u = ((index * 0x9E3779B97F4A7C15) % 2**64) / 2**64
    return "train" if u < splits[0] else "test" if u < splits[0] + splits[1] else "ood"


# -- identity and voice pools ----------------------------------------------------------------
def _fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isalpha()).lower()


def _ood_names(names: tuple[str, ...]) -> frozenset[str]:
    """A fixed quarter of each name list (by hash rank, so list order does not matter)."""
    ranked = sorted(
        names, key=lambda n: hashlib.sha256(f"dyad.corpus:{_fold(n)}".encode()).digest()
    )
    return frozenset(ranked[: max(2, len(names) // 4)])


NAME_POOLS: dict[str, dict[str, tuple[str, ...]]] = {"main": {}, "ood": {}}
for _gender, _names in (
    ("feminine", FEMININE_NAMES),
    ("masculine", MASCULINE_NAMES),
    ("androgynous", NEUTRAL_NAMES),
):
    _ood = _ood_names(_names)
    NAME_POOLS["ood"][_gender] = tuple(n for n in _names if n in _ood)
    NAME_POOLS["main"][_gender] = tuple(n for n in _names if n not in _ood)
VOICE_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "main": {
        "language": ("en-us",),
        "feminine": ("f2", "f3", "f4"),
        "masculine": ("m2", "m3", "m4", "m6"),
        "androgynous": ("klatt2", "m5"),
        "child": ("f3", "f4"),
    },
    "ood": {
        "language": ("en-gb-x-rp", "en-gb-scotland"),
        "feminine": ("f1", "f5", "steph"),
        "masculine": ("m1", "m7", "m8"),
        "androgynous": ("klatt3", "klatt4"),
        "child": ("f5", "steph"),
    },
}


def pool_of(split: str) -> str:
    """Identity/voice pool of a split: train and test share one, ood has its own."""
    if split not in SPLITS:
        raise InvalidInput("split", f"{split!r} is not one of {list(SPLITS)}")
    return "ood" if split == "ood" else "main"


_WORD = re.compile(r"[^\W\d_]+")


def recast(dialogue: Dialogue, split: str, rng: random.Random) -> Dialogue:
    """The dialogue with both speakers renamed and revoiced from ``split``'s pools (gender,
    age, looks and surname kept); their first names are replaced in the text, and "Mom"/"Mum"
    follows the new accent."""
    pool = pool_of(split)
    voices = VOICE_POOLS[pool]
    said = {_fold(w) for t in dialogue.turns for s in t.sentences for w in _WORD.findall(s.text)}
    new: list[Identity] = []
    for ident in (dialogue.speaker_a, dialogue.speaker_b):
        taken = said | {_fold(n.name.split()[0]) for n in new}
        names = NAME_POOLS[pool][ident.gender_presentation]
        first = rng.choice([n for n in names if _fold(n) not in taken] or list(names))
        kind = "child" if ident.age_band == "child" else ident.gender_presentation
        used = {n.voice.split("+")[-1] for n in new}
        variant = rng.choice([v for v in voices[kind] if v not in used] or list(voices[kind]))
        voice = f"{rng.choice(voices['language'])}+{variant}"
        surname = ident.name.split()[-1] if " " in ident.name else ""
        new.append(replace(ident, name=f"{first} {surname}".strip(), voice=voice))
        if voice_for(new[-1]).espeak_voice != voice:
            raise FailedPrecondition(f"espeak-ng lacks voice {voice}: run `make setup`")
    swap = {
        ident.name.split()[0]: n.name.split()[0]
        for ident, n in zip((dialogue.speaker_a, dialogue.speaker_b), new, strict=True)
    }
    swap.update({"Mom": "Mum"} if pool == "ood" else {"Mum": "Mom"})
    # not after a title: "Mr Chen" is a surname even when another speaker is called Chen
    titles = "".join(f"(?<!{t} )" for t in ("Mr", "Ms", "Doctor", "Professor"))
    words = "|".join(map(re.escape, swap))
    pattern = re.compile(rf"(?<![^\W\d_]){titles}({words})(?![^\W\d_])")
    turns = tuple(
        Turn(
            t.speaker,
            tuple(
                Sentence(pattern.sub(lambda m: swap[m.group(1)], s.text), s.emotion)
                for s in t.sentences
            ),
        )
        for t in dialogue.turns
    )
    return replace(dialogue, speaker_a=new[0], speaker_b=new[1], turns=turns)
