"""Reading a prompt: its topic phrase (in the prompt's own words) and its scenario family.

``extract_topic("planning a surprise birthday party for grandma")`` finds the noun phrase the
dialogue will be about, with the bookkeeping the composer needs to reuse it grammatically;
``infer_scenario`` picks one of CHAT's five families from cue words, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dyad.services.dialogue.writing import phrasebook as pb
from dyad.services.dialogue.writing.identities import (
    FEMININE_NAMES,
    MASCULINE_NAMES,
    NEUTRAL_NAMES,
)
from dyad.services.dialogue.writing.relations import infer_roles, role_spans

_TOKEN = re.compile(r"[^\W_][\w'’-]*")
_DETS = {"a", "an", "the", "this", "that", "these", "those"}
POSSESSIVES = {"my", "our", "your", "his", "her", "their"}
NAMES = {n.lower() for n in FEMININE_NAMES + MASCULINE_NAMES + NEUTRAL_NAMES}
_CUES = {f: pb.SCENARIO_CUES[f].split() for f in pb.SCENARIO_CUES}


@dataclass(frozen=True)
class Topic:
    """What the prompt is about, as token tuples in the prompt's wording (``my``/``his`` are
    turned to each speaker's point of view when rendered)."""

    about: tuple[str, ...]  # "planning the surprise birthday party for Grandma"
    about0: tuple[str, ...]  # the same as first worded ("planning a surprise …")
    np: tuple[str, ...]  # "the surprise birthday party"
    event: tuple[str, ...] = ()  # "my cat ate my homework" when the prompt is a statement
    details: tuple[tuple[str, ...], ...] = ()
    eventish: bool = False  # a party, an exam, a trip: something that happens on a date
    time: str = ""  # "tomorrow" when the prompt names a time
    words: tuple[str, ...] = ()  # the content words


