"""One-frame ``arkit55`` clips and poses shared by the procedural-head test modules."""

from __future__ import annotations

import numpy as np

from dyad.rigs import get_rig
from dyad.services.renderer.heads.procedural import ProceduralHead

RIG = get_rig("arkit55")


def _clip(**channels: float) -> np.ndarray:
    clip = RIG.neutral(1)
    for name, value in channels.items():
        clip[0, RIG.index(name)] = value
    return clip


def _posed(head: ProceduralHead, **channels: float) -> np.ndarray:
    return head.pose(_clip(**channels))[0]
