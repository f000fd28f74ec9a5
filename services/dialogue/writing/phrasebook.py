"""The offline composer's phrasebook: ``phrasebook.toml`` (package data), loaded once and checked.

The file holds the templates per dialogue act, the details they introduce, the registers, the
dialogue-act tables and the topic reader's word lists (format: the service README). ``load``
checks its structure, every template's ``{slot}`` names and ``[category intensity]`` emotion tag,
and that the tables name families, registers, acts, emotions and environments that exist; a
broken entry raises ``PhrasebookError`` naming the file and the entry, at import. The module's
constants (``T``, ``CONCERNS``, ``STOP``, …) are the loaded tables.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from dyad.domain import EMOTIONS, ENVIRONMENTS, SCENARIOS
from dyad.errors import Internal

PATH = Path(__file__).with_name("phrasebook.toml")

#: Conversation details a template introduces: ``{concern}`` brings up a new one,
#: ``{the_concern}`` reuses the last one, ``{your_concern}`` the one the partner brought up.
DETAILS = frozenset({"concern", "idea", "time", "past", "feeling", "person"})
#: Every slot a template may use; each may also be capitalised (``{About}``, ``{The_concern}``).
SLOTS = (
    frozenset({"addr", "me", "partner", "about", "about0", "np", "event", "detail"})
    | DETAILS
    | {f"{prefix}_{d}" for prefix in ("the", "your") for d in DETAILS}
)
#: A template's leading emotion tag, ``[happy .4] ``: category, intensity.
TAG = re.compile(r"^\[(\w+) ([.\d]+)\] ")
#: Template keys: ``ACT`` or ``ACT/<qualifier>[/<qualifier>]``.
_ACT = re.compile(r"^[A-Z][A-Z_]*(?:_[a-z]+)?$")
#: The register of every role ``[registers]`` does not list (friends, siblings, cousins, …).
DEFAULT_REGISTER = "close"
#: Qualifiers besides families and registers: the prompt is a statement, said by the one whose
#: matter it is, a good or bad feeling.
_QUALIFIERS = ("event", "owner", "pos", "neg")
#: The topic reader's word lists in ``[words]`` (whitespace-separated), besides ``time_words``.
_WORD_LISTS = (
    "stop",
    "framing",
    "verbs",
    "finite",
    "ing_nouns",
    "event_nouns",
    "family_names",
    "pronoun_subjects",
    "conj",
    "lead_prep",
    "skip_after_frame",
    "subject_words",
    "copulas",
    "singular_finite",
    "people",
    "university",
)
_SECTIONS = (
    "templates",
    "details",
    "feelings",
    "scenario_cues",
    "registers",
    "register_sets",
    "domains",
    "acts",
    "environments",
    "fallback_topics",
    "words",
)


class PhrasebookError(Internal):
    """The phrasebook file is broken; ``path`` and ``entry`` say where."""

    def __init__(self, path: Path, entry: str, problem: str) -> None:
        super().__init__(f"{path}: {entry}: {problem}")
        self.path, self.entry = path, entry


@dataclass(frozen=True)
class Phrasebook:
    templates: dict[str, tuple[str, ...]]
    concerns: dict[str, tuple[str, ...]]
    ideas: dict[str, tuple[str, ...]]
    times: tuple[str, ...]
    pasts: tuple[str, ...]
    feelings: dict[str, dict[str, str]]
    scenario_cues: dict[str, str]
    register_of: dict[str, str]
    upper: frozenset[str]
    exclusive: frozenset[str]
    domains: dict[str, str]
    opening: frozenset[str]
    family_only: frozenset[tuple[str, str]]
    responses: dict[str, tuple[str, ...]]
    environments: dict[str, tuple[str, ...]]
    fallback_topics: dict[str, str]
    words: dict[str, frozenset[str]]
    time_words: str


def _entry(*parts: str | int) -> str:
    """``templates."GREET/elder"[2]``: a TOML-like path to an entry."""
    if not parts:
        return "(top level)"
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            name = p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"'
            out += f".{name}" if out else name
    return out


class _Reader:
    """Typed access to the parsed file; every mismatch is a ``PhrasebookError``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, entry: str, problem: str) -> NoReturn:
        raise PhrasebookError(self.path, entry, problem)

    def table(self, value: Any, *where: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            self.fail(_entry(*where), "expected a non-empty table")
        return value

    def text(self, value: Any, *where: str | int) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(_entry(*where), "expected a non-empty string")
        return value

    def texts(self, value: Any, *where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.fail(_entry(*where), "expected a non-empty array of strings")
        return tuple(self.text(v, *where, i) for i, v in enumerate(value))

    def words(self, value: Any, *where: str) -> tuple[str, ...]:
        """A whitespace-separated list, in order."""
        return tuple(self.text(value, *where).split())

    def keys(self, table: dict[str, Any], allowed: set[str], what: str, *where: str) -> None:
        for key in table:
            if key not in allowed:
                self.fail(_entry(*where, key), f"unknown {what} (known: {sorted(allowed)})")

    def exactly(self, table: dict[str, Any], names: set[str], what: str, *where: str) -> None:
        """``table``'s keys are ``names``: none unknown, none missing."""
        self.keys(table, names, what, *where)
        missing = sorted(names - set(table))
        if missing:
            self.fail(_entry(*where), f"missing {missing}")


def _check_template(r: _Reader, template: str, entry: str) -> None:
    tag = TAG.match(template)
    if template.startswith("[") and tag is None:
        r.fail(entry, f"malformed emotion tag in {template!r}: expected '[category intensity] '")
    if tag is not None:
        category, level = tag.group(1), tag.group(2)
        if category not in EMOTIONS:
            r.fail(entry, f"emotion {category!r} is not one of {list(EMOTIONS)}")
        try:
            intensity = float(level)
        except ValueError:
            r.fail(entry, f"emotion intensity {level!r} is not a number")
        if not 0.0 <= intensity <= 1.0:
            r.fail(entry, f"emotion intensity {level} is outside [0, 1]")
    body = template[tag.end() :] if tag else template
    if not body.strip() or body != body.strip():
        r.fail(entry, f"{template!r}: the sentence is empty or has surrounding blanks")
    try:
        fields = list(string.Formatter().parse(body))
    except ValueError as e:  # a lone "{" or "}"
        r.fail(entry, f"{template!r}: {e}")
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if spec or conversion:
            r.fail(entry, f"{template!r}: slot {{{name}}} takes no format or conversion")
        low = name.lower()
        if low not in SLOTS or name not in (low, low[:1].upper() + low[1:]):
            r.fail(entry, f"{template!r}: unknown slot {{{name}}} (known: {sorted(SLOTS)})")


def _templates(r: _Reader, raw: Any, qualifiers: set[str]) -> dict[str, tuple[str, ...]]:
    out = {}
    for key, value in r.table(raw, "templates").items():
        act, *rest = key.split("/")
        if not _ACT.match(act) or len(rest) > 2:
            r.fail(_entry("templates", key), "expected ACT or ACT/<qualifier>[/<qualifier>]")
        for q in rest:
            if q not in qualifiers:
                r.fail(
                    _entry("templates", key),
                    f"unknown qualifier {q!r}: not a family, register or one of {_QUALIFIERS}",
                )
        out[key] = r.texts(value, "templates", key)
        for i, template in enumerate(out[key]):
            _check_template(r, template, _entry("templates", key, i))
    return out


def _per_family(r: _Reader, raw: Any, *where: str, shared: bool = False) -> dict[str, Any]:
    """A table with an entry per scenario family (and ``"*"`` for any when ``shared``)."""
    table = r.table(raw, *where)
    families = {*SCENARIOS, "*"} if shared else set(SCENARIOS)
    r.exactly(table, families, "family", *where)
    return table


Pools = dict[str, tuple[str, ...]]


def _registers(
    r: _Reader, data: dict[str, Any]
) -> tuple[dict[str, str], frozenset[str], frozenset[str], dict[str, str]]:
    """(role → register, the upper registers, the exclusive ones, register → domain)."""
    registers = r.table(data["registers"], "registers")
    register_of: dict[str, str] = {}
    for reg, roles in registers.items():
        for role in r.texts(roles, "registers", reg):
            if role in register_of:
                r.fail(_entry("registers", reg), f"{role!r} is already in {register_of[role]!r}")
            register_of[role] = reg
    sets = r.table(data["register_sets"], "register_sets")
    r.exactly(sets, {"upper", "exclusive"}, "set", "register_sets")
    upper, exclusive = (r.words(sets[k], "register_sets", k) for k in ("upper", "exclusive"))
    for name, regs in (("upper", upper), ("exclusive", exclusive)):
        for reg in regs:
            if reg not in registers:
                r.fail(_entry("register_sets", name), f"unknown register {reg!r}")
    domains = r.table(data["domains"], "domains")
    r.keys(domains, set(registers), "register", "domains")
    domain_of = {reg: r.text(d, "domains", reg) for reg, d in domains.items()}
    return register_of, frozenset(upper), frozenset(exclusive), domain_of


def _details(
    r: _Reader, data: dict[str, Any], domains: set[str]
) -> tuple[Pools, Pools, tuple[str, ...], tuple[str, ...], dict[str, dict[str, str]]]:
    """(concerns, ideas, times, pasts, feelings)."""
    details = r.table(data["details"], "details")
    r.exactly(details, {"times", "pasts", "concerns", "ideas"}, "entry", "details")
    pools = []
    for name in ("concerns", "ideas"):
        table = r.table(details[name], "details", name)
        r.exactly(table, {"*", *SCENARIOS, *domains}, "family or domain", "details", name)
        pools.append({k: r.texts(v, "details", name, k) for k, v in table.items()})
    feelings: dict[str, dict[str, str]] = {}
    for family, table in _per_family(r, data["feelings"], "feelings", shared=True).items():
        feelings[family] = {}
        for feeling, emotion in r.table(table, "feelings", family).items():
            if emotion not in EMOTIONS:
                r.fail(
                    _entry("feelings", family, feeling),
                    f"emotion {emotion!r} is not one of {list(EMOTIONS)}",
                )
            feelings[family][feeling] = emotion
    times, pasts = (r.texts(details[k], "details", k) for k in ("times", "pasts"))
    return pools[0], pools[1], times, pasts, feelings


def _acts(
    r: _Reader, data: dict[str, Any], acts: set[str]
) -> tuple[frozenset[str], frozenset[tuple[str, str]], Pools]:
    """(opening acts, (act, family) pairs, act → the acts that answer it); ``acts`` are those
    with templates."""
    table = r.table(data["acts"], "acts")
    r.exactly(table, {"opening", "family_only", "responses"}, "entry", "acts")
    opening = r.words(table["opening"], "acts", "opening")
    family_only = r.table(table["family_only"], "acts", "family_only")
    r.keys(family_only, set(SCENARIOS), "family", "acts", "family_only")
    only = {f: r.words(names, "acts", "family_only", f) for f, names in family_only.items()}
    responses = r.table(table["responses"], "acts", "responses")
    answers = {act: r.texts(v, "acts", "responses", act) for act, v in responses.items()}
    named: list[tuple[tuple[str, ...], str]] = [(("opening",), a) for a in opening]
    named += [(("responses",), a) for a in answers]
    named += [(("family_only", f), a) for f, names in only.items() for a in names]
    for where, a in named:
        if not _ACT.match(a):
            r.fail(_entry("acts", *where), f"{a!r} is not an act name")
    for act, said in answers.items():
        for a in said:
            if a not in acts:
                r.fail(_entry("acts", "responses", act), f"{a!r} has no templates")
    pairs = frozenset((a, f) for f, names in only.items() for a in names)
    return frozenset(opening), pairs, answers


def _words(r: _Reader, data: dict[str, Any]) -> tuple[dict[str, frozenset[str]], str]:
    """(the word lists, the time-expression pattern)."""
    words = r.table(data["words"], "words")
    r.exactly(words, {*_WORD_LISTS, "time_words"}, "list", "words")
    time_words = "|".join(r.texts(words["time_words"], "words", "time_words"))
    try:
        re.compile(time_words)
    except re.error as e:
        r.fail(_entry("words", "time_words"), f"not a regular expression: {e}")
    lists = {name: frozenset(r.words(words[name], "words", name)) for name in _WORD_LISTS}
    return lists, time_words


def parse(data: dict[str, Any], path: Path = PATH) -> Phrasebook:
    """Check the parsed file ``data`` (read from ``path``) and build the phrasebook."""
    r = _Reader(path)
    r.exactly(data, set(_SECTIONS), "section")
    register_of, upper, exclusive, domains = _registers(r, data)
    qualifiers = {*SCENARIOS, *data["registers"], DEFAULT_REGISTER, *_QUALIFIERS}
    templates = _templates(r, data["templates"], qualifiers)
    concerns, ideas, times, pasts, feelings = _details(r, data, set(domains.values()))
    opening, family_only, responses = _acts(r, data, {k.split("/")[0] for k in templates})
    cues = r.table(data["scenario_cues"], "scenario_cues")
    r.keys(cues, set(SCENARIOS), "family", "scenario_cues")
    environments = _per_family(r, data["environments"], "environments")
    for family, options in environments.items():
        for env in r.texts(options, "environments", family):
            if env not in ENVIRONMENTS:
                r.fail(
                    _entry("environments", family), f"{env!r} is not one of {list(ENVIRONMENTS)}"
                )
    fallback = _per_family(r, data["fallback_topics"], "fallback_topics")
    words, time_words = _words(r, data)
    return Phrasebook(
        templates=templates,
        concerns=concerns,
        ideas=ideas,
        times=times,
        pasts=pasts,
        feelings=feelings,
        scenario_cues={f: " ".join(r.words(c, "scenario_cues", f)) for f, c in cues.items()},
        register_of=register_of,
        upper=upper,
        exclusive=exclusive,
        domains=domains,
        opening=opening,
        family_only=family_only,
        responses=responses,
        environments={f: r.texts(e, "environments", f) for f, e in environments.items()},
        fallback_topics={f: r.text(t, "fallback_topics", f) for f, t in fallback.items()},
        words=words,
        time_words=time_words,
    )


def load(path: Path = PATH) -> Phrasebook:
    """Read and check the phrasebook file; ``PhrasebookError`` names the broken entry."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise PhrasebookError(path, "(file)", f"not valid TOML: {e}") from None
    except OSError as e:
        raise PhrasebookError(path, "(file)", f"cannot read it: {e.strerror}") from None
    return parse(data, path)


BOOK = load()

# The tables under the names the composer and the topic reader use.
T = BOOK.templates
CONCERNS = BOOK.concerns
IDEAS = BOOK.ideas
TIMES = BOOK.times
PASTS = BOOK.pasts
FEELINGS = BOOK.feelings
SCENARIO_CUES = BOOK.scenario_cues
REGISTER_OF = BOOK.register_of
UPPER = BOOK.upper  # they raise the other one's matter
EXCLUSIVE = BOOK.exclusive  # their own templates (where an act has them) replace the shared ones
DOMAINS = BOOK.domains
OPENING = BOOK.opening
FAMILY_ONLY = BOOK.family_only  # (act, family): acts a family words only its own way
RESPONSES = BOOK.responses
ENVIRONMENT_OPTIONS = BOOK.environments
FALLBACK_TOPICS = BOOK.fallback_topics
TIME_WORDS = BOOK.time_words
STOP = BOOK.words["stop"]
FRAMING = BOOK.words["framing"]
VERBS = BOOK.words["verbs"]
FINITE = BOOK.words["finite"]
ING_NOUNS = BOOK.words["ing_nouns"]
EVENT_NOUNS = BOOK.words["event_nouns"]
FAMILY_NAMES = BOOK.words["family_names"]
PRONOUN_SUBJECTS = BOOK.words["pronoun_subjects"]
CONJ = BOOK.words["conj"]
LEAD_PREP = BOOK.words["lead_prep"]
SKIP_AFTER_FRAME = BOOK.words["skip_after_frame"]
SUBJECT_WORDS = BOOK.words["subject_words"]
COPULAS = BOOK.words["copulas"]
SINGULAR_FINITE = BOOK.words["singular_finite"]
PEOPLE = BOOK.words["people"]
UNIVERSITY = BOOK.words["university"]
