"""One-frame ``arkit55`` clips and poses shared by the head test modules (procedural, human)."""

from __future__ import annotations

import numpy as np

from dyad.rigs import get_rig
from dyad.services.renderer.heads.model import HeadModel

RIG = get_rig("arkit55")


def _clip(**channels: float) -> np.ndarray:
    clip = RIG.neutral(1)
    for name, value in channels.items():
        clip[0, RIG.index(name)] = value
    return clip


def _posed(head: HeadModel, **channels: float) -> np.ndarray:
    return head.pose(_clip(**channels))[0]  # [V, 3]
