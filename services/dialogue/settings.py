"""Settings of the dialogue service (env vars ``DYAD_DIALOGUE_*``)."""

from __future__ import annotations

from dataclasses import dataclass

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_DIALOGUE_"
WRITERS = ("offline", "llm")
SPEECH_BACKENDS = ("auto", "piper", "rhvoice", "flite", "espeak", "http")


@dataclass(frozen=True)
class DialogueSettings:
    writer: str = setting("offline", "dialogue writer for requests that name none", choices=WRITERS)
    llm_base_url: str = setting("", "OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8000/v1`")
    llm_model: str = setting("", "model name sent to the endpoint")
    llm_api_key: str = setting("", "bearer token for the endpoint (empty: none)", secret=True)
    llm_timeout_s: float = setting(60.0, "per-request timeout of the LLM endpoint")
    llm_max_repairs: int = setting(2, "re-asks after invalid JSON before giving up")
    speech: str = setting(
        "auto",
        "speech engine; `auto` casts voices across every installed local engine",
        choices=SPEECH_BACKENDS,
    )
    tts_voice_a: str = setting("", "speaker A's voice (`engine:name`) when a request names none")
    tts_voice_b: str = setting("", "speaker B's voice (`engine:name`) when a request names none")
    tts_piper_voices: str = setting(
        "",
        "more Piper voices: directories or `.onnx` files, `:`-separated (plus the packaged one)",
    )
    tts_piper_sample: bool = setting(
        False, "sample Piper's noise: livelier, but the same request no longer gives the same audio"
    )
    tts_base_url: str = setting("", "OpenAI-compatible `/v1/audio/speech` endpoint (speech=http)")
    tts_model: str = setting("tts-1", "speech model name (speech=http)")
    tts_api_key: str = setting("", "bearer token for the speech endpoint", secret=True)
    tts_timeout_s: float = setting(60.0, "per-request timeout of the speech endpoint")
    p_inter: float = setting(
        0.5, "probability of an interactive word per partner sentence (CHAT eq. 4)"
    )
    max_prompt_chars: int = setting(4000, "longest accepted prompt")
    max_dialogues: int = setting(64, "most dialogues per request")

    def validate(self) -> None:
        if not 0.0 <= self.p_inter <= 1.0:
            raise ConfigError(f"{PREFIX}P_INTER", "a probability, between 0 and 1")
        if self.llm_max_repairs < 0:
            raise ConfigError(f"{PREFIX}LLM_MAX_REPAIRS", "must be ≥ 0")

    @classmethod
    def from_env(cls) -> DialogueSettings:
        return load(cls, prefix=PREFIX)
