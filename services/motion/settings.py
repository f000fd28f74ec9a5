"""Settings of the motion service (env vars ``DYAD_MOTION_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting

PREFIX = "DYAD_MOTION_"
BACKENDS = ("procedural", "neural")
RIGS = ("arkit55", "flame56")


@dataclass(frozen=True)
class MotionSettings:
    backend: str = setting("procedural", "backend for requests that name none", choices=BACKENDS)
    rig: str = setting("arkit55", "rig for requests that name none", choices=RIGS)
    model_dir: Path | None = setting(
        None, "default neural checkpoint directory (empty: the bundled synthetic-corpus model)"
    )
    models_root: Path | None = setting(None, "directory of named checkpoints for `model_id`")
    max_duration_s: float = setting(600.0, "longest accepted conversation, seconds")
    stream_chunk_frames: int = setting(25, "frames per StreamMotion message")

    @classmethod
    def from_env(cls) -> MotionSettings:
        return load(cls, prefix=PREFIX)
