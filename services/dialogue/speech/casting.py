"""Voice casting: which installed voice each speaker of a dialogue speaks with.

* A speaker's voice fits their gender presentation (androgynous speakers fit either; children
  of any presentation take feminine voices, a small vocal tract), best engine first
  (``voices.ENGINE_QUALITY``); ties are broken by a hash of the dialogue and the speaker's
  name, so casting is deterministic per dialogue.
* espeak-ng is cast per identity as before (``voices.voice_for``: its variant, base pitch and
  rate), so the plainest engine still gives every identity its own voice.
* The speaker's own offsets follow age band (children higher, brighter and quicker, seniors
  lower and slower) and a ±0.5 semitone hash of the name.
* The two speakers always sound different: B takes a distinct voice of the same quality when
  one fits (then at least ``DISTINCT_SEMITONES`` apart: two voices can share a pitch); where
  only one voice fits both, B keeps it shifted by ``SHIFT_SEMITONES`` and a ``SHIFT_FORMANT``
  timbre warp (up when B is younger or more feminine than A, else down).
* An explicit voice (``engine:name``: a request's ``voice_a``/``voice_b``, the identity's own
  ``voice``, or ``DYAD_DIALOGUE_TTS_VOICE_A``/``_B``) wins; an unknown one is InvalidInput
  naming where it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from dyad.domain import AGE_BANDS, Identity, SpeakerId
from dyad.errors import InvalidInput
from dyad.services.dialogue.speech.voices import (
    ENGINE_QUALITY,
    CastVoice,
    VoiceInfo,
    parse_voice_id,
    valid_espeak_voice,
    voice_for,
)

SPEAKERS: tuple[SpeakerId, SpeakerId] = ("a", "b")
SHIFT_SEMITONES = 3.0
SHIFT_FORMANT = 1.08
#: Two distinct voices of one gender: B at least this far from A in pitch.
DISTINCT_SEMITONES = 2.0
#: age band → (pitch semitones, tempo ×, formant ×) on top of an adult voice.
AGE_OFFSETS = {
    "child": (7.0, 1.06, 1.18),  # an adult female voice (~170 Hz) → ~255 Hz
    "teen": (2.0, 1.04, 1.05),
    "young_adult": (0.5, 1.02, 1.0),
    "adult": (0.0, 1.0, 1.0),
    "senior": (-1.0, 0.9, 0.98),
}
_FEMININITY = {"masculine": 0, "androgynous": 1, "feminine": 2}


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def fits(voice: VoiceInfo, who: Identity) -> bool:
    if voice.gender == "androgynous" or who.gender_presentation == "androgynous":
        return True
    if who.age_band == "child":
        return voice.gender == "feminine"
    return voice.gender == who.gender_presentation


def _offsets(voice: VoiceInfo, who: Identity) -> tuple[float, float, float]:
    """The speaker's own pitch (semitones), tempo and formant on ``voice``."""
    pitch, tempo, formant = AGE_OFFSETS[who.age_band]
    if who.gender_presentation == "androgynous" and voice.gender != "androgynous":
        pitch += 2.0 if voice.gender == "masculine" else -2.0
    if who.age_band == "child" and who.gender_presentation == "masculine":
        pitch -= 1.0
    pitch += (_hash("pitch", who.name) % 101) / 100 - 0.5
    return pitch, tempo, formant


def _explicit(
    requested: str, field: str, by_id: Mapping[str, VoiceInfo], espeak_ok: bool
) -> VoiceInfo:
    engine, name = parse_voice_id(requested, field)
    if f"{engine}:{name}" in by_id:
        return by_id[f"{engine}:{name}"]
    if engine == "espeak" and espeak_ok and valid_espeak_voice(name) is not None:
        return VoiceInfo("espeak", name, "androgynous", licence="GPL-3.0-or-later")
    have = ", ".join(sorted(by_id)) or "none"
    raise InvalidInput(field, f"no installed voice {requested!r} (installed: {have})")


