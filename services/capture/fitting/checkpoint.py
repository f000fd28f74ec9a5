"""Fit checkpoints: ``AVATAR_DIR/.fit/checkpoint.pt``, replaced atomically each time.

Holds the iteration, the config, the Gaussians with their binding, the motion corrections,
Adam's state and the densification statistics: everything ``fit_avatar`` needs to continue
as if it had not stopped (its per-iteration RNG is seeded by the iteration).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dyad.errors import InvalidInput
from dyad.media.audio import atomic_output

FIT_DIR = ".fit"
NAME = "checkpoint.pt"


def path(out: Path) -> Path:
    return Path(out) / FIT_DIR / NAME


def save(out: Path, state: dict[str, Any]) -> Path:
    p = path(out)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(p) as tmp:
        torch.save(state, tmp)
    return p


def load(out: Path, head_config: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint in ``out``; it must belong to the same head (identity)."""
    p = path(out)
    if not p.is_file():
        raise InvalidInput("--resume", f"no checkpoint at {p}")
    try:
        state: dict[str, Any] = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn or foreign file: say so in one line
        raise InvalidInput("--resume", f"{p}: unreadable checkpoint ({e})") from e
    if state.get("head_config") != head_config:
        raise InvalidInput("--resume", f"{p} was fitted on another head (identity differs)")
    return state
