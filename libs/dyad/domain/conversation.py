"""The conversation domain: identities, relations, emotions, dialogues and timelines.

Every stage speaks it (the dialogue service writes it, motion, refiner, renderer and the pipeline
read it), so it lives in the library, not in a service (DESIGN.md §3). Plain dataclasses with
JSON round trips and validation that names the offending field
(``InvalidInput``). Conventions: DESIGN.md §2 (emotion categories and prosody, the two
relation axes, times in seconds as float64). ``timeline.json`` is the file every later stage
reads::

    {"sample_rate": 16000, "duration_s": …,
     "speakers": {"a": {identity}, "b": {identity}},
     "relation": {"blood": bool, "equal": bool},
     "sound_environment": "office",
     "segments": [{"speaker": "a"|"b", "kind": "sentence"|"backchannel", "text": …,
                   "start_s": …, "end_s": …, "emotion": {…}}, …]}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from dyad.errors import InvalidInput

SCENARIOS = ("casual", "professional", "emotional", "academic", "social")
EMOTIONS = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "surprised",
    "fearful",
    "disgusted",
    "contempt",
)
ENVIRONMENTS = ("studio", "office", "living_room", "cafe", "open_space", "classroom", "car")
AGE_BANDS = ("child", "teen", "young_adult", "adult", "senior")
GENDERS = ("feminine", "masculine", "androgynous")
#: CHAT's W_inter, plus a few more of the same kind.
INTERACTIVE_WORDS = ("uh-huh", "hmm", "okay", "yeah", "right", "mm-hmm", "oh", "I see")
MIN_TURNS, MAX_TURNS = 5, 10
SpeakerId = Literal["a", "b"]
SPEAKERS: tuple[SpeakerId, SpeakerId] = ("a", "b")


def _req(d: dict[str, Any], key: str, path: str) -> Any:
    if not isinstance(d, dict):
        raise InvalidInput(path, "expected an object")
    if key not in d:
        raise InvalidInput(f"{path}.{key}" if path else key, "missing")
    return d[key]


def _choice(value: Any, choices: tuple[str, ...], path: str) -> str:
    if value not in choices:
        raise InvalidInput(path, f"{value!r} is not one of {list(choices)}")
    return str(value)


def _num(value: Any, path: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(path, f"expected a number, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidInput(path, f"{value} is outside [{lo}, {hi}]")
    return float(value)


def _text(value: Any, path: str, *, max_len: int = 2000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(path, "expected non-empty text")
    if len(value) > max_len:
        raise InvalidInput(path, f"longer than {max_len} characters")
    if any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise InvalidInput(path, "control characters are not allowed")
    return value.strip()


@dataclass(frozen=True)
class Emotion:
    """Category, intensity 0–1, prosody multipliers (1.0 = the voice's default) and the pause
    after the sentence in seconds (DESIGN.md §2)."""

    category: str = "neutral"
    intensity: float = 0.0
    rate: float = 1.0
    pitch: float = 1.0
    energy: float = 1.0
    pause_s: float = 0.35

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "emotion") -> Emotion:
        return cls(
            category=_choice(d.get("category", "neutral"), EMOTIONS, f"{path}.category"),
            intensity=_num(d.get("intensity", 0.0), f"{path}.intensity", 0.0, 1.0),
            rate=_num(d.get("rate", 1.0), f"{path}.rate", 0.5, 2.0),
            pitch=_num(d.get("pitch", 1.0), f"{path}.pitch", 0.5, 2.0),
            energy=_num(d.get("energy", 1.0), f"{path}.energy", 0.25, 2.0),
            pause_s=_num(d.get("pause_s", 0.35), f"{path}.pause_s", 0.0, 5.0),
        )


@dataclass(frozen=True)
class Identity:
    """CHAT's ID-txt: who a speaker is, how they sound and look."""

    name: str
    age_band: str = "adult"
    gender_presentation: str = "androgynous"
    voice: str = ""
    appearance: tuple[str, ...] = ()
    personality: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["appearance"] = list(self.appearance)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "identity") -> Identity:
        appearance = d.get("appearance", [])
        if not isinstance(appearance, list) or not all(isinstance(a, str) for a in appearance):
            raise InvalidInput(f"{path}.appearance", "expected a list of words")
        return cls(
            name=_text(_req(d, "name", path), f"{path}.name", max_len=80),
            age_band=_choice(d.get("age_band", "adult"), AGE_BANDS, f"{path}.age_band"),
            gender_presentation=_choice(
                d.get("gender_presentation", "androgynous"), GENDERS, f"{path}.gender_presentation"
            ),
            voice=str(d.get("voice", "")),
            appearance=tuple(appearance),
            personality=str(d.get("personality", "")),
        )


