"""Voices for the dialogue service: a distinct voice per identity, and emotional prosody.

``VoiceInfo`` describes one installed voice of any engine (``engine:name``); ``CastVoice`` is a
voice as one speaker uses it (their own pitch, tempo and timbre offsets). ``voice_for`` gives
each identity an espeak-ng voice and base prosody (``VoiceSpec``) from its age band, gender
presentation and name; ``prosody`` turns an emotion spoken by that voice into espeak settings
(and a ``speed`` for engines that take only that).

Emotion → prosody: ``prosody.target_for`` gives the multipliers; ``prosody`` here maps them to
espeak's own settings.

espeak units: rate in words per minute (80–450); pitch 0–99, where +80 ≈ one octave
(measured on espeak-ng 1.51: p 25 → 175 Hz, p 75 → 266 Hz for en-us+f3); amplitude 0–200,
linear, neutral at 60 to leave headroom for loud emotions (espeak saturates near 0 dBFS);
range 0–99 (50 = the variant's own intonation range).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from dyad.domain import AGE_BANDS, GENDERS, Emotion, Identity
from dyad.domain.limits import check_voice_id
from dyad.errors import InvalidInput
from dyad.services.dialogue.speech.prosody import ProsodyTarget, target_for

NEUTRAL_AMPLITUDE = 60
PITCH_UNITS_PER_OCTAVE = 80.0

# age band → (pitch offset, rate wpm, pitch range): children/teens higher and faster, seniors
# slower with a narrower range.
_AGE = {
    "child": (16, 190, 62),
    "teen": (8, 182, 56),
    "young_adult": (0, 175, 52),
    "adult": (-3, 166, 48),
    "senior": (-8, 145, 34),
}
# gender presentation → (variants, pitch offset). Children use the f-variants (small vocal tract)
# whatever the presentation; androgynous voices sit between the two.
_GENDER = {
    "feminine": (("f1", "f2", "f3", "f4", "f5"), 6),
    "masculine": (("m1", "m2", "m3", "m4", "m5", "m6", "m7"), -4),
    "androgynous": (("f4", "f1", "m3", "m2"), 0),
}
_VOICE_RE = re.compile(r"^([a-z]{2,3}(?:-[a-z0-9]{1,8})*)(?:\+([A-Za-z0-9_-]{1,32}))?$")


@dataclass(frozen=True)
class VoiceSpec:
    """An espeak voice and its base prosody; ``requested`` is the identity's own voice string,
    verbatim, for engines with named voices."""

    language: str = "en-us"
    variant: str = ""
    base_pitch: int = 50
    base_rate: int = 175
    pitch_range: int = 50
    requested: str = ""

    def __post_init__(self) -> None:
        for name, lo, hi in (("base_pitch", 0, 99), ("base_rate", 80, 450), ("pitch_range", 0, 99)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidInput(f"voice.{name}", f"{value!r} is not an integer in [{lo}, {hi}]")
        if not _VOICE_RE.match(self.espeak_voice):
            raise InvalidInput("voice", f"{self.espeak_voice!r} is not an espeak voice")

    @property
    def espeak_voice(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language


#: Engines from best to plainest: casting prefers the first that has a fitting voice.
ENGINE_QUALITY = {"http": 5, "piper": 4, "rhvoice": 3, "flite": 2, "espeak": 1}


@dataclass(frozen=True)
class VoiceInfo:
    """One installed voice: ``id`` is ``engine:name`` (``piper:en_US-joe-medium``)."""

    engine: str
    name: str
    gender: str  # "masculine" | "feminine" (the identities' gender presentations)
    age_band: str = "adult"
    sample_rate: int = 16_000
    licence: str = ""

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"

    @property
    def quality(self) -> int:
        return ENGINE_QUALITY.get(self.engine, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "engine": self.engine,
            "voice": self.name,
            "gender": self.gender,
            "age_band": self.age_band,
            "sample_rate": self.sample_rate,
            "licence": self.licence,
        }


def parse_voice_id(value: str, field: str) -> tuple[str, str]:
    """``engine:name`` → (engine, name); anything else is InvalidInput naming ``field``."""
    return check_voice_id(value, field=field)


@dataclass(frozen=True)
class CastVoice:
    """A voice as one speaker uses it. ``pitch_st`` (semitones), ``rate`` (tempo ×) and
    ``formant`` (spectral-envelope warp ×; > 1 a smaller vocal tract) are the speaker's own
    offsets on top of every sentence's emotion; ``espeak`` carries espeak's settings for the
    speaker (its own base pitch and rate), ``requested`` the identity's voice string verbatim
    (for the http engine's named voices)."""

    info: VoiceInfo
    pitch_st: float = 0.0
    rate: float = 1.0
    formant: float = 1.0
    espeak: VoiceSpec = VoiceSpec()
    requested: str = ""

    @property
    def shifted(self) -> bool:
        return (
            abs(self.pitch_st) > 1e-6 or abs(self.rate - 1) > 1e-6 or abs(self.formant - 1) > 1e-6
        )

    def describe(self) -> dict[str, Any]:
        return {
            **self.info.to_dict(),
            "pitch_shift_semitones": round(self.pitch_st, 2),
            "rate": round(self.rate, 3),
            "formant": round(self.formant, 3),
        }


@functools.lru_cache(maxsize=1)
def _espeak_catalog() -> tuple[frozenset[str], frozenset[str]] | None:
    """(languages, variants) this espeak-ng knows, or None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        langs = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10)
        variants = subprocess.run(
            [exe, "--voices=variant"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = {ln.split()[1] for ln in langs.stdout.splitlines()[1:] if len(ln.split()) > 1}
    names |= set(re.findall(r"\(([a-z][a-z0-9-]*) \d+\)", langs.stdout))
    return frozenset(names), frozenset(re.findall(r"!v/([A-Za-z0-9_-]+)", variants.stdout))


def valid_espeak_voice(voice: str) -> tuple[str, str] | None:
    m = _VOICE_RE.match(voice)
    if m is None:
        return None
    language, variant = m.group(1), m.group(2) or ""
    catalog = _espeak_catalog()
    if catalog is not None and (
        language not in catalog[0] or (variant and variant not in catalog[1])
    ):
        return None
    return language, variant


def voice_for(identity: Identity) -> VoiceSpec:
    """A distinct, deterministic voice per identity (see ``_AGE`` and ``_GENDER``).

    ``identity.voice`` picks language and variant when it names a valid espeak voice
    ("en-us+f3"); otherwise the variant follows gender presentation (and childhood). A hash of
    the name picks among variants and moves the base pitch by up to ±4 units, so two identities
    of the same age and gender still differ.
    """
    if identity.age_band not in _AGE:
        raise InvalidInput("identity.age_band", f"{identity.age_band!r} not in {AGE_BANDS}")
    if identity.gender_presentation not in _GENDER:
        raise InvalidInput(
            "identity.gender_presentation", f"{identity.gender_presentation!r} not in {GENDERS}"
        )
    digest = hashlib.sha256(identity.name.encode("utf-8")).digest()
    pitch_offset, rate, pitch_range = _AGE[identity.age_band]
    pitch = 50 + pitch_offset + (digest[0] % 9) - 4
    rate += (digest[1] % 7) - 3
    requested = identity.voice.strip()
    chosen = valid_espeak_voice(requested)
    if chosen is not None:
        language, variant = chosen
    else:
        variants, gender_offset = _GENDER[identity.gender_presentation]
        if identity.age_band == "child":
            variants = _GENDER["feminine"][0]
            gender_offset = -4 if identity.gender_presentation == "masculine" else 0
        elif identity.age_band == "teen" and identity.gender_presentation == "masculine":
            gender_offset = 8  # a young male voice: m-variant, raised
        language, variant = "en-us", variants[digest[2] % len(variants)]
        if identity.gender_presentation == "androgynous":
            gender_offset = -10 if variant.startswith("f") else 14
        pitch += gender_offset
    return VoiceSpec(language, variant, _clamp(pitch, 0, 99), rate, pitch_range, requested)


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(value))))


def prosody(emotion: Emotion, voice: VoiceSpec | None = None) -> dict[str, Any]:
    """espeak settings for ``emotion`` spoken by ``voice`` (a neutral default voice if None):
    ``rate`` (wpm), ``pitch`` (0–99), ``amplitude`` (0–200), ``range`` (0–99), ``word_gap``
    (10 ms units) and ``speed`` (the rate multiplier alone, for engines without the rest)."""
    return espeak_settings(target_for(emotion), voice or VoiceSpec())


def espeak_settings(t: ProsodyTarget, voice: VoiceSpec, pitch_st: float = 0.0) -> dict[str, Any]:
    """``prosody`` from multipliers; ``pitch_st`` moves the voice's base pitch (semitones)."""
    f0 = t.f0 * 2 ** (pitch_st / 12)
    return {
        "rate": _clamp(voice.base_rate * t.rate, 80, 450),
        "pitch": _clamp(voice.base_pitch + PITCH_UNITS_PER_OCTAVE * math.log2(f0), 0, 99),
        "amplitude": _clamp(NEUTRAL_AMPLITUDE * t.gain, 0, 200),
        "range": _clamp(voice.pitch_range * t.range, 0, 99),
        "word_gap": _clamp(100 * t.word_gap_s, 0, 100),
        "speed": min(4.0, max(0.25, t.rate)),
    }
