"""The speech side of a conversation: installed engines, voice casting and prosody in one place.

``make_engine`` builds a ``Voicebox`` from settings (``discover`` finds the installed engines).
A Voicebox is what ``conversation.speak`` talks to (the ``SpeechEngine`` protocol):
``cast(speakers)`` picks each speaker's voice (``casting``), ``synthesize(text, voice,
emotion)`` renders a sentence on that voice's engine and applies what the engine cannot
(``dsp``). ``speech_backend="auto"`` casts across every engine found at start-up; a named
backend uses that engine alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dyad.domain import Emotion, Identity, SpeakerId
from dyad.errors import ConfigError, FailedPrecondition, InvalidInput
from dyad.services.dialogue.speech.casting import cast
from dyad.services.dialogue.speech.dsp import apply_prosody
from dyad.services.dialogue.speech.engines.base import LocalEngine, check_text
from dyad.services.dialogue.speech.engines.espeak import EspeakEngine, espeak_voice_info
from dyad.services.dialogue.speech.engines.remote import HttpSpeechEngine
from dyad.services.dialogue.speech.prosody import target_for
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo, VoiceSpec, parse_voice_id

#: Best first; ``auto`` uses every one that is installed.
LOCAL_ENGINES = ("piper", "rhvoice", "flite", "espeak")
BACKENDS = ("auto", *LOCAL_ENGINES, "http")
_SETTINGS = {
    "espeak": ("binary", "timeout_s"),
    "flite": ("timeout_s",),
    "rhvoice": ("timeout_s",),
    "piper": ("piper_voices", "timeout_s", "sample_noise"),
    "http": ("base_url", "model", "api_key", "timeout_s", "default_voice"),
}


class SpeechEngine(Protocol):
    """What a conversation speaks with (``voicebox.Voicebox``)."""

    name: str

    def voices(self) -> tuple[VoiceInfo, ...]: ...

    def cast(
        self,
        speakers: Mapping[SpeakerId, Identity],
        key: str = "",
        requested: Mapping[SpeakerId, tuple[str, str]] | None = None,
    ) -> dict[SpeakerId, CastVoice]: ...

    def synthesize(
        self, text: str, voice: CastVoice | VoiceSpec, emotion: Emotion
    ) -> np.ndarray: ...


class Voicebox:
    def __init__(
        self,
        engines: Sequence[LocalEngine],
        name: str = "auto",
        defaults: Mapping[SpeakerId, tuple[str, str]] | None = None,
    ) -> None:
        """``defaults``: speaker → (voice id, the setting it came from) used when a request
        names none; checked here, so a wrong one fails at start-up as a ConfigError."""
        if not engines:
            raise ConfigError("DYAD_DIALOGUE_SPEECH", f"{name!r}: no speech engine is available")
        self.name = name
        self.engines = {e.name: e for e in engines}
        self._voices = tuple(v for e in engines for v in e.voices())
        self.defaults = {s: d for s, d in (defaults or {}).items() if d[0].strip()}
        known = {v.id for v in self._voices}
        for value, setting in self.defaults.values():
            try:
                engine, voice = parse_voice_id(value, setting)
            except InvalidInput as e:
                raise ConfigError(setting, e.reason) from None
            if f"{engine}:{voice}" not in known and not (
                engine == "espeak" and "espeak" in self.engines
            ):
                raise ConfigError(
                    setting, f"no installed voice {value!r} (installed: {sorted(known)})"
                )

    @property
    def deterministic(self) -> bool:
        """Whether the same text, voice and emotion always give the same samples (a
        conversation then speaks each repeated interactive word once): true when every
        engine says so; a remote server or a sampling Piper does not."""
        return all(getattr(e, "deterministic", False) for e in self.engines.values())

    def voices(self) -> tuple[VoiceInfo, ...]:
        return self._voices

    def cast(
        self,
        speakers: Mapping[SpeakerId, Identity],
        key: str = "",
        requested: Mapping[SpeakerId, tuple[str, str]] | None = None,
    ) -> dict[SpeakerId, CastVoice]:
        """Each speaker's voice (``key``: the dialogue id, for deterministic ties);
        ``requested`` (speaker → (voice id, field)) wins over the identity's own voice and
        the configured defaults."""
        wanted = {**self.defaults, **{s: r for s, r in (requested or {}).items() if r[0].strip()}}
        return cast(speakers, self._voices, key=key, requested=wanted)

    def prepare(self, items: Sequence[tuple[str, CastVoice]]) -> None:
        """Get ready to speak ``(text, voice)`` (Piper phonemises ahead, with no model), so
        this can run while a model loads. Best effort: what fails here fails again later, in
        ``synthesize``."""
        todo: dict[str, list[tuple[str, CastVoice]]] = {}
        for text, voice in items:
            try:
                todo.setdefault(voice.info.engine, []).append((check_text(text), voice))
            except InvalidInput:
                continue
        for name, mine in todo.items():
            ready = getattr(self.engines.get(name), "prepare", None)
            if ready is not None:
                ready(mine)

    def synthesize(self, text: str, voice: CastVoice | VoiceSpec, emotion: Emotion) -> np.ndarray:
        """One sentence → [N] float32 at 16 kHz, finished (trimmed, faded, peak-safe)."""
        if isinstance(voice, VoiceSpec):  # a voice as the pre-casting API gave it
            info = espeak_voice_info(voice) if "espeak" in self.engines else self._voices[0]
            voice = CastVoice(info, espeak=voice, requested=voice.requested)
        engine = self.engines.get(voice.info.engine)
        if engine is None:
            raise InvalidInput("voice", f"{voice.info.id}: engine not available here")
        target = target_for(emotion)
        rendered = engine.render(check_text(text), voice, target)
        return apply_prosody(rendered, voice, target)


def make_local(name: str, **settings: Any) -> LocalEngine:
    """One local engine; FailedPrecondition (naming the make target) when not installed."""
    mine = {k: v for k, v in settings.items() if k in _SETTINGS[name] and v is not None}
    if name == "espeak":
        return EspeakEngine(**mine)
    if name == "flite":
        from dyad.services.dialogue.speech.engines.flite import FliteEngine

        return FliteEngine(**mine)
    if name == "rhvoice":
        from dyad.services.dialogue.speech.engines.rhvoice import RHVoiceEngine

        return RHVoiceEngine(**mine)
    if name == "piper":
        from dyad.services.dialogue.speech.engines.piper import PiperEngine

        dirs = tuple(Path(p) for p in str(mine.pop("piper_voices", "")).split(":") if p)
        return PiperEngine(dirs, **mine)
    raise InvalidInput("speech_backend", f"{name!r} is not one of {list(BACKENDS)}")


def discover(**settings: Any) -> tuple[list[LocalEngine], dict[str, str]]:
    """Every installed local engine, best first, and why each missing one is missing."""
    found: list[LocalEngine] = []
    missing: dict[str, str] = {}
    for name in LOCAL_ENGINES:
        try:
            found.append(make_local(name, **settings))
        except ConfigError:
            raise  # installed but misconfigured: the operator must hear about it
        except FailedPrecondition as e:
            missing[name] = e.message
    return found, missing


def make_engine(
    name: str, defaults: Mapping[SpeakerId, tuple[str, str]] | None = None, **settings: Any
) -> Voicebox:
    """``auto`` | a local engine | ``http``, as a Voicebox. Settings of other backends are
    ignored (callers may pass all speech settings at once); unknown ones, and a missing http
    ``base_url``, are InvalidInput."""
    if name not in BACKENDS:
        raise InvalidInput("speech_backend", f"{name!r} is not one of {list(BACKENDS)}")
    known = {k for keys in _SETTINGS.values() for k in keys}
    for key in settings:
        if key not in known:
            raise InvalidInput(key, f"unknown speech setting (known: {sorted(known)})")
    if name == "auto":
        return Voicebox(discover(**settings)[0], name, defaults)
    if name == "http":
        mine = {k: v for k, v in settings.items() if k in _SETTINGS["http"] and v is not None}
        if not mine.get("base_url"):
            raise InvalidInput("base_url", "required for the http speech backend")
        return Voicebox([HttpSpeechEngine(**mine)], name, defaults)
    return Voicebox([make_local(name, **settings)], name, defaults)
