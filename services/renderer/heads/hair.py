"""Hair styles of the procedural head: which faces are HAIR, and how thick hair sits.

A style is a hairline (a height for each direction around the head) and a thickness: the
surface above the hairline is pushed out by the thickness (``surface`` adds it as a cap),
and the faces above it get the HAIR label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .shape import HairStyle

if TYPE_CHECKING:
    from .surface import Landmarks

#: Hair thickness over the scalp (metres) by style.
THICKNESS = {
    HairStyle.BALD: 0.0,
    HairStyle.SHAVED: 0.0,
    HairStyle.RECEDING: 0.002,
    HairStyle.SHORT: 0.0035,
    HairStyle.CURLY: 0.009,
    HairStyle.LONG: 0.005,
    HairStyle.BUN: 0.0025,
}

# Hairline height as a function of |azimuth| (0 = front, π = back), relative to landmarks:
# front → temples → above the ears → behind the ears → nape.
_AZIMUTH = np.array([0.0, 0.45, 0.85, 1.25, 1.55, 1.95, 2.4, np.pi])


def _hairline(lm: Landmarks, hair: HairStyle) -> np.ndarray:
    """Hairline heights (y, metres) at ``_AZIMUTH`` for a style."""
    h = lm.shape.head_height
    ear_top = -0.012 * h + 0.031 * lm.shape.ear_size
    front, temple, nape = lm.y_hairline, lm.y_eye + 0.040 * h, -0.072 * h
    line = np.array(
        [
            front,
            front - 0.004,
            temple,
            temple - 0.004,
            ear_top + 0.006,
            ear_top - 0.012,
            nape + 0.02,
            nape,
        ]
    )
    if hair is HairStyle.RECEDING:
        line[:4] = [front + 0.022, front + 0.030, temple + 0.040, temple + 0.012]
    elif hair is HairStyle.CURLY:
        line += np.array([-0.004, -0.004, -0.006, -0.006, -0.004, -0.010, -0.014, -0.016])
    elif hair is HairStyle.LONG:
        line[5:] = lm.y_neck_base - 1.0  # down the back of the neck to the base
    elif hair is HairStyle.BUN:
        line[6:] = [nape + 0.030, nape + 0.022]
    return line


def hairline_at(points: np.ndarray, lm: Landmarks, hair: HairStyle) -> np.ndarray:
    """The hairline's height (y) in the direction of each of ``points [..., 3]``."""
    azimuth = np.abs(np.arctan2(points[..., 0], points[..., 2]))
    return np.interp(azimuth, _AZIMUTH, _hairline(lm, hair))


def hair_mask(points: np.ndarray, lm: Landmarks, hair: HairStyle) -> np.ndarray:
    """Which of ``points [N, 3]`` (face centroids on the skin) carry hair for ``hair``."""
    if hair is HairStyle.BALD:
        return np.zeros(len(points), dtype=bool)
    # "Above" includes the few millimetres where the hair's thickness blends into the skin.
    above = points[:, 1] > hairline_at(points, lm, hair) - 0.0025
    # Ears stay skin even where the hair reaches lower behind them (an oval around each ear).
    w, h, d, es = lm.shape.head_width, lm.shape.head_height, lm.shape.head_depth, lm.shape.ear_size
    ear = (np.abs(points[:, 0]) > 0.064 * w) & (
        ((points[:, 1] + 0.012 * h) / (0.035 * es)) ** 2
        + ((points[:, 2] + 0.014 * d) / (0.022 * es)) ** 2
        < 1.0
    )
    return above & ~ear
