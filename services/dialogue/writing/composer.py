"""The offline dialogue writer: CHAT's TDG without a language model (the default backend).

From one prompt it writes N two-person dialogues about the prompt, in the prompt's own words::

    dialogues = OfflineComposer().write("planning a surprise birthday party for grandma", 3, 7)

The composer casts the two speakers (relation, roles, identities, how they address each other)
and the sound environment. Each dialogue follows a dialogue-act plan (``plan``: greet → raise the
topic → ask → answer → react → worry/disagree → propose → accept/object → close) realised by
templates from the ``phrasebook`` (``sentences``), filled with the topic, the speakers' names and
how they address each other, and details the partner said earlier. Dialogue k draws everything
from a sub-seed of (seed, k): the same seed gives byte-identical dialogues, and asking for more
dialogues does not change the first ones.
"""

from __future__ import annotations

import hashlib
import random
import re

from dyad.domain import (
    MAX_TURNS,
    MIN_TURNS,
    SCENARIOS,
    SPEAKERS,
    Dialogue,
    Relation,
    Turn,
)
from dyad.errors import InvalidInput
from dyad.services.dialogue.writing import phrasebook as pb
from dyad.services.dialogue.writing.identities import (
    age_bands_for_roles,
    make_identity,
)
from dyad.services.dialogue.writing.plan import plan_acts
from dyad.services.dialogue.writing.relations import (
    infer_relation,
    infer_roles,
    relation_for_scenario,
    role_gender,
    role_side,
    roles_for_relation,
)
from dyad.services.dialogue.writing.sentences import SentenceWriter, Speaker
from dyad.services.dialogue.writing.topic import (
    NAMES,
    Topic,
    extract_topic,
    infer_scenario,
)

MAX_PROMPT, MAX_N = 4000, 64


def _address(who: Speaker, by: Speaker, rng: random.Random) -> str:
    """How ``by`` addresses ``who``."""
    r, g, first = who.role, who.ident.gender_presentation, who.first
    surname = who.ident.name.split()[-1]
    title = {"feminine": "Ms", "masculine": "Mr"}.get(g)
    if r in ("mother", "stepmother") or (r == "parent" and g == "feminine"):
        return "Mum" if by.ident.voice.startswith("en-gb") else "Mom"
    if r in ("father", "stepfather") or (r == "parent" and g == "masculine"):
        return "Dad"
    if r in ("grandmother", "grandparent") and g != "masculine":
        return rng.choice(("Grandma", "Gran", "Nana"))
    if r in ("grandfather", "grandparent"):
        return rng.choice(("Grandpa", "Grandad"))
    if r in ("aunt", "uncle"):
        return f"{'Auntie' if r == 'aunt' else 'Uncle'} {first}"
    if r == "professor" or r == "doctor":
        return f"{r.capitalize()} {surname}"
    if r in ("teacher", "interviewer") and title:
        return f"{title} {surname}"
    if r == "coach":
        return "Coach"
    if r == "customer":
        return {"feminine": "madam", "masculine": "sir"}.get(g, "")
    if by.register == "customer" or r == "stranger":
        return ""
    if by.register == "elder" and who.ident.age_band in ("child", "teen"):
        return rng.choice((first, first, "sweetheart", "love"))
    if by.register == "intimate":
        return rng.choice((first, first, "love"))
    return first


def _environment(rng: random.Random, family: str, regs: set[str], relation: Relation) -> str:
    if regs & {"service", "customer"}:
        return "cafe"
    if regs & {"doctor", "interviewer", "boss", "work_peer"}:
        return "office" if rng.random() < 0.85 else "cafe"
    if regs & {"teacher"} or (family == "academic" and "close" in regs):
        return rng.choice(("classroom", "classroom", "cafe"))
    if "stranger" in regs:
        return rng.choice(("open_space", "cafe", "open_space"))
    home = relation.blood or regs & {"intimate", "elder"}
    options = pb.ENVIRONMENT_OPTIONS[family]
    return (
        rng.choice(("living_room", "living_room", "car", *options)) if home else rng.choice(options)
    )


def _pronoun_genders(
    prompt: str, topic: Topic, roles: tuple[str, str]
) -> tuple[str | None, str | None]:
    """Genders the prompt's pronouns give away: "Sam and his mother" (Sam is masculine), "a
    candidate … her CV" (a his/her in the topic is usually the second speaker's)."""
    named = re.match(r"\W*[^\W\d_]+\s+(?:and|&)\s+(his|her)\b", prompt)
    first = {"his": "masculine", "her": "feminine"}.get(named.group(1)) if named else None
    said = {w.lower() for w in topic.about + topic.np}
    gender = "feminine" if "her" in said else "masculine" if "his" in said else None
    if gender is None or role_gender(roles[1]) is not None:
        return first, None
    return first, gender


def _age_hint(prompt: str) -> str | None:
    """ "two kids", "teenagers": an age band the prompt gives both speakers."""
    if re.search(r"\b(?:kids|children|little ones|toddlers)\b", prompt, re.IGNORECASE):
        return "child"
    return "teen" if re.search(r"\bteen(?:ager)?s\b", prompt, re.IGNORECASE) else None


