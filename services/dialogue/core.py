"""The dialogue service's domain entry points, over the artefact store (no grpc or ray).

``DialogueCore`` writes dialogues, speaks them (artefacts: both tracks and the stereo mix as
WAV in the store) and segments recorded conversations.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

import numpy as np

from dyad.domain import Dialogue, Emotion, Identity, SpeakerId, StoredConversation
from dyad.errors import ConfigError, InvalidInput
from dyad.media import wav_bytes
from dyad.services.dialogue.segmentation import load_pair, segment_conversation
from dyad.services.dialogue.settings import PREFIX, SPEECH_BACKENDS, DialogueSettings
from dyad.services.dialogue.speech.conversation import SAMPLE_RATE, Conversation, speak
from dyad.services.dialogue.speech.voicebox import SpeechEngine, make_engine
from dyad.services.dialogue.writing.writer import DialogueWriter
from dyad.storage import ArtifactRef, ArtifactStore


def engine_from_settings(settings: DialogueSettings, name: str = "") -> SpeechEngine:
    """The speech engine ``name`` (default ``DYAD_DIALOGUE_SPEECH``) configured from settings."""
    name = name or settings.speech
    if name not in SPEECH_BACKENDS:
        raise InvalidInput(
            "speech_backend", f"unknown engine {name!r}; expected one of {list(SPEECH_BACKENDS)}"
        )
    defaults: dict[SpeakerId, tuple[str, str]] = {
        "a": (settings.tts_voice_a, f"{PREFIX}TTS_VOICE_A"),
        "b": (settings.tts_voice_b, f"{PREFIX}TTS_VOICE_B"),
    }
    if name == "http":
        # Misconfiguration, not a bad request: name the setting an operator must fix.
        url = settings.tts_base_url
        if not url:
            raise ConfigError(
                f"{PREFIX}TTS_BASE_URL", "not set: the http speech backend needs an endpoint"
            )
        if not re.match(r"^https?://[^\s/]+", url):
            raise ConfigError(f"{PREFIX}TTS_BASE_URL", "expected an http(s):// URL")
        if settings.tts_timeout_s <= 0:
            raise ConfigError(f"{PREFIX}TTS_TIMEOUT_S", "must be positive")
        return make_engine(
            "http",
            defaults,
            base_url=settings.tts_base_url,
            model=settings.tts_model,
            api_key=settings.tts_api_key,
            timeout_s=settings.tts_timeout_s,
        )
    return make_engine(
        name,
        defaults,
        piper_voices=settings.tts_piper_voices,
        sample_noise=settings.tts_piper_sample,
    )


class DialogueCore:
    def __init__(self, store: ArtifactStore, settings: DialogueSettings) -> None:
        self.store = store
        self.settings = settings
        self.writer = DialogueWriter(settings)
        self._engines: dict[str, SpeechEngine] = {}
        self._lock = threading.Lock()

    def engine(self, name: str = "") -> SpeechEngine:
        name = name or self.settings.speech
        with self._lock:
            if name not in self._engines:
                self._engines[name] = engine_from_settings(self.settings, name)
            return self._engines[name]

    def warm_up(self) -> None:
        """Load the default speech engine and speak one word with each voice casting may pick
        first (loads the Piper model)."""
        engine = self.engine()
        cast = engine.cast(
            {
                "a": Identity("Warm Up", gender_presentation="masculine"),
                "b": Identity("Warm Up", gender_presentation="feminine"),
            }
        )
        for voice in cast.values():
            engine.synthesize("Hello.", voice, Emotion())

    def speak(
        self,
        dialogue: Dialogue,
        *,
        seed: int = 0,
        speech_backend: str = "",
        p_inter: float | None = None,
        voices: Mapping[SpeakerId, tuple[str, str]] | None = None,
    ) -> tuple[Conversation, StoredConversation]:
        """``voices``: speaker → (voice id, the request field it came from)."""
        p = self.settings.p_inter if p_inter is None else p_inter
        if not 0.0 <= p <= 1.0:
            raise InvalidInput("interaction_probability", "a probability, between 0 and 1")
        conv = speak(dialogue, self.engine(speech_backend), seed=seed, p_inter=p, voices=voices)
        stored = StoredConversation(
            conv.timeline,
            conv.dialogue,
            self._put_wav(conv.track_a),
            self._put_wav(conv.track_b),
            self._put_wav(conv.mix),
            conv.timeline.duration_s,
        )
        return conv, stored

    def _put_wav(self, x: np.ndarray) -> ArtifactRef:
        return self.store.put_bytes(wav_bytes(x, SAMPLE_RATE, subtype="FLOAT"), "audio/wav")

    def segment(self, audio: bytes, audio_b: bytes | None = None) -> StoredConversation:
        """A recorded conversation (one two-channel file, or two mono files) → timeline."""
        a, b = load_pair(audio, audio_b)
        timeline = segment_conversation(a, b)
        return StoredConversation(
            timeline, None, self._put_wav(a), self._put_wav(b), None, timeline.duration_s
        )