@dataclass(frozen=True)
class Relation:
    """RSATalker's two axes; ``label`` says in words what was inferred (e.g. "mother and son")."""

    blood: bool = False
    equal: bool = True
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"blood": self.blood, "equal": self.equal, "label": self.label}

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "relation") -> Relation:
        blood, equal = _req(d, "blood", path), _req(d, "equal", path)
        if not isinstance(blood, bool) or not isinstance(equal, bool):
            raise InvalidInput(path, "blood and equal are booleans")
        return cls(blood, equal, str(d.get("label", "")))


@dataclass(frozen=True)
class Sentence:
    text: str
    emotion: Emotion = field(default_factory=Emotion)


@dataclass(frozen=True)
class Turn:
    speaker: SpeakerId
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Dialogue:
    """A written two-person dialogue (CHAT TDG): 5–10 alternating turns."""

    dialogue_id: str
    prompt: str
    scenario: str
    speaker_a: Identity
    speaker_b: Identity
    relation: Relation
    turns: tuple[Turn, ...]
    environment: str = "studio"
    seed: int = 0

    def identity(self, speaker: SpeakerId) -> Identity:
        return self.speaker_a if speaker == "a" else self.speaker_b

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialogue_id": self.dialogue_id,
            "prompt": self.prompt,
            "scenario": self.scenario,
            "speakers": {"a": self.speaker_a.to_dict(), "b": self.speaker_b.to_dict()},
            "relation": self.relation.to_dict(),
            "environment": self.environment,
            "seed": self.seed,
            "turns": [
                {
                    "speaker": t.speaker,
                    "sentences": [
                        {"text": s.text, "emotion": asdict(s.emotion)} for s in t.sentences
                    ],
                }
                for t in self.turns
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "dialogue") -> Dialogue:
        speakers = _req(d, "speakers", path)
        turns_raw = _req(d, "turns", path)
        if not isinstance(turns_raw, list):
            raise InvalidInput(f"{path}.turns", "expected a list")
        turns = []
        for i, t in enumerate(turns_raw):
            tp = f"{path}.turns[{i}]"
            sents_raw = _req(t, "sentences", tp)
            if not isinstance(sents_raw, list) or not sents_raw:
                raise InvalidInput(f"{tp}.sentences", "expected a non-empty list")
            sents = tuple(
                Sentence(
                    _text(_req(s, "text", f"{tp}.sentences[{j}]"), f"{tp}.sentences[{j}].text"),
                    Emotion.from_dict(s.get("emotion", {}), f"{tp}.sentences[{j}].emotion"),
                )
                for j, s in enumerate(sents_raw)
            )
            turns.append(Turn(_choice(_req(t, "speaker", tp), SPEAKERS, f"{tp}.speaker"), sents))  # type: ignore[arg-type]
        dlg = cls(
            dialogue_id=str(d.get("dialogue_id", "dialogue")),
            prompt=str(d.get("prompt", "")),
            scenario=_choice(_req(d, "scenario", path), SCENARIOS, f"{path}.scenario"),
            speaker_a=Identity.from_dict(
                _req(speakers, "a", f"{path}.speakers"), f"{path}.speakers.a"
            ),
            speaker_b=Identity.from_dict(
                _req(speakers, "b", f"{path}.speakers"), f"{path}.speakers.b"
            ),
            relation=Relation.from_dict(_req(d, "relation", path), f"{path}.relation"),
            turns=tuple(turns),
            environment=_choice(
                d.get("environment", "studio"), ENVIRONMENTS, f"{path}.environment"
            ),
            seed=int(d.get("seed", 0)),
        )
        dlg.validate(path)
        return dlg

    def validate(self, path: str = "dialogue") -> None:
        """5–10 turns (CHAT), alternating speakers, each with at least one sentence."""
        if not MIN_TURNS <= len(self.turns) <= MAX_TURNS:
            raise InvalidInput(
                f"{path}.turns", f"{len(self.turns)} turns; expected {MIN_TURNS}–{MAX_TURNS}"
            )
        for i, (t0, t1) in enumerate(zip(self.turns, self.turns[1:], strict=False)):
            if t0.speaker == t1.speaker:
                raise InvalidInput(
                    f"{path}.turns[{i + 1}].speaker", "turns must alternate speakers"
                )
        if self.speaker_a.name == self.speaker_b.name:
            raise InvalidInput(f"{path}.speakers", "the two speakers need different names")


