"""Scores of a motion model on whole clips, by DualTalk's protocol: each speaker given the
partner's ground truth, both speakers of every clip, ``metrics.evaluate_clips``."""

from __future__ import annotations

import numpy as np
import torch

from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel
from dyad.services.training.metrics import evaluate_clips
from dyad.services.training.motion.data import Clip


def predict_clip(
    model: DualTalkModel, clip: Clip, *, social: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' motion of a whole clip, each given the partner's ground truth."""
    rel = clip.relation if social else None
    with torch.no_grad():
        a, b = generate_pair(model, clip.feats_a, clip.feats_b, clip.motion_a, clip.motion_b, rel)
    return np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)


def score(
    preds: list[tuple[np.ndarray, np.ndarray]], clips: list[Clip], rig: str
) -> dict[str, dict[str, float]]:
    """metrics.evaluate_clips over both speakers of every clip."""
    p = [x for a, b in preds for x in (a, b)]
    gts = [x for c in clips for x in (c.motion_a, c.motion_b)]
    partners = [x for c in clips for x in (c.motion_b, c.motion_a)]
    return evaluate_clips(p, gts, partners, rig)


def evaluate(
    model: DualTalkModel, clips: list[Clip], rig: str, *, social: bool
) -> dict[str, dict[str, float]]:
    """Scores of ``model`` (raw inputs and outputs) on ``clips``; the torch RNG is untouched."""
    rng = torch.get_rng_state()  # evaluation never shifts the training RNG
    try:
        return score([predict_clip(model, c, social=social) for c in clips], clips, rig)
    finally:
        torch.set_rng_state(rng)
