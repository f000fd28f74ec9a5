"""Training data of the motion model: the pairs of a DualTalk-layout corpus in memory with their
cached mel features (``features.py``), and training windows sliced from them.

Windows of ``window`` frames start every ``hop`` frames (``dyad.dataset.reader.window_starts``,
tail ``shift``), each sliced from its own pair; pairs shorter than a window are skipped. A
window gives two samples: A given (A's audio, B's audio, B's motion) and B given (B's, A's,
A's motion).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyad.dataset.reader import load_pair, scan, window_starts
from dyad.services.training.features import load_features


@dataclass(frozen=True)
class Clip:
    """One pair in memory: features ``[T, D]`` and motion ``[T, C]`` of both speakers."""

    name: str
    feats_a: np.ndarray
    feats_b: np.ndarray
    motion_a: np.ndarray
    motion_b: np.ndarray
    relation: tuple[bool, bool] | None

    @property
    def frames(self) -> int:
        return int(self.motion_a.shape[0])


def load_clips(root: str | Path, split: str, rig: str) -> list[Clip]:
    """Every pair of ``root/split`` (features cached on first use); [] without the folder."""
    if not (Path(root) / split).is_dir():
        return []
    out = []
    for pair in scan(root, split):
        data = load_pair(pair, rig)
        fa, fb = load_features(pair, data.frames)
        rel = (pair.relation.blood, pair.relation.equal) if pair.relation else None
        out.append(Clip(pair.clip, fa, fb, data.motion_a, data.motion_b, rel))
    return out


def sample_index(clips: list[Clip], window: int, hop: int) -> list[tuple[int, int, int]]:
    """(clip, start, side) of every training sample; side 0 predicts A, 1 predicts B."""
    return [
        (k, start, side)
        for k, c in enumerate(clips)
        if c.frames >= window
        for start, _ in window_starts(c.frames, window, hop, "shift")
        for side in (0, 1)
    ]


def make_batch(clips: list[Clip], items: list[tuple[int, int, int]], window: int) -> dict[str, Any]:
    """Stacked tensors of the samples ``items`` (each slice copied from its own pair)."""
    own, partner, partner_motion, target, rels = [], [], [], [], []
    for k, start, side in items:
        c, sl = clips[k], slice(start, start + window)
        fa, fb, ma, mb = c.feats_a[sl], c.feats_b[sl], c.motion_a[sl], c.motion_b[sl]
        own.append(fa if side == 0 else fb)
        partner.append(fb if side == 0 else fa)
        partner_motion.append(mb if side == 0 else ma)
        target.append(ma if side == 0 else mb)
        rels.append(c.relation)

    def stack(xs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(xs).astype(np.float32))

    return {
        "audio_self": stack(own),
        "audio_partner": stack(partner),
        "motion_partner": stack(partner_motion),
        "target": stack(target),
        "relation": None if None in rels else torch.tensor(rels, dtype=torch.float32),
    }
