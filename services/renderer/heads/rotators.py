"""Rotational deformers of the procedural head: eyelids and eyeballs (the jaw's are built in
``blendshapes``, which owns the jaw weights).

A rotator turns its vertices about one axis through a pivot; each vertex has its own angle per
unit *drive*, and the drive is a linear combination of blendshape weights, so ``pose`` applies
them non-linearly per frame. Eyelids turn about the eye centre (the lid slides over the eyeball
on a sphere), each column of lid by the angle that brings its margin exactly onto the other
lid; eyeballs turn rigidly (pitch, then yaw: ``Ry(yaw)·Rx(pitch)``, the head's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.rigs import ARKIT_BLENDSHAPES

from .folds import EYE_BAND
from .mesh import HeadGeometry, Part

BS = {name: i for i, name in enumerate(ARKIT_BLENDSHAPES)}
GAZE_PITCH_RAD = 0.38  # eyeLookUp/Down = 1
GAZE_YAW_RAD = 0.50  # eyeLookIn/Out = 1
X_AXIS, Y_AXIS = np.eye(3)[0], np.eye(3)[1]


@dataclass(frozen=True)
class Rotator:
    """Rotate ``vertices`` about the line (``pivot``, ``axis``) by ``drive(t) · angles``, where
    ``drive = weights[:, channels] @ coeffs``."""

    name: str
    channels: np.ndarray  # [K] int, blendshape indices
    coeffs: np.ndarray  # [K] float
    vertices: np.ndarray  # [n] int
    angles: np.ndarray  # [n] radians per unit drive
    pivot: np.ndarray  # [3]
    axis: np.ndarray  # [3] unit


def make_rotator(
    name: str,
    drive: dict[str, float],
    verts: np.ndarray,
    angles: np.ndarray,
    pivot: np.ndarray,
    axis: np.ndarray,
) -> Rotator:
    keep = np.abs(angles) > 1e-9
    return Rotator(
        name=name,
        channels=np.array([BS[k] for k in drive], dtype=np.int64),
        coeffs=np.array(list(drive.values()), dtype=np.float32),
        vertices=verts[keep].astype(np.int64),
        angles=angles[keep].astype(np.float32),
        pivot=np.asarray(pivot, dtype=np.float32),
        axis=np.asarray(axis, dtype=np.float32),
    )


def eyelid_rotators(g: HeadGeometry) -> list[Rotator]:
    ie = g.rows["eye"]
    row = g.grid_row
    out = []
    for side, name, idx in ((1.0, "Left", 0), (-1.0, "Right", 1)):
        ctr = g.eye_centres[idx]
        on = (g.eye_side == side) & (np.abs(g.eye_s) <= 1.0)
        cols = np.unique(g.grid_col[on & (row == ie)])
        alpha = np.zeros(g.n_cols)
        beta = np.zeros(g.n_cols)
        for c in cols:
            up = g.vertices[1 + ie * g.n_cols + c] - ctr
            lo = g.vertices[1 + (ie + EYE_BAND - 1) * g.n_cols + c] - ctr
            meet_y = lo[1] + 0.22 * (up[1] - lo[1])
            psi_up, psi_lo = np.arctan2(up[1], up[2]), np.arctan2(lo[1], lo[2])
            rho = np.hypot(up[1], up[2])
            psi_meet = np.arctan2(meet_y, np.sqrt(max(rho**2 - meet_y**2, 1e-12)))
            alpha[c] = max(psi_up - psi_meet, 0.0)
            beta[c] = max(psi_meet - psi_lo, 0.0)
        col = np.maximum(g.grid_col, 0)
        up_fall = {0: 1.0, 1: 0.92, 2: 0.72, 3: 0.45, 4: 0.2, 5: 0.06}
        lo_fall = {0: 1.0, 1: 0.55, 2: 0.25, 3: 0.08}
        a_up = np.zeros(len(g.vertices))
        a_lo = np.zeros(len(g.vertices))
        skin = g.part == Part.SKIN
        for k, f in up_fall.items():
            sel = skin & (g.eye_side == side) & (row == ie - k)
            a_up[sel] = f * alpha[col[sel]]
        for k, f in lo_fall.items():
            sel = skin & (g.eye_side == side) & (row == ie + EYE_BAND - 1 + k)
            a_lo[sel] = f * beta[col[sel]]
        inner = skin & (g.eye_side == side)
        a_up[inner & (row == ie + 1)] = alpha[col[inner & (row == ie + 1)]]
        a_lo[inner & (row == ie + 3)] = beta[col[inner & (row == ie + 3)]]
        mid = inner & (row == ie + 2)
        a_up[mid] = 0.5 * alpha[col[mid]]
        a_lo[mid] = 0.5 * beta[col[mid]]
        verts = np.arange(len(g.vertices))
        out.append(
            make_rotator(
                f"upperLid{name}",
                {
                    f"eyeBlink{name}": 1.0,
                    f"eyeWide{name}": -0.32,
                    f"eyeSquint{name}": 0.12,
                    f"eyeLookDown{name}": 0.28,
                    f"eyeLookUp{name}": -0.14,
                },
                verts,
                a_up,
                ctr,
                X_AXIS,
            )
        )
        out.append(
            make_rotator(
                f"lowerLid{name}",
                {
                    f"eyeBlink{name}": -1.0,
                    f"eyeSquint{name}": -0.55,
                    f"eyeWide{name}": 0.10,
                    f"eyeLookDown{name}": 0.10,
                },
                verts,
                a_lo,
                ctr,
                X_AXIS,
            )
        )
    return out


def eyeball_rotators(g: HeadGeometry) -> list[Rotator]:
    out = []
    for part, name, idx, inward in (
        (Part.EYE_LEFT, "Left", 0, -1.0),
        (Part.EYE_RIGHT, "Right", 1, 1.0),
    ):
        verts = np.flatnonzero(g.part == part)
        ones = np.ones(len(verts))
        ctr = g.eye_centres[idx]
        # Pitch first (positive about +x turns the gaze down), then yaw (positive about +y
        # turns it towards +x): R = Ry(yaw)·Rx(pitch), the head's convention.
        out.append(
            make_rotator(
                f"gazePitch{name}",
                {f"eyeLookDown{name}": GAZE_PITCH_RAD, f"eyeLookUp{name}": -GAZE_PITCH_RAD},
                verts,
                ones,
                ctr,
                X_AXIS,
            )
        )
        # "In" turns towards the nose: −x for the left eye, +x for the right eye.
        out.append(
            make_rotator(
                f"gazeYaw{name}",
                {
                    f"eyeLookIn{name}": inward * GAZE_YAW_RAD,
                    f"eyeLookOut{name}": -inward * GAZE_YAW_RAD,
                },
                verts,
                ones,
                ctr,
                Y_AXIS,
            )
        )
    return out