def cast(
    speakers: Mapping[SpeakerId, Identity],
    available: Sequence[VoiceInfo],
    *,
    key: str = "",
    requested: Mapping[SpeakerId, tuple[str, str]] | None = None,
) -> dict[SpeakerId, CastVoice]:
    """Voices for speakers ``a`` and ``b``. ``requested`` maps a speaker to (voice id, field
    it came from) for explicit choices; ``key`` (the dialogue id) makes ties deterministic."""
    requested = dict(requested or {})
    by_id = {v.id: v for v in available if v.engine != "espeak"}
    espeak_ok = any(v.engine == "espeak" for v in available)
    for s in SPEAKERS:
        own = speakers[s].voice.strip()
        if s not in requested and own.split(":", 1)[0] in ENGINE_QUALITY and ":" in own:
            requested[s] = (own, f"dialogue.speaker_{s}.voice")
    chosen: dict[SpeakerId, VoiceInfo] = {}
    for s in SPEAKERS:
        who = speakers[s]
        if s in requested and requested[s][0].strip():
            chosen[s] = _explicit(*requested[s], by_id=by_id, espeak_ok=espeak_ok)
            continue
        pool = [v for v in by_id.values() if fits(v, who)]
        if espeak_ok:
            spec = voice_for(who)
            pool.append(VoiceInfo("espeak", spec.espeak_voice, who.gender_presentation))
        if not pool:
            raise InvalidInput("speech_backend", "no installed voice fits; install espeak-ng")
        pool.sort(key=lambda v: (-v.quality, _hash(key, who.name, v.id)))
        if s == "b" and "a" not in requested:
            best = [v for v in pool if v.quality == pool[0].quality]
            distinct = [v for v in best if v.id != chosen["a"].id]
            pool = distinct or best
        chosen[s] = pool[0]
    out: dict[SpeakerId, CastVoice] = {}
    for s in SPEAKERS:
        who, info = speakers[s], chosen[s]
        pitch, tempo, formant = (0.0, 1.0, 1.0) if info.engine == "espeak" else _offsets(info, who)
        out[s] = CastVoice(info, pitch, tempo, formant, voice_for(who), who.voice)
    if chosen["a"].id == chosen["b"].id:
        out["b"] = _shift_apart(out["a"], out["b"], speakers, key)
    elif chosen["a"].engine != "espeak" and chosen["a"].gender == chosen["b"].gender:
        # two voices of one gender can share a pitch (RHVoice's clb and slt: both 171 Hz)
        out["b"] = _shift_apart(out["a"], out["b"], speakers, key, DISTINCT_SEMITONES, 1.0)
    return out


def _shift_apart(
    a: CastVoice,
    b: CastVoice,
    speakers: Mapping[SpeakerId, Identity],
    key: str,
    semitones: float = SHIFT_SEMITONES,
    warp_min: float = SHIFT_FORMANT,
) -> CastVoice:
    """B at least ``semitones`` (and a ``warp_min`` formant step) away from A; where B's own
    offsets fall short, B moves up when younger (or, as old, more feminine), else down."""
    who_a, who_b = speakers["a"], speakers["b"]
    # younger first (a child's voice goes up whatever their presentation), then femininity
    rank_a = (-AGE_BANDS.index(who_a.age_band), _FEMININITY[who_a.gender_presentation])
    rank_b = (-AGE_BANDS.index(who_b.age_band), _FEMININITY[who_b.gender_presentation])
    up = rank_b > rank_a or (rank_b == rank_a and _hash(key, "shift") % 2 == 0)
    sign = 1.0 if up else -1.0
    # B's own offsets stand where they already set the two far enough apart
    gap = b.pitch_st - a.pitch_st
    pitch = b.pitch_st if abs(gap) >= semitones else a.pitch_st + sign * semitones
    ratio = b.formant / a.formant
    keep_warp = max(ratio, 1 / ratio) >= warp_min
    formant = b.formant if keep_warp else a.formant * warp_min**sign
    return replace(b, pitch_st=pitch, formant=formant, rate=b.rate * (1.04 if up else 0.96))
