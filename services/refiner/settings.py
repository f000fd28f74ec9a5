"""Settings of the refiner service (env vars ``DYAD_REFINER_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_REFINER_"
BLOCKS = ("sfbg", "rfbg", "tcr")  # pipeline order (core.py)
SAMPLERS = ("ddim", "ancestral")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class RefinerSettings:
    model_dir: Path | None = setting(
        None, "default checkpoint directory (empty: the bundled synthetic-corpus model)"
    )
    models_root: Path | None = setting(None, "directory of named checkpoints for `model_id`")
    steps: int = setting(50, "denoising steps for requests that name none (CHAT: 50; fast: 10)")
    sampler: str = setting("ddim", "sampler", choices=SAMPLERS)
    strength: float = setting(0.5, "RFBG: noise strength of the initial motion, (0, 1]")
    guidance: float = setting(1.0, "classifier-free guidance on the partner (1: none)")
    tcr_window: int = setting(10, "TCR: frames blended on each side of a boundary (W)")
    context_frames: int = setting(75, "frames of context beyond a segment on each side")
    max_duration_s: float = setting(600.0, "longest accepted conversation, seconds")
    device: str = setting("cpu", "torch device of the denoiser", choices=DEVICES)

    def validate(self) -> None:
        if not 1 <= self.steps <= 1000:
            raise ConfigError(f"{PREFIX}STEPS", "between 1 and 1000")
        if not 0.0 < self.strength <= 1.0:
            raise ConfigError(f"{PREFIX}STRENGTH", "in (0, 1]")
        if not 0.0 <= self.guidance <= 20.0:
            raise ConfigError(f"{PREFIX}GUIDANCE", "in [0, 20]")
        if self.tcr_window < 1:
            raise ConfigError(f"{PREFIX}TCR_WINDOW", "must be positive")
        if self.context_frames < 0:
            raise ConfigError(f"{PREFIX}CONTEXT_FRAMES", "must be ≥ 0")

    @classmethod
    def from_env(cls) -> RefinerSettings:
        return load(cls, prefix=PREFIX)