def _base(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _gerund(word: str) -> str:
    v = word.lower() if word.lower() in pb.VERBS else _base(word.lower())
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        return v[:-1] + "ing"
    if re.fullmatch(r"(?:qu|[^aeiou])*[aeiou][^aeiouwxy]", v):
        return v + v[-1] + "ing"
    return v + "ing"


_QUESTION = re.compile(
    r"^(how|what|where|when|who|which)\s+(?:do|should|can|could|would|shall)\s+(?:i|we)\s+(.+)$",
    re.IGNORECASE,
)
_YES_NO = re.compile(r"^(?:should|can|could|do|shall|must)\s+(?:i|we)\s+(.+)$", re.IGNORECASE)


def _is_verb_at(tokens: list[str], i: int) -> bool:
    lo, prev = tokens[i].lower(), tokens[i - 1].lower() if i else ""
    if i == 0 or prev in pb.STOP - pb.PRONOUN_SUBJECTS:
        return False
    if lo in pb.FINITE:
        return True
    return (lo.endswith("ed") and len(lo) > 4) or (lo != _base(lo) and _base(lo) in pb.VERBS)


def _topic_span(prompt: str) -> tuple[list[str], bool, bool]:
    """(the words that say what the talk is about, whether speakers were named before them,
    whether they come from a question turned indirect: "how do I …" → "how to …")."""
    letters = [c for c in prompt if c.isalpha()]
    shouting = letters and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    text = prompt.lower() if shouting else prompt
    first = next((s for s in re.split(r"[.!?;:\n]+", text) if _TOKEN.search(s)), "").strip()
    for pattern, form in ((_QUESTION, r"\1 to \2"), (_YES_NO, r"whether to \1")):
        if pattern.match(first):
            return _TOKEN.findall(pattern.sub(form, first))[:12], False, True
    spans = role_spans(first)
    toks = [(m.group(0), m.start()) for m in _TOKEN.finditer(first)]
    words = [t for t, _ in toks]
    lows = [w.lower() for w in words]

    def names_someone(i: int) -> bool:
        role_here = any(s <= toks[i][1] < e for s, e, _r, third in spans if not third)
        is_name = words[i][:1].isupper() and re.sub(r"['’]s?$", "", lows[i]) in NAMES
        return role_here or is_name or lows[i] in pb.PEOPLE

    i, named = 0, False
    while i < len(toks) and (names_someone(i) or lows[i] in pb.SUBJECT_WORDS):
        named = named or names_someone(i)
        i += 1
    # "my sister is getting married", "grandma is in hospital": a statement, not who talks
    about_someone = (bool(lows) and lows[0] in ("my", "our")) or (
        i < len(lows) and (lows[i] in pb.SINGULAR_FINITE or lows[i].endswith("ed"))
    )
    start = i if named and not about_someone and not words[i - 1].endswith(("'s", "’s")) else 0
    frame = next((j for j in range(start, len(lows)) if lows[j] in pb.FRAMING), None)
    if frame is not None:
        start = frame + 1
        while start < len(lows) and (
            lows[start] in pb.SKIP_AFTER_FRAME
            or names_someone(start)
            or (
                lows[start] in _DETS | POSSESSIVES
                and start + 1 < len(lows)
                and names_someone(start + 1)
            )
        ):
            start += 1
    while start < len(lows) and lows[start] in {"are", "is", "were", "was", "have", "had", "who"}:
        start += 1
    if start >= len(toks):
        return [], named, False
    clause = re.split(r"[,–—(]| - ", first[toks[start][1] :])[0]
    span = _TOKEN.findall(clause)[:10]
    while span and span[0].lower() in pb.CONJ | pb.LEAD_PREP:
        span = span[1:]
    return span, named and start > 0, False


def _breaks_run(span: list[str], k: int, statement: bool, time: str) -> bool:
    lo, prev = span[k].lower(), span[k - 1].lower() if k else ""
    if lo in pb.STOP | pb.FRAMING or (time and lo in time.split()):
        return True
    if lo in pb.FINITE and prev not in _DETS | POSSESSIVES:  # "a missed deadline" keeps "missed"
        return True
    gerund = lo.endswith("ing") and lo not in pb.ING_NOUNS
    return statement and (_is_verb_at(span, k) or gerund)


def extract_topic(prompt: str) -> Topic | None:
    """The topic of a prompt, or None when it names nothing but the speakers."""
    span, after_subject, question = _topic_span(prompt)
    time = ""
    m = re.search(rf"\b(?:{pb.TIME_WORDS})\b", " ".join(span), re.IGNORECASE)
    if m:
        time = m.group(0).lower()
    lows = [w.lower() for w in span]
    verb_at = next((j for j in range(len(span)) if _is_verb_at(span, j)), None)
    statement = (
        bool(span) and not question and (lows[0] in {"i", "we", "i'm"} or verb_at is not None)
    )
    if statement and verb_at and " ".join(lows[:verb_at]) in {"one of them", "she", "he", "one"}:
        # "after one of them lost her father" → "I lost my father", said by speaker a
        third = {"her", "his", "their"}
        span = ["I"] + ["my" if w.lower() in third else w for w in span[verb_at:]]
        lows = [w.lower() for w in span]
    elif statement and lows[0] not in ("i", "we", "my", "our"):  # "a boss fired his assistant"
        span = ["the" if w.lower() in ("his", "her", "their") else w for w in span]
        lows = [w.lower() for w in span]
    activity = ""
    if span and not statement and not question:
        if lows[0] in pb.VERBS or (after_subject and _base(lows[0]) in pb.VERBS):
            activity = _gerund(span[0])
        elif lows[0].endswith("ing") and lows[0] not in pb.ING_NOUNS and len(lows[0]) > 4:
            activity = lows[0]
        if time:
            span = re.sub(rf"\b(?:{pb.TIME_WORDS})\b", " ", " ".join(span), flags=re.I).split()
            lows = [w.lower() for w in span]
    while span and lows[-1] in pb.STOP:
        span, lows = span[:-1], lows[:-1]
    if not span:
        return None
    span = [
        w.capitalize()
        if lw in pb.FAMILY_NAMES and (j == 0 or lows[j - 1] not in _DETS | POSSESSIVES)
        else w
        for j, (w, lw) in enumerate(zip(span, lows, strict=True))
    ]
    skip = {0} if activity else set()
    runs: list[tuple[str, tuple[str, ...]]] = []
    j = 0
    while j < len(span):
        k = j
        while k < len(span) and k not in skip and not _breaks_run(span, k, statement, time):
            k += 1
        copula = j and lows[j - 1] in pb.COPULAS and statement  # "is sick" names no thing
        if k > j and not copula:
            det = lows[j - 1] if j and lows[j - 1] in _DETS | POSSESSIVES else ""
            runs.append((det, tuple(span[j:k][-5:])))
        j = k + 1 if k == j else k
    if not runs:
        return None

    def noun_phrase(det: str, run: tuple[str, ...]) -> tuple[str, ...]:
        head = run[-1].lower()
        if det in POSSESSIVES:
            return (det, *run)
        if det or (head in pb.EVENT_NOUNS and len(run) < 3 and run[0][:1].islower()):
            return ("the", *run)
        return run

    if statement:
        main = next((r for r in reversed(runs) if r[0]), runs[0])
        np = noun_phrase(*main)
        about = about0 = np
        event = tuple(span)
    else:
        main = runs[0]
        np = noun_phrase(*main)
        if activity and not main[0]:  # "moving abroad": the whole activity is the thing
            np = (activity, *span[1:])
        about0 = tuple(([activity] if activity else []) + span[1 if activity else 0 :])
        about = tuple(
            "the" if w.lower() in ("a", "an") and k < 3 else w for k, w in enumerate(about0)
        )
        event = ()
    details = tuple(noun_phrase(*r) for r in runs if r is not main)[:3]
    head = main[1][-1].lower()
    content = tuple(w for r in runs for w in r[1])
    return Topic(about, about0, np, event, details, head in pb.EVENT_NOUNS, time, content)


def infer_scenario(prompt: str) -> str | None:
    """The scenario family the prompt's words point to, or None when nothing does."""
    words = re.findall(r"[\w'-]+", prompt.lower())
    scores = {f: 0.0 for f in ("emotional", "professional", "academic", "social", "casual")}
    for family, cues in _CUES.items():
        for cue in cues:
            stem = cue.rstrip("*")
            scores[family] += sum(
                w == cue or (cue.endswith("*") and w.startswith(stem)) for w in words
            )
    for role in infer_roles(prompt) or ():
        if role in ("manager", "employee", "intern", "interviewer", "candidate", "colleague"):
            scores["professional"] += 1
        elif role in ("teacher", "professor", "student", "classmate"):
            scores["academic"] += 1
        elif role in ("doctor", "nurse", "patient"):
            scores["emotional"] += 0.5
    best = max(scores.values())
    return next((f for f, s in scores.items() if s == best), None) if best > 0 else None
