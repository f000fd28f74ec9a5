"""Realising dialogue acts as sentences: a phrasebook template per act, filled in.

``SentenceWriter`` picks a template for an act (per family, register and whose matter it is),
fills its slots with the topic in the speaker's point of view, the speakers' names and how they
address each other, and conversation details (a concern, an idea, a time, …) it introduces or
picks up from the partner, and gives the sentence its emotion. It remembers what was said, so a
template or a detail is not used twice when another one is left.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

from dyad.domain import Emotion, Identity, Sentence
from dyad.services.dialogue.writing import phrasebook as pb
from dyad.services.dialogue.writing.topic import NAMES, POSSESSIVES, Topic


@dataclass
class Speaker:
    """One of the two speakers: their role, identity and register (who they are to the partner)."""

    sid: str
    role: str
    ident: Identity
    register: str = "close"
    addr: str = ""  # how the partner addresses this speaker

    @property
    def first(self) -> str:
        return self.ident.name.split()[0]


class SentenceWriter:
    """Turns acts into sentences, remembering the details each speaker has mentioned."""

    def __init__(
        self,
        rng: random.Random,
        topic: Topic,
        family: str,
        speakers: dict[str, Speaker],
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
        if key in pb.DETAILS:
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
        tag = pb.TAG.match(template)
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
            if (
                f
                and f.lower() not in pb.DETAILS
                and f.lower() != "addr"
                and self._value(f, sid) is None
            ):
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
