"""Speech engines: text + a voice + an emotion → audio.

Local engines (``base.LocalEngine``), best first: ``piper`` (neural, onnxruntime),
``rhvoice`` (opt-in, Debian non-free), ``flite`` (Debian main), ``espeak`` (always); and
``http``, an OpenAI-compatible speech server. ``voicebox.make_engine`` wraps them in a
``Voicebox`` — what a conversation speaks with: voice casting across the engines it holds, and
the prosody each engine lacks applied by ``dsp``.
"""

from __future__ import annotations

from dyad.services.dialogue.speech.engines.base import (
    MAX_TEXT_CHARS,
    LocalEngine,
    Rendered,
    check_no_markup,
    check_text,
    finish_audio,
)
from dyad.services.dialogue.speech.engines.espeak import EspeakEngine
from dyad.services.dialogue.speech.engines.remote import HttpSpeechEngine

__all__ = [
    "MAX_TEXT_CHARS",
    "EspeakEngine",
    "HttpSpeechEngine",
    "LocalEngine",
    "Rendered",
    "check_no_markup",
    "check_text",
    "finish_audio",
]
