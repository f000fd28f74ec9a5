"""The offline dialogue writer: CHAT's TDG without a language model (the default backend).

From one prompt it writes N two-person dialogues about the prompt, in the prompt's own words::

    dialogues = OfflineComposer().write("planning a surprise birthday party for grandma", 3, 7)

Each dialogue follows a dialogue-act plan (greet → raise the topic → ask → answer → react →
worry/disagree → propose → accept/object → close) realised by templates from ``phrasebook``,
filled with the topic, the speakers' names and how they address each other, and details the
partner said earlier. Dialogue k draws everything from a sub-seed of (seed, k): the same seed
gives byte-identical dialogues, and asking for more dialogues does not change the first ones.
"""

from __future__ import annotations

import hashlib
import random
import re
import string
from dataclasses import dataclass

from dyad.domain import (
    MAX_TURNS,
    MIN_TURNS,
    SCENARIOS,
    SPEAKERS,
    Dialogue,
    Emotion,
    Identity,
    Relation,
    Sentence,
    Turn,
)
from dyad.errors import InvalidInput
from dyad.services.dialogue import phrasebook as pb
from dyad.services.dialogue.identities import (
    age_bands_for_roles,
    make_identity,
)
from dyad.services.dialogue.relations import (
    infer_relation,
    infer_roles,
    relation_for_scenario,
    role_gender,
    role_side,
    roles_for_relation,
)
from dyad.services.dialogue.topic import (
    NAMES,
    POSSESSIVES,
    Topic,
    extract_topic,
    infer_scenario,
)

MAX_PROMPT, MAX_N = 4000, 64


@dataclass
class _Speaker:
    sid: str
    role: str
    ident: Identity
    register: str = "close"
    addr: str = ""  # how the partner addresses this speaker

    @property
    def first(self) -> str:
        return self.ident.name.split()[0]


def _address(who: _Speaker, by: _Speaker, rng: random.Random) -> str:
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


def _plan(
    rng: random.Random, n: int, reg_a: str, family: str, topic: Topic, owner: str
) -> list[list[str]]:
    """Acts per turn: each turn answers the partner's last act, then (but the last) starts one.
    Speaker a raises the topic; ``owner`` is the speaker whose matter it is (who gets asked how
    they feel and what they need)."""
    r = rng.random()
    if reg_a == "stranger" and n >= 6:
        turns = [["GREET"], ["GREET_BACK", "INTRO"], ["INTRO_BACK", "RAISE"]]
    elif n >= 6 and r < 0.3 and reg_a not in ("service", "customer", "stranger", "interviewer"):
        turns = [["GREET", "CHECK"], ["WHATSUP"], ["RAISE"]]
    elif r < 0.55 and reg_a in ("close", "intimate", "work_peer"):
        turns = [["RAISE"]]
    else:
        turns = [["GREET", "RAISE"]]
    if owner == "a" and rng.random() < 0.35:
        turns[-1].append("ELAB")
    k = n - len(turns) - 1  # acts started in the middle turns; the last is the final proposal
    to_owner = ["ASK_OPINION", "ASK_FEEL"] + ["ASK_NEED"] * (family not in ("casual", "social"))
    service = reg_a in ("service", "customer", "interviewer", "candidate")
    to_owner += ["ASK_SINCE"] * (not topic.event and family in ("emotional", "professional"))
    to_any = ["ASK_WHEN"] * topic.eventish
    seq: list[str] = []
    while len(seq) < k - 1:
        speaker, room = ("b", "a")[len(seq) % 2], k - 1 - len(seq)
        options = to_any + (to_owner if speaker != owner else []) + ["WORRY", "OPINION"]
        options += ["NEWS"] * (not service)
        options = [o for o in options if o not in seq]
        if not seq:
            options = [o for o in options if o.startswith("ASK")] + ["WORRY"] * (speaker == owner)
        elif room == 1 and not {"WORRY", "OPINION"} & set(seq):
            options = ["WORRY", "OPINION"]
        elif seq[-1].startswith("ASK") and rng.random() < 0.4:
            options = ["HOLD"]  # the answer stands on its own; the partner picks it up
        elif room >= 3 and "PROPOSE_X" not in seq and rng.random() < 0.35:
            options = ["PROPOSE_X"]
        act = rng.choice(options or ["OPINION"])
        seq += [act, "COUNTER"] if act == "PROPOSE_X" else [act]
    seq.append("WRAP" if "COUNTER" in seq and rng.random() < 0.5 else "PROPOSE")
    turns.append(["GREET_BACK"] if turns == [["GREET", "RAISE"]] and rng.random() < 0.5 else [])
    pending = "RAISE"
    for act in seq:
        turns[-1] += _respond(rng, pending)
        if act != "HOLD":
            turns[-1].append(act)
        turns.append([])
        pending = act
    turns[-1] += [*_respond(rng, pending), "BYE"]
    return turns


