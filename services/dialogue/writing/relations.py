"""Who the two speakers are to each other, read from the prompt (RSATalker's two axes).

``infer_relation`` finds role words (word boundaries, any case, plurals, possessives) and maps
them onto ``blood``/``non_blood`` × ``equal``/``unequal``; ``infer_roles`` says which role each
speaker plays ("a mother and her son" → ``("mother", "son")``). A role word after "for",
"about", "of", … or in a possessive ("their son's grades") names a third person, not a speaker:
"planning a party for grandma" → the speakers are siblings. Nothing found → ``None``, and the
caller picks per scenario with ``relation_for_scenario``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from dyad.domain import SCENARIOS, Relation
from dyad.errors import InvalidInput

# group: (blood, equal, default upper role, default lower role, label of a same-role pair)
_GROUPS: dict[str, tuple[bool, bool, str, str, str]] = {
    "inlaw": (False, False, "mother-in-law", "son-in-law", ""),
    "inlaw_peer": (False, True, "sister-in-law", "brother-in-law", "in-laws"),
    "step": (False, False, "stepparent", "stepchild", ""),
    "step_peer": (False, True, "stepsibling", "stepsibling", "stepsiblings"),
    "grand": (True, False, "grandparent", "grandchild", ""),
    "parent": (True, False, "parent", "child", ""),
    "aunt": (True, False, "aunt", "niece", ""),
    "sibling": (True, True, "sibling", "sibling", "siblings"),
    "cousin": (True, True, "cousin", "cousin", "cousins"),
    "couple": (False, True, "partner", "partner", "couple"),
    "friend": (False, True, "friend", "friend", "friends"),
    "roommate": (False, True, "roommate", "roommate", "roommates"),
    "classmate": (False, True, "classmate", "classmate", "classmates"),
    "neighbour": (False, True, "neighbour", "neighbour", "neighbours"),
    "colleague": (False, True, "colleague", "colleague", "colleagues"),
    "teammate": (False, True, "teammate", "teammate", "teammates"),
    "stranger": (False, True, "stranger", "stranger", "strangers"),
    "work": (False, False, "manager", "employee", ""),
    "school": (False, False, "teacher", "student", ""),
    "care": (False, False, "doctor", "patient", ""),
    "interview": (False, False, "interviewer", "candidate", ""),
    "sport": (False, False, "coach", "player", ""),
    "service": (False, False, "customer", "shop assistant", ""),
}

# (canonical role, group, side 0 = elder/upper, 1 = younger/lower, gender, spellings); longer
# and compound words first: a matched span is blanked out before later patterns run.
_LEXICON: tuple[tuple[str, str, int, str, str], ...] = (
    ("mother-in-law", "inlaw", 0, "feminine", r"mothers?-in-law"),
    ("father-in-law", "inlaw", 0, "masculine", r"fathers?-in-law"),
    ("son-in-law", "inlaw", 1, "masculine", r"sons?-in-law"),
    ("daughter-in-law", "inlaw", 1, "feminine", r"daughters?-in-law"),
    ("sister-in-law", "inlaw_peer", 0, "feminine", r"sisters?-in-law"),
    ("brother-in-law", "inlaw_peer", 0, "masculine", r"brothers?-in-law"),
    ("stepmother", "step", 0, "feminine", r"step-?(?:mother|mom|mum)"),
    ("stepfather", "step", 0, "masculine", r"step-?(?:father|dad)"),
    ("stepparent", "step", 0, "", r"step-?parent"),
    ("stepson", "step", 1, "masculine", r"step-?son"),
    ("stepdaughter", "step", 1, "feminine", r"step-?daughter"),
    ("stepchild", "step", 1, "", r"step-?child(?:ren)?|step-?kid"),
    ("stepsibling", "step_peer", 0, "", r"step-?(?:sibling|brother|sister)"),
    ("grandmother", "grand", 0, "feminine", r"grandmother|grandma|granny|grannies|gran|nana"),
    ("grandfather", "grand", 0, "masculine", r"grandfather|grandpa|grand-?dad|gramps"),
    ("grandparent", "grand", 0, "", r"grandparent"),
    ("grandson", "grand", 1, "masculine", r"grandson"),
    ("granddaughter", "grand", 1, "feminine", r"granddaughter"),
    ("grandchild", "grand", 1, "", r"grandchild(?:ren)?|grandkid"),
    ("mother", "parent", 0, "feminine", r"mother|mom|mum|mommy|mummy|mama|momma"),
    ("father", "parent", 0, "masculine", r"father|dad|daddy|papa"),
    ("parent", "parent", 0, "", r"parent"),
    ("son", "parent", 1, "masculine", r"son"),
    ("daughter", "parent", 1, "feminine", r"daughter"),
    ("child", "parent", 1, "", r"child(?:ren)?|kid"),
    ("aunt", "aunt", 0, "feminine", r"aunt|auntie|aunty"),
    ("uncle", "aunt", 0, "masculine", r"uncle"),
    ("niece", "aunt", 1, "feminine", r"niece"),
    ("nephew", "aunt", 1, "masculine", r"nephew"),
    ("brother", "sibling", 0, "masculine", r"brother"),
    ("sister", "sibling", 0, "feminine", r"sister"),
    ("sibling", "sibling", 0, "", r"sibling|twin"),
    ("cousin", "cousin", 0, "", r"cousin"),
    ("husband", "couple", 0, "masculine", r"husband"),
    ("wife", "couple", 0, "feminine", r"wife|wives"),
    ("boyfriend", "couple", 0, "masculine", r"boyfriend"),
    ("girlfriend", "couple", 0, "feminine", r"girlfriend"),
    ("fiancée", "couple", 0, "feminine", r"fianc[ée]e"),
    ("fiancé", "couple", 0, "masculine", r"fianc[ée]"),
    ("partner", "couple", 0, "", r"partner|spouse|couple|newlywed"),
    ("roommate", "roommate", 0, "", r"roommate|room-mate|flatmate|housemate"),
    ("classmate", "classmate", 0, "", r"classmate|schoolmate|course-?mate"),
    ("teammate", "teammate", 0, "", r"teammate|team-mate"),
    ("colleague", "colleague", 0, "", r"colleague|co-?worker|workmate"),
    ("neighbour", "neighbour", 0, "", r"neighbou?r"),
    ("friend", "friend", 0, "", r"friend|buddy|buddie|pal|bestie"),
    ("stranger", "stranger", 0, "", r"stranger"),
    ("shop assistant", "service", 1, "", r"(?:shop|sales|store) (?:assistant|clerk)"),
    ("waitress", "service", 1, "feminine", r"waitress"),
    ("waiter", "service", 1, "", r"waiter|barista|cashier|shopkeeper|bartender|receptionist"),
    ("customer", "service", 0, "", r"customer|client|shopper"),
    ("manager", "work", 0, "", r"boss|manager|supervisor|team lead|director|ceo"),
    ("intern", "work", 1, "", r"intern|trainee|apprentice"),
    ("employee", "work", 1, "", r"employee|new hire|staff member|worker"),
    ("professor", "school", 0, "", r"professor|lecturer"),
    ("teacher", "school", 0, "", r"teacher|tutor|instructor|headteacher|principal"),
    ("student", "school", 1, "", r"student|pupil|undergrad|undergraduate"),
    ("nurse", "care", 0, "", r"nurse"),
    ("doctor", "care", 0, "", r"doctor|physician|dentist|therapist|surgeon|gp"),
    ("patient", "care", 1, "", r"patient"),
    ("interviewer", "interview", 0, "", r"interviewer|recruiter"),
    ("candidate", "interview", 1, "", r"candidate|applicant|interviewee|job seeker"),
    ("coach", "sport", 0, "", r"coach|trainer"),
    ("player", "sport", 1, "", r"player|athlete"),
)
_PATTERNS = [
    re.compile(rf"(?<![\w-])(?:{spell})(s|es)?(?:'s|’s|'|’)?(?![\w-])", re.IGNORECASE)
    for *_, spell in _LEXICON
]
_FINITE = r"is|was|has|had|got|just|keeps|wants|won't|can't|doesn't|didn't|isn't|\w+ed"
_IRREGULAR_PLURALS = ("children", "wives", "grannies", "grandchildren", "couple", "newlywed")
_THIRD_PARTY = {"for", "about", "of", "from", "at", "without", "regarding", "behind", "over"}
_SKIP = {"a", "an", "the", "my", "our", "their", "his", "her", "your", "its", "dear", "old"}
_SKIP |= {"new", "sick", "elderly", "late", "own"}
_SKIP |= {"little", "younger", "older", "big", "best", "two", "beloved", "favourite", "ex"}
# who the speakers probably are when a prompt only names someone else ("a party for grandma")
_THIRD_TO_SPEAKERS = {
    ("parent", 0): "sibling",
    ("grand", 0): "sibling",
    ("aunt", 0): "cousin",
    ("parent", 1): "parent",
    ("grand", 1): "parent",
    ("school", 0): "student",
    ("school", 1): "teacher",
    ("work", 0): "colleague",
    ("work", 1): "manager",
    ("care", 1): "doctor",
}
# two people of one role ("two students") → the pair
_SAME_ROLE_PAIR = {"student": "classmate", "employee": "colleague", "manager": "colleague"}
_SAME_ROLE_PAIR |= {r: "colleague" for r in ("intern", "nurse", "doctor", "teacher", "professor")}
_SAME_ROLE_PAIR |= {"son": "brother", "daughter": "sister", "child": "sibling"}
_SAME_ROLE_PAIR |= {"player": "teammate"}
_SAME_ROLE_PAIR |= {"parent": "partner", "mother": "partner", "father": "partner"}


@dataclass(frozen=True)
class _Mention:
    pos: int
    end: int
    role: str
    group: str
    side: int
    plural: bool
    third_party: bool
    mine: bool  # "my boss": the prompt speaks as the other speaker


def _mentions(prompt: str) -> list[_Mention]:
    text, found = prompt, []
    for (role, group, side, _g, _s), pattern in zip(_LEXICON, _PATTERNS, strict=True):
        for m in pattern.finditer(text):
            word = m.group(0).lower()
            plural = bool(m.group(1)) or any(word.startswith(p) for p in _IRREGULAR_PLURALS)
            words = re.findall(r"[\w']+", prompt[: m.start()].lower())
            mine = bool(words) and words[-1] in ("my", "our")
            while words and words[-1] in _SKIP:
                words.pop()
            possessive = word[-1] in "'’" or word[-2:] in ("'s", "’s")
            after = prompt[m.end() :].lower()
            third = bool(words and words[-1] in _THIRD_PARTY) or (
                possessive and bool(re.match(r"\s+\w", after))
            )
            if not plural and re.match(rf"\s+(?:{_FINITE})\b", after):  # "grandma is in hospital"
                third = True
            found.append(_Mention(m.start(), m.end(), role, group, side, plural, third, mine))
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return sorted(found, key=lambda m: m.pos)


_PERSON = re.compile(
    r"(?<!\w)(woman|man|girl|boy|lady|gentleman|guy)(?!\w)|^\W*[A-ZÀ-Þ][^\W\d_]+(?= (?:and|&) )",
    re.IGNORECASE,
)
_PERSON_GENDER = {"woman": "feminine", "girl": "feminine", "lady": "feminine"}


def _pair(prompt: str) -> tuple[str, tuple[str, str]] | None:
    """(group, (role of speaker a, role of speaker b)) or None."""
    mentions = _mentions(prompt)
    speakers = [m for m in mentions if not m.third_party]
    if not speakers:
        if not mentions:
            return None
        first = mentions[0]
        role = _THIRD_TO_SPEAKERS.get((first.group, first.side), "friend")
        return _pair(f"two {role}s")
    groups = list(dict.fromkeys(m.group for m in speakers))
    both = [g for g in groups if len({m.side for m in speakers if m.group == g}) == 2]
    group = both[0] if both else groups[0]
    _blood, equal, upper, lower, _ = _GROUPS[group]
    mine = [m for m in speakers if m.group == group]
    first = mine[0]
    if equal and len(mine) > 1:
        return group, (first.role, mine[1].role)
    if not both and first.plural:
        if equal:
            return group, (first.role, first.role)
        return _pair(f"two {_SAME_ROLE_PAIR.get(first.role, 'stranger')}s")
    other = next((m for m in mine if m.side != first.side), None)
    if other is None and not equal:  # the other side as a third person
        other = next((m for m in mentions if m.group == group and m.side != first.side), None)
    if other is not None:
        ordered = sorted((first, other), key=lambda m: m.pos)
        return group, (ordered[0].role, ordered[1].role)
    # one speaker named: the other is the group's default, or "a girl and her grandma"
    side = 1 - first.side if not equal else 0
    person = _PERSON.search(prompt)
    word = (person.group(1) or "") if person else ""
    gender = _PERSON_GENDER.get(word.lower(), "masculine" if word else "")
    default = lower if side == 1 else upper
    if group == "couple" and gender:
        pair = {"husband": ("wife", "husband"), "wife": ("wife", "husband")}
        pair |= {
            "boyfriend": ("girlfriend", "boyfriend"),
            "girlfriend": ("girlfriend", "boyfriend"),
        }
        women, men = pair.get(first.role, (default, default))
        default = women if gender == "feminine" else men
    elif gender:  # "a girl and her grandma": the granddaughter
        gendered = (r for r, g, sd, gen, _ in _LEXICON if (g, sd, gen) == (group, side, gender))
        default = next(gendered, default)
    if (person and person.start() < first.pos) or first.mine:
        return group, (default, first.role)
    return group, (first.role, default)


def _plural(role: str) -> str:
    return {"child": "children", "wife": "wives", "waitress": "waitresses", "coach": "coaches"}.get(
        role, role + "s"
    )


def _label(group: str, roles: tuple[str, str]) -> str:
    _blood, equal, upper, _lower, same = _GROUPS[group]
    if roles[0] == roles[1]:
        return same if roles[0] in ("partner", "sibling") else _plural(roles[0])
    if equal and upper in roles:  # "sibling and sister" → "siblings"
        return same
    return f"{roles[0]} and {roles[1]}"


def infer_relation(prompt: str) -> Relation | None:
    """The speakers' relation named by the prompt's role words, or None when there are none."""
    found = _pair(prompt)
    if found is None:
        return None
    group, roles = found
    blood, equal, *_ = _GROUPS[group]
    return Relation(blood=blood, equal=equal, label=_label(group, roles))


def infer_roles(prompt: str) -> tuple[str, str] | None:
    """(role of speaker a, role of speaker b), in the prompt's order, or None."""
    found = _pair(prompt)
    return None if found is None else found[1]


