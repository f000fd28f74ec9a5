"""What a finished fit writes into the avatar directory.

``model.safetensors`` (``GaussianAvatar.save``), ``metrics.json``, ``preview.png`` (held-out
frames: ground truth | fitted, one view per row) and ``refined_motion.npz`` (the capture's
motion with the learned per-frame corrections) first, each atomically; ``config.json`` last,
so the directory is an avatar (``load_avatar``) only once everything is in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dyad.media.audio import atomic_output
from dyad.media.image import write_png
from dyad.motion_io import save_motion
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import GaussianAvatar

PREVIEW_ROWS = 3


def preview_image(pairs: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """Up to ``PREVIEW_ROWS`` (truth, fitted) ``[H, W, 3]`` float pairs → uint8 grid."""
    rows = []
    picks = np.unique(np.linspace(0, len(pairs) - 1, min(PREVIEW_ROWS, len(pairs))).round())
    width = max(p[0].shape[1] for p in pairs) * 2
    for i in picks.astype(int):
        row = np.concatenate(pairs[i][:2], axis=1)
        pad = width - row.shape[1]
        rows.append(np.pad(row, ((0, 0), (0, pad), (0, 0)), constant_values=1.0))
    return np.clip(np.rint(np.concatenate(rows) * 255), 0, 255).astype(np.uint8)


def write_outputs(
    out: Path,
    avatar: GaussianAvatar,
    metrics: dict[str, Any],
    pairs: list[tuple[np.ndarray, ...]],
    refined_motion: np.ndarray,
    rig: str,
    fps: int,
) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.json"
    config.unlink(missing_ok=True)  # not an avatar until it is written again, last
    staging = out / ".fit" / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    avatar.save(staging)  # model.safetensors + config.json, each atomic
    (staging / "model.safetensors").replace(out / "model.safetensors")
    with atomic_output(out / "metrics.json") as tmp:
        Path(tmp).write_text(json.dumps(metrics, indent=2) + "\n")
    if pairs:
        write_png(out / "preview.png", preview_image(pairs))
    r = get_rig(rig)
    save_motion(out / "refined_motion.npz", r.clip(refined_motion.astype(np.float32)), r, fps)
    (staging / "config.json").replace(config)
    staging.rmdir()
    return out