def _check(prompt: object, n: object, seed: object, scenario: object, relation: object) -> None:
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidInput("prompt", "expected non-empty text")
    if len(prompt) > MAX_PROMPT:
        raise InvalidInput("prompt", f"longer than {MAX_PROMPT} characters")
    if any((ord(c) < 32 and c not in "\t\n") or 127 <= ord(c) < 160 for c in prompt):
        raise InvalidInput("prompt", "control characters are not allowed")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in prompt):
        raise InvalidInput("prompt", "not valid UTF-8 (lone surrogate)")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise InvalidInput("n", f"expected an integer in [1, {MAX_N}], got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput("seed", f"expected an integer, got {seed!r}")
    if scenario is not None and scenario not in SCENARIOS:
        raise InvalidInput("scenario", f"{scenario!r} is not one of {list(SCENARIOS)}")
    if relation is not None and not isinstance(relation, Relation):
        raise InvalidInput("relation", "expected a Relation")


def subseed(seed: int, k: int) -> int:
    """The seed of dialogue k of a request (independent of how many dialogues are asked for)."""
    return int.from_bytes(hashlib.sha256(f"dyad.dialogue:{seed}:{k}".encode()).digest()[:8], "big")


class OfflineComposer:
    """Template-based TDG: no network, no model weights, deterministic given the seed."""

    name = "offline"

    def write(
        self,
        prompt: str,
        n: int,
        seed: int,
        *,
        scenario: str | None = None,
        relation: Relation | None = None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]:
        _check(prompt, n, seed, scenario, relation)
        prompt = prompt.strip()
        cue = scenario or infer_scenario(prompt)
        inferred = infer_relation(prompt)
        topic = extract_topic(prompt)
        names = self._names(prompt)
        return [
            self._one(prompt, seed, k, cue, relation or inferred, topic, names, turns)
            for k in range(n)
        ]

    @staticmethod
    def _names(prompt: str) -> list[str]:
        """Speakers named at the start of the prompt ("Zoë and José plan a trip")."""
        m = re.match(r"\W*([^\W\d_]+)(?:['’]s)?(?:\s+(?:and|&|with)\s+([^\W\d_]+))?", prompt)
        words = [w for w in (m.groups() if m else ()) if w]
        return [w for w in words if w[:1].isupper() and not w.isupper() and w.lower() in NAMES]

    def _one(
        self,
        prompt: str,
        seed: int,
        k: int,
        cue: str | None,
        relation: Relation | None,
        topic: Topic | None,
        names: list[str],
        turn_range: tuple[int, int] | None = None,
    ) -> Dialogue:
        rng = random.Random(subseed(seed, k))
        family = cue or ("casual" if k == 0 else rng.choice(("casual",) * 3 + SCENARIOS))
        if relation is None:
            relation = relation_for_scenario(family, rng)
        prompt_roles = infer_roles(prompt)
        found = infer_relation(prompt)
        same = found is not None and (found.blood, found.equal) == (relation.blood, relation.equal)
        roles = prompt_roles if prompt_roles and same else roles_for_relation(relation, rng)
        if topic is None:
            topic = extract_topic(pb.FALLBACK_TOPICS[family])
            assert topic is not None
        if not (prompt_roles and same) and role_side(roles[0]) == 0:
            # a chosen pair: the one who brings the matter up is often the junior one, and always
            # when the prompt speaks as "I"/"my"
            narrator = bool(
                {"i", "my", "i'm", "me"} & {w.lower() for w in topic.about + topic.event}
            )
            if narrator or rng.random() < 0.5:
                roles = (roles[1], roles[0])
        bands = age_bands_for_roles(roles, rng)
        hint = _age_hint(prompt)
        if hint and relation.equal:
            bands = (hint, hint)
        if set(roles) == {"teacher", "student"} and pb.UNIVERSITY & {
            w.lower() for w in topic.words
        }:
            bands = ("adult", "young_adult") if roles[0] == "teacher" else ("young_adult", "adult")
        genders = _pronoun_genders(prompt, topic, roles)
        ident_a = make_identity(
            rng,
            role=roles[0],
            age_band=bands[0],
            gender=genders[0],
            name=names[0] if names else None,
        )
        family_tie = relation.blood or ("partner" in roles and rng.random() < 0.4)
        ident_b = make_identity(
            rng,
            role=roles[1],
            age_band=bands[1],
            gender=genders[1],
            exclude_names={ident_a.name},
            name=names[1] if len(names) > 1 and names[1] != names[0] else None,
            surname=ident_a.name.split()[-1] if family_tie else None,
            relative=ident_a if relation.blood else None,
        )
        speakers = {
            "a": Speaker("a", roles[0], ident_a, pb.REGISTER_OF.get(roles[0], "close")),
            "b": Speaker("b", roles[1], ident_b, pb.REGISTER_OF.get(roles[1], "close")),
        }
        speakers["a"].addr = _address(speakers["a"], speakers["b"], rng)
        speakers["b"].addr = _address(speakers["b"], speakers["a"], rng)
        owner = "b" if not relation.equal and speakers["a"].register in pb.UPPER else "a"
        writer = SentenceWriter(rng, topic, family, speakers, owner)
        turns = []
        n_turns = rng.randint(*(turn_range or (MIN_TURNS, MAX_TURNS)))
        for i, acts in enumerate(
            plan_acts(rng, n_turns, speakers["a"].register, family, topic, owner)
        ):
            sid = SPEAKERS[i % 2]
            writer.new_turn()
            sents = [s for act in acts or ["ACK"] if (s := writer.sentence(act, sid)) is not None]
            turns.append(Turn(sid, tuple(sents[:3])))
        regs = {speakers["a"].register, speakers["b"].register}
        dialogue = Dialogue(
            dialogue_id=f"dlg-{seed}-{k}",
            prompt=prompt,
            scenario=family,
            speaker_a=ident_a,
            speaker_b=ident_b,
            relation=relation,
            turns=tuple(turns),
            environment=_environment(rng, family, regs, relation),
            seed=seed,
        )
        dialogue.validate()
        return dialogue