def _respond(rng: random.Random, act: str) -> list[str]:
    if act == "WORRY":
        return ["REASSURE"] if rng.random() < 0.65 else ["SHARE_WORRY"]
    if act == "OPINION":
        return ["AGREE"] if rng.random() < 0.45 else ["DISAGREE", "DISAGREE_WHY"]
    return list(pb.RESPONSES.get(act, []))


_NEW = {"concern", "idea", "time", "past", "feeling", "person"}
_TAG = re.compile(r"^\[(\w+) ([.\d]+)\] ")


class _Writer:
    """Turns acts into sentences, remembering the details each speaker has mentioned."""

    def __init__(
        self,
        rng: random.Random,
        topic: Topic,
        family: str,
        speakers: dict[str, _Speaker],
        owner: str,
    ):
        self.rng, self.topic, self.family, self.sp, self.owner = rng, topic, family, speakers, owner
        self.state: dict[str, str] = {}
        self.last_kind = ""
        self.used: set[str] = set()
        self.vocatives = {"a": 0, "b": 0}
        self.said_by: dict[str, str] = {}
        shared = pb.FEELINGS["*"] if family != "emotional" else {}
        self.feelings = {**shared, **pb.FEELINGS[family]}
        regs = [s.register for s in speakers.values()]
        self.domain = next((pb.DOMAINS[r] for r in regs if r in pb.DOMAINS), "")
        self.speaking = "a"
        self.addressed = False
        feminine = [s for s in speakers.values() if s.ident.gender_presentation == "feminine"]
        masculine = [s for s in speakers.values() if s.ident.gender_presentation == "masculine"]
        self.owners = {"my": "a", "our": "both", "their": "both"}
        self.owners["her"] = feminine[0].sid if len(feminine) == 1 else ""
        self.owners["his"] = masculine[0].sid if len(masculine) == 1 else ""

    def render(self, tokens: tuple[str, ...], sid: str) -> str:
        out: list[str] = []
        for i, t in enumerate(tokens):
            lo, nxt = t.lower(), tokens[i + 1].lower() if i + 1 < len(tokens) else ""
            if lo in POSSESSIVES and lo != "your" and (lo != "her" or (nxt and nxt not in pb.STOP)):
                owner = self.owners.get(lo, "")
                out.append({sid: "my", "both": "our", "": "the"}.get(owner, "your"))
            elif lo in ("i", "me", "i'm", "i've", "i'd", "i'll", "myself"):
                you = {"i'm": "you're", "i've": "you've", "i'd": "you'd", "i'll": "you'll"}
                out.append(
                    ("I" + t[1:] if lo != "me" and lo != "myself" else lo)
                    if sid == "a"
                    else you.get(lo, "yourself" if lo == "myself" else "you")
                )
            elif sid == "b" and lo in ("am", "was") and out and out[-1] == "you":
                out.append("are" if lo == "am" else "were")
            else:
                out.append(t)
        return " ".join(out)

    def _value(self, field: str, sid: str) -> str | None:
        key = field.lower()
        if key in _NEW:
            return self._new(key)
        if key.startswith("the_"):
            return self.state.get(key[4:])
        if key.startswith("your_"):  # a detail the partner brought up
            said_by_partner = self.said_by.get(key[5:], sid) != sid
            return self.state.get(key[5:]) if said_by_partner else None
        other = self.sp["b" if sid == "a" else "a"]
        t = self.topic
        if key == "partner" and self.sp[sid].register == "stranger" and "intro" not in self.state:
            return None
        values = {
            "me": self.sp[sid].first,
            "partner": other.first,
            "about": self.render(t.about, sid),
            "about0": self.render(t.about0, sid),
            "np": self.render(t.np, sid),
            "event": self.render(t.event, sid) if t.event else None,
            "detail": self.render(t.details[0], sid) if t.details else None,
        }
        return values.get(key)

    def _new(self, kind: str) -> str:
        if kind == "time" and self.topic.time and self.topic.time not in self.used:
            value = self.topic.time
        elif kind == "person":
            taken = {s.first.lower() for s in self.sp.values()}
            value = self.rng.choice(sorted(NAMES - taken)).capitalize()
        else:
            pools = {"concern": pb.CONCERNS, "idea": pb.IDEAS}
            if kind in pools and self.domain:
                pool = pools[kind][self.domain]
            elif kind in pools:
                shared = pools[kind]["*"] if self.family != "emotional" else ()
                pool = shared + pools[kind][self.family]
            elif kind == "feeling":
                pool = tuple(self.feelings)
            else:
                pool = pb.TIMES if kind == "time" else pb.PASTS
            value = self.rng.choice([v for v in pool if v not in self.used] or list(pool))
        self.used.add(value)
        self.state[kind] = value
        self.said_by[kind] = self.speaking
        self.last_kind = kind
        return value

    def new_turn(self) -> None:
        self.addressed = False

    def _keys(self, act: str, sid: str) -> list[str]:
        register = self.sp[sid].register
        act = {"PROPOSE_X": "PROPOSE"}.get(act, act)
        if act == "ACK":
            kind = f"ACK_{self.last_kind}"
            act = kind if kind in pb.T or f"{kind}/pos" in pb.T else "ACK"
        if act in ("ANS_FEEL", "ACK_feeling"):
            if act == "ANS_FEEL":
                self._new("feeling")
            return [f"{act}/{self.polarity}"]
        if self.topic.event and f"{act}/event" in pb.T:
            emotional = f"{act}/event/{self.family}"
            return [emotional if emotional in pb.T else f"{act}/event"]
        if f"{act}/{register}" in pb.T and register in pb.EXCLUSIVE:
            return [f"{act}/{register}"]
        if (act, self.family) in pb.FAMILY_ONLY:
            mine = f"{act}/{self.family}/owner"
            return [mine if sid == self.owner and mine in pb.T else f"{act}/{self.family}"]
        if act in ("BYE", "GREET_BACK") and f"{act}/{register}" in pb.T:
            return [f"{act}/{register}"]
        if act == "ELAB" and self.topic.event:
            return [act]
        if act in ("RAISE", "ELAB") and self.owner != sid:  # raising the partner's matter
            return [act, f"{act}/{register}"]
        return [act, f"{act}/{self.family}", f"{act}/{register}"]

    def sentence(self, act: str, sid: str) -> Sentence | None:
        self.speaking = sid
        keys = self._keys(act, sid)
        options = [t for k in keys for t in pb.T.get(k, ()) * (1 if k == keys[0] else 2)]
        options += [t for t in options if "{the_" in t.lower() or "{your_" in t.lower()]
        fresh = [t for t in options if t not in self.used and self._ok(t, sid)]
        candidates = fresh or [t for t in options if self._ok(t, sid)]
        if not candidates:
            return None
        template = self.rng.choice(candidates)
        self.used.add(template)
        tag = _TAG.match(template)
        body = template[tag.end() :] if tag else template
        if act == "INTRO":
            self.state["intro"] = "yes"
        other_addr = self.sp["b" if sid == "a" else "a"].addr
        explicit = act in ("GREET", "GREET_BACK", "BYE", "WHATSUP")
        if not other_addr or (not explicit and (self.addressed or self.vocatives[sid] >= 2)):
            body = re.sub(r",? \{addr\}|\{Addr\}[,!.]? ", "", body)
        text = "".join(
            lit + (self._fill(f, sid) if f is not None else "")
            for lit, f, _, _ in string.Formatter().parse(body)
        )
        text = re.sub(r"\s+([,.?!])", r"\1", re.sub(r"\s+", " ", text)).strip()
        text = text[0].upper() + text[1:]
        if text[-1] not in ".?!":
            text += "."
        if "{addr" in body.lower():
            self.addressed = True
            self.vocatives[sid] += 0 if explicit else 1
        elif (
            other_addr
            and not self.addressed
            and act not in ("GREET", "GREET_BACK", "BYE", "INTRO", "INTRO_BACK", "WHATSUP")
            and self.vocatives[sid] < 2
            and self.rng.random() < 0.15
        ):
            text = f"{text[:-1]}, {other_addr}{text[-1]}"
            self.addressed = True
            self.vocatives[sid] += 1
        return Sentence(text, self._emotion(act, tag, body))

    @property
    def polarity(self) -> str:
        feelings = self.feelings
        return (
            "pos"
            if feelings.get(self.state.get("feeling", "")) in ("happy", "surprised")
            else "neg"
        )

    def _ok(self, template: str, sid: str) -> bool:
        for _, f, _, _ in string.Formatter().parse(template):
            if f and f.lower() not in _NEW and f.lower() != "addr" and self._value(f, sid) is None:
                return False
        return True

    def _fill(self, field: str, sid: str) -> str:
        if field.lower() == "addr":
            value = self.sp["b" if sid == "a" else "a"].addr
        else:
            value = self._value(field, sid) or ""
        return value[:1].upper() + value[1:] if field[:1].isupper() else value

    def _emotion(self, act: str, tag: re.Match[str] | None, body: str) -> Emotion:
        rng = self.rng
        if act == "ANS_FEEL":
            feelings = self.feelings
            category, level = feelings.get(self.state.get("feeling", ""), "neutral"), 0.5
        elif tag:
            category, level = tag.group(1), float(tag.group(2))
        elif act in ("RAISE", "ELAB", "WORRY") and self.family == "emotional":
            category, level = rng.choice(("sad", "fearful")), 0.65
        elif act == "WORRY":
            category, level = "fearful", 0.5
        else:
            return Emotion("neutral", round(rng.uniform(0.1, 0.3), 2))
        if self.family == "emotional" and category in ("sad", "fearful", "angry"):
            level = max(level, 0.6)
        if self.family == "emotional" and category == "happy" and act in pb.OPENING:
            level = min(level, 0.3)  # a subdued hello
        return Emotion(category, round(min(1.0, max(0.05, level + rng.uniform(-0.1, 0.1))), 2))


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
            "a": _Speaker("a", roles[0], ident_a, pb.REGISTER_OF.get(roles[0], "close")),
            "b": _Speaker("b", roles[1], ident_b, pb.REGISTER_OF.get(roles[1], "close")),
        }
        speakers["a"].addr = _address(speakers["a"], speakers["b"], rng)
        speakers["b"].addr = _address(speakers["b"], speakers["a"], rng)
        owner = "b" if not relation.equal and speakers["a"].register in pb.UPPER else "a"
        writer = _Writer(rng, topic, family, speakers, owner)
        turns = []
        n_turns = rng.randint(*(turn_range or (MIN_TURNS, MAX_TURNS)))
        for i, acts in enumerate(_plan(rng, n_turns, speakers["a"].register, family, topic, owner)):
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
