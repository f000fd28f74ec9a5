"""Settings of the renderer service (env vars ``DYAD_RENDER_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting

PREFIX = "DYAD_RENDER_"
BACKENDS = ("auto", "cpu", "gsplat", "torch")
LAYOUTS = ("side", "pip", "single")
BACKDROPS = ("environment", "plain")


@dataclass(frozen=True)
class RendererSettings:
    backend: str = setting(
        "auto",
        "rasteriser: auto (gsplat with CUDA, else cpu), cpu, gsplat, torch",
        choices=BACKENDS,
    )
    head_px: int = setting(512, "pixels per head (square); side by side is 2× wide")
    head: str = setting(
        "human",
        "head of generated arkit55 avatars: `human` (the MakeHuman bust) or `procedural`",
        choices=("procedural", "human"),
    )
    layout: str = setting("side", "layout for requests that name none", choices=LAYOUTS)
    backdrop: str = setting(
        "environment",
        "behind the heads: `environment` (a soft-focus plate of the conversation's sound "
        "environment, when the request names one) or `plain` (the background colour)",
        choices=BACKDROPS,
    )
    background: str = setting(
        "#e9edf2", "background colour, #rrggbb (plain backdrop, or no environment given)"
    )
    flame_model: Path | None = setting(
        None, "FLAME 2020 `generic_model.pkl` (user-supplied; needed for flame56 clips)"
    )
    crf: int = setting(20, "x264 quality of the videos, 0 (lossless) – 51")
    max_duration_s: float = setting(600.0, "longest accepted clip, seconds")
    stream_chunk_frames: int = setting(5, "frames per StreamFrames message (PNG each)")
    avatar_cache: int = setting(8, "avatars kept in memory per replica")
    max_avatar_bytes: int = setting(
        128 * 1024 * 1024, "largest stored avatar (config.json + model.safetensors) loaded, bytes"
    )

    @classmethod
    def from_env(cls) -> RendererSettings:
        return load(cls, prefix=PREFIX)