def role_spans(prompt: str) -> list[tuple[int, int, str, bool]]:
    """Every role word as (start, end, canonical role, names a third person)."""
    return [(m.pos, m.end, m.role, m.third_party) for m in _mentions(prompt)]


def role_gender(role: str) -> str | None:
    """ "feminine"/"masculine" for a gendered role word (mother, uncle, waitress), else None."""
    for name, _group, _side, gender, _spell in _LEXICON:
        if name == role:
            return gender or None
    return None


def role_side(role: str) -> int | None:
    """0 for the elder/upper side of an unequal pair (mother, manager), 1 for the other, None for
    equal pairs and unknown roles."""
    for name, group, side, _gender, _spell in _LEXICON:
        if name == role:
            return None if _GROUPS[group][1] else side
    return None


_FALLBACK: dict[str, tuple[tuple[str, float], ...]] = {
    "casual": (("friends", 5), ("siblings", 2), ("roommates", 1), ("couple", 1), ("cousins", 1)),
    "professional": (
        ("colleagues", 5),
        ("manager and employee", 4),
        ("interviewer and candidate", 1),
    ),
    "emotional": (("friends", 4), ("couple", 2), ("siblings", 2), ("parent and child", 2)),
    "academic": (("classmates", 5), ("professor and student", 3), ("teacher and student", 2)),
    "social": (("friends", 4), ("neighbours", 3), ("strangers", 2), ("couple", 1)),
}


def relation_for_scenario(scenario: str, rng: random.Random) -> Relation:
    """A plausible relation for a scenario family when the prompt names none."""
    if scenario not in _FALLBACK:
        raise InvalidInput("scenario", f"{scenario!r} is not one of {list(SCENARIOS)}")
    labels, weights = zip(*_FALLBACK[scenario], strict=True)
    relation = infer_relation(rng.choices(labels, weights)[0])
    assert relation is not None
    return relation


def roles_for_relation(relation: Relation, rng: random.Random) -> tuple[str, str]:
    """Roles for a given relation: read from its label when it names them, else from the axes."""
    roles = infer_roles(relation.label) if relation.label else None
    found = _pair(relation.label) if relation.label else None
    if roles and found and _GROUPS[found[0]][:2] == (relation.blood, relation.equal):
        return roles
    options = {
        (True, True): ("siblings", "cousins"),
        (True, False): ("parent and child", "grandparent and grandchild", "aunt and niece"),
        (False, True): ("friends", "colleagues", "neighbours", "couple"),
        (False, False): ("manager and employee", "teacher and student", "doctor and patient"),
    }[(relation.blood, relation.equal)]
    roles = infer_roles(rng.choice(options))
    assert roles is not None
    return roles