@dataclass(frozen=True)
class Segment:
    """A timed piece of speech on the shared timeline (seconds)."""

    speaker: SpeakerId
    kind: Literal["sentence", "backchannel"]
    text: str
    start_s: float
    end_s: float
    emotion: Emotion = field(default_factory=Emotion)
    turn_index: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "kind": self.kind,
            "text": self.text,
            "start_s": round(self.start_s, 6),
            "end_s": round(self.end_s, 6),
            "emotion": asdict(self.emotion),
            "turn_index": self.turn_index,
        }


@dataclass(frozen=True)
class Timeline:
    """Every sentence and backchannel of a conversation, sorted by start time."""

    sample_rate: int
    duration_s: float
    speakers: dict[str, Identity]
    relation: Relation
    sound_environment: str
    segments: tuple[Segment, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 6),
            "speakers": {k: v.to_dict() for k, v in self.speakers.items()},
            "relation": self.relation.to_dict(),
            "sound_environment": self.sound_environment,
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: str = "timeline") -> Timeline:
        segs = []
        raw = _req(d, "segments", path)
        if not isinstance(raw, list):
            raise InvalidInput(f"{path}.segments", "expected a list")
        duration = _num(_req(d, "duration_s", path), f"{path}.duration_s", 0.0, 86_400.0)
        for i, s in enumerate(raw):
            sp = f"{path}.segments[{i}]"
            segs.append(
                Segment(
                    speaker=_choice(_req(s, "speaker", sp), SPEAKERS, f"{sp}.speaker"),  # type: ignore[arg-type]
                    kind=_choice(_req(s, "kind", sp), ("sentence", "backchannel"), f"{sp}.kind"),  # type: ignore[arg-type]
                    text=str(s.get("text", "")),
                    start_s=_num(_req(s, "start_s", sp), f"{sp}.start_s", 0.0, duration),
                    end_s=_num(_req(s, "end_s", sp), f"{sp}.end_s", 0.0, duration),
                    emotion=Emotion.from_dict(s.get("emotion", {}), f"{sp}.emotion"),
                    turn_index=int(s.get("turn_index", -1)),
                )
            )
        speakers = _req(d, "speakers", path)
        tl = cls(
            sample_rate=int(_num(d.get("sample_rate", 16000), f"{path}.sample_rate", 8000, 48000)),
            duration_s=duration,
            speakers={
                k: Identity.from_dict(_req(speakers, k, f"{path}.speakers"), f"{path}.speakers.{k}")
                for k in SPEAKERS
            },
            relation=Relation.from_dict(
                d.get("relation", {"blood": False, "equal": True}), f"{path}.relation"
            ),
            sound_environment=str(d.get("sound_environment", "studio")),
            segments=tuple(segs),
        )
        tl.validate(path)
        return tl

    def validate(self, path: str = "timeline") -> None:
        """Sorted by start; each segment non-empty and inside the audio; no speaker overlaps
        themself."""
        last_end = {"a": 0.0, "b": 0.0}
        prev_start = 0.0
        for i, s in enumerate(self.segments):
            sp = f"{path}.segments[{i}]"
            if s.start_s < prev_start - 1e-9:
                raise InvalidInput(sp, "segments must be sorted by start_s")
            if not 0.0 <= s.start_s < s.end_s <= self.duration_s + 1e-6:
                raise InvalidInput(sp, f"[{s.start_s}, {s.end_s}] is empty or outside the audio")
            if s.start_s < last_end[s.speaker] - 1e-6:
                raise InvalidInput(sp, f"speaker {s.speaker} overlaps their previous segment")
            last_end[s.speaker] = s.end_s
            prev_start = s.start_s

    def speaker_segments(self, speaker: SpeakerId, kind: str | None = None) -> list[Segment]:
        return [
            s for s in self.segments if s.speaker == speaker and (kind is None or s.kind == kind)
        ]


def parse_turn_range(text: str, field: str = "turns") -> tuple[int, int] | None:
    """``"5-7"`` → ``(5, 7)``, ``"6"`` → ``(6, 6)``, ``""`` → None (the writer chooses); the
    bounds themselves are checked where they are used (CHAT: 5–10 turns)."""
    if not text:
        return None
    lo, sep, hi = text.partition("-")
    if not lo.isdigit() or (sep and not hi.isdigit()):
        raise InvalidInput(field, f"expected MIN-MAX, e.g. 5-7; got {text!r}")
    return int(lo), int(hi or lo)
