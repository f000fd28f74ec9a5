"""Settings of the audio encoder service (env vars ``DYAD_AUDIO_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting
from dyad.errors import ConfigError

BACKENDS = ("mel", "mfcc", "wav2vec2")
PREFIX = "DYAD_AUDIO_"


@dataclass(frozen=True)
class AudioEncoderSettings:
    backend: str = setting("mel", "backend for requests that name none", choices=BACKENDS)
    model_dir: Path | None = setting(
        None, "local wav2vec2 directory (Hugging Face layout: config.json + weights)"
    )
    device: str = setting("cpu", "torch device for wav2vec2 (`cpu`, `cuda`, `cuda:1`)")
    window_s: float = setting(20.0, "clips longer than this are encoded in overlapping windows")
    overlap_s: float = setting(2.0, "overlap between consecutive windows, cross-faded")
    max_duration_s: float = setting(600.0, "longest accepted track, seconds")
    max_tracks: int = setting(32, "most tracks in one request")
    max_batch: int = setting(8, "most windows encoded in one forward pass")
    torch_threads: int = setting(0, "torch CPU threads (0: torch's default)")

    def validate(self) -> None:
        if self.window_s <= 2 * self.overlap_s or self.overlap_s < 0:
            raise ConfigError(f"{PREFIX}WINDOW_S", "window must exceed twice the overlap")
        if self.max_duration_s <= 0:
            raise ConfigError(f"{PREFIX}MAX_DURATION_S", "must be positive")
        if self.max_batch < 1 or self.max_tracks < 1:
            raise ConfigError(f"{PREFIX}MAX_BATCH", "max_batch and max_tracks must be ≥ 1")

    @classmethod
    def from_env(cls) -> AudioEncoderSettings:
        return load(cls, prefix=PREFIX)
