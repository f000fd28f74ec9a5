"""espeak-ng: formant synthesis, every prosody control native, one subprocess per sentence.

Rate, pitch, amplitude and word gap go in as options, the pitch range as SSML ``<prosody
range>`` around the XML-escaped text; no shell is involved. The robotic plainest voice, always
there: with nothing else installed everything still works.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from xml.sax.saxutils import escape

import numpy as np

from dyad.domain import Emotion
from dyad.errors import FailedPrecondition, InvalidInput, Unavailable
from dyad.media.audio import load_audio
from dyad.services.dialogue.speech.engines.base import (
    Rendered,
    check_text,
    finish_audio,
    run_engine,
)
from dyad.services.dialogue.speech.prosody import CONTROLS, ProsodyTarget, target_for
from dyad.services.dialogue.speech.voices import (
    CastVoice,
    VoiceInfo,
    VoiceSpec,
    espeak_settings,
)
from dyad.timebase import SAMPLE_RATE

#: The variants casting uses (espeak-ng's own names); m = masculine, f = feminine.
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
LICENCE = "GPL-3.0-or-later (espeak-ng, Debian)"


def espeak_voice_info(spec: VoiceSpec) -> VoiceInfo:
    gender = "feminine" if spec.variant.startswith("f") else "masculine"
    return VoiceInfo("espeak", spec.espeak_voice, gender, "adult", SAMPLE_RATE, LICENCE)


class EspeakEngine:
    """espeak-ng in a subprocess; ``voices.espeak_settings`` gives the settings."""

    name = "espeak"
    #: a program with no randomness: the same sentence gives the same samples
    deterministic = True

    def __init__(self, binary: str = "espeak-ng", timeout_s: float = 30.0) -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FailedPrecondition("espeak-ng not found: run `make setup`")
        self.binary, self.timeout_s = exe, float(timeout_s)

    def voices(self) -> tuple[VoiceInfo, ...]:
        return tuple(espeak_voice_info(VoiceSpec("en-us", v)) for v in VARIANTS)

    def command(
        self, text: str, voice: VoiceSpec, target: ProsodyTarget, pitch_st: float = 0.0
    ) -> list[str]:
        """The argv for one sentence (text already checked)."""
        p = espeak_settings(target, voice, pitch_st)
        ssml = f'<speak><prosody range="{p["range"]}">{escape(text)}</prosody></speak>'
        return [
            self.binary,
            "--stdout",
            "-m",
            "-z",
            "-v",
            voice.espeak_voice,
            "-s",
            str(p["rate"]),
            "-p",
            str(p["pitch"]),
            "-a",
            str(p["amplitude"]),
            "-g",
            str(p["word_gap"]),
            ssml,
        ]

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered:
        spec = voice.espeak
        if voice.info.engine == "espeak" and voice.info.name != spec.espeak_voice:
            lang, _, variant = voice.info.name.partition("+")
            spec = replace(spec, language=lang, variant=variant)
        tempo = replace(target, rate=target.rate * voice.rate)
        cmd = self.command(text, spec, tempo, voice.pitch_st)
        done = run_engine("espeak-ng", cmd, self.timeout_s, "espeak-ng not found: run `make setup`")
        if not done.stdout:
            raise Unavailable("espeak-ng returned no audio")
        try:
            audio = load_audio(done.stdout, SAMPLE_RATE)
        except InvalidInput:
            raise Unavailable("espeak-ng returned no audio") from None
        return Rendered(audio, SAMPLE_RATE, CONTROLS)

    def synthesize(self, text: str, voice: VoiceSpec | CastVoice, emotion: Emotion) -> np.ndarray:
        """One sentence at 16 kHz, finished (``finish_audio``) — the engine on its own."""
        if isinstance(voice, VoiceSpec):
            voice = CastVoice(espeak_voice_info(voice), espeak=voice, requested=voice.requested)
        rendered = self.render(check_text(text), voice, target_for(emotion))
        return finish_audio(rendered.audio)  # InvalidInput("text") when unspeakable ("...")
