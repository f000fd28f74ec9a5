"""The two folds of the procedural skin: eye sockets and the mouth cavity, and what sits in them.

The eye band's first and last rows are the lid margins, put on a sphere just outside the
eyeball; its inner rows fold into a socket inside the eyeball (hidden by it). The mouth band's
inner rows fold into a cavity behind the lips (``CAVITY``), deep enough to hold the teeth and
the tongue. Near the corners both folds flatten out, so the band rows pinch into a corner.
"""

from __future__ import annotations

import numpy as np

from .model import Material
from .parts import Shell, dental_arch, ellipsoid
from .surface import Landmarks

EYE_BAND = 5  # rows: upper margin, three socket rows, lower margin
MOUTH_BAND = 13  # rows: border, mid-lip, margin (upper), seven cavity rows, margin, mid, border
EYE_INNER = 3
MOUTH_INNER = 7
# Mouth cavity profile of the 7 inner rows: (dy, dz) in metres from the lips' contact point —
# upper lip's inner side → above the upper teeth → palate → throat → floor under the tongue →
# below the lower teeth → lower lip's inner side.
CAVITY = np.array(
    [
        [0.0040, -0.0060],
        [0.0125, -0.0105],
        [0.0145, -0.0300],
        [0.0000, -0.0500],
        [-0.0170, -0.0330],
        [-0.0135, -0.0125],
        [-0.0050, -0.0065],
    ]
)
#: Jaw weight of the 7 cavity rows (the upper half stays with the skull).
CAVITY_JAW = np.array([0.0, 0.0, 0.0, 0.45, 1.0, 1.0, 1.0])


LIP_GAP = 0.00015  # half the height between the closed lips' margins (metres)


def smoothstep(e0: float, e1: float, x: np.ndarray | float) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lid_heights(s: float, lm: Landmarks) -> tuple[float, float]:
    """Heights of the upper and lower lid margins above/below the eye line at ``s`` ∈ [−1, 1]
    (almond: the upper lid peaks a little towards the nose, the lower dips towards the ear)."""
    base = max(1.0 - s * s, 0.0)
    return (
        lm.eye_up * base**0.72 * (1.0 - 0.14 * s),
        lm.eye_down * base**0.85 * (1.0 + 0.12 * s),
    )


def lip_heights(s: float, lm: Landmarks) -> tuple[float, float]:
    """Vermilion heights of the upper (with a Cupid's bow) and lower lip at ``s`` ∈ [−1, 1]."""
    a = abs(s)
    base = max(1.0 - a**2.2, 0.0)
    bow = 1.0 - 0.18 * np.exp(-((a / 0.09) ** 2)) + 0.08 * np.exp(-(((a - 0.28) / 0.12) ** 2))
    return lm.upper_lip * base**0.55 * bow, lm.lower_lip * max(1.0 - a * a, 0.0) ** 0.6


def fold_eyes(
    skin: np.ndarray,
    i_eye: int,
    eye_s_col: np.ndarray,
    eye_side_col: np.ndarray,
    eye_c: np.ndarray,
    r_lid: float,
    lm: Landmarks,
) -> None:
    """Put the lid margins on the lid sphere, fold the rows between into the socket, and keep
    the lid skin around the opening just outside the eyeball."""
    r_in = lm.r_eye - 0.0015
    back = np.array([0.0, 0.0, -1.0])
    for c in np.flatnonzero(np.isfinite(eye_s_col) & (np.abs(eye_s_col) <= 1.0)):
        ctr = eye_c[0] if eye_side_col[c] > 0 else eye_c[1]
        band = skin[i_eye : i_eye + EYE_BAND, c]
        rel = band - ctr
        dx = rel[:, 0]
        # margins: same x and y as the ray hit, z on the lid sphere
        for r in (0, EYE_BAND - 1):
            rr = r_lid**2 - dx[r] ** 2 - rel[r, 1] ** 2
            band[r] = ctr + np.array([dx[r], rel[r, 1], np.sqrt(max(rr, 0.0))])
        m_up = (band[0] - ctr) / np.linalg.norm(band[0] - ctr)
        m_lo = (band[-1] - ctr) / np.linalg.norm(band[-1] - ctr)
        depth = float(smoothstep(1.0, 0.55, abs(eye_s_col[c])))
        socket = [
            _slerp(m_up, back, 0.5),
            _slerp(_unit(m_up + m_lo), back, 0.75),
            _slerp(m_lo, back, 0.5),
        ]
        for i, d in enumerate(socket, start=1):
            flat = band[0] + (band[-1] - band[0]) * i / (EYE_BAND - 1)
            band[i] = (1.0 - depth) * flat + depth * (ctr + r_in * d)
        skin[i_eye : i_eye + EYE_BAND, c] = band
    # Lid skin: the rows next to the margins stay outside the eyeball (a lid has thickness),
    # so a lid rotating about the eye centre never cuts into the eyeball.
    rows = [(i_eye - k, k) for k in range(1, 4)] + [
        (i_eye + EYE_BAND - 1 + k, k) for k in range(1, 4)
    ]
    for side, ctr in ((1.0, eye_c[0]), (-1.0, eye_c[1])):
        near = np.isfinite(eye_s_col) & (eye_side_col == side) & (np.abs(eye_s_col) < 1.5)
        for c in np.flatnonzero(near):
            for r, k in rows:
                rel = skin[r, c] - ctr
                dist = float(np.linalg.norm(rel))
                lo = r_lid + 0.0005 * k
                if dist < lo:
                    skin[r, c] = ctr + rel / dist * lo


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    omega = np.arccos(np.clip(a @ b, -1.0, 1.0))
    if omega < 1e-9:
        return a
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def fold_mouth(
    skin: np.ndarray, i_mouth: int, mouth_s_col: np.ndarray, lm: Landmarks
) -> np.ndarray:
    """Fold the 7 inner mouth rows into the cavity; returns the contact point at the middle."""
    scale = np.array([1.0, lm.shape.head_height, lm.shape.head_depth])
    m_up, m_lo = i_mouth + 2, i_mouth + 2 + MOUTH_INNER + 1
    contact = np.zeros(3)
    for c in np.flatnonzero(np.isfinite(mouth_s_col) & (np.abs(mouth_s_col) <= 1.0)):
        s = abs(mouth_s_col[c])
        up, lo = skin[m_up, c], skin[m_lo, c]
        mid_pt = 0.5 * (up + lo)
        if abs(mouth_s_col[c]) < 1e-9:
            contact = mid_pt.copy()
        depth = float(smoothstep(1.0, 0.78, s))
        for i in range(MOUTH_INNER):
            flat = up + (lo - up) * (i + 1) / (MOUTH_INNER + 1)
            pocket = mid_pt + np.array([0.0, *(CAVITY[i])]) * scale
            skin[m_up + 1 + i, c] = (1.0 - depth) * flat + depth * pocket
        # The upper lip's margin overhangs the lower one a little, so no slit shows between
        # closed lips (the grid rows keep their order; only the position moves).
        skin[m_up, c] = up + depth * np.array([0.0, -2.0 * LIP_GAP - 0.0002, 0.0003])
    return contact


def teeth(contact: np.ndarray, lm: Landmarks) -> list[Shell]:
    h, d, mw = lm.shape.head_height, lm.shape.head_depth, lm.shape.mouth_width
    y0 = contact[1]
    upper = dental_arch(
        contact + np.array([0.0, 0.0, -0.0125 * d]),
        half_width=0.0185 * mw,
        depth=0.021 * d,
        top=y0 + 0.0100 * h,
        bottom=y0 - 0.0008 * h,
        thickness=0.0065,
    )
    lower = dental_arch(
        contact + np.array([0.0, 0.0, -0.0142 * d]),
        half_width=0.0172 * mw,
        depth=0.020 * d,
        top=y0 - 0.0010 * h,
        bottom=y0 - 0.0095 * h,
        thickness=0.0060,
    )
    return [upper, lower]


def tongue(contact: np.ndarray, lm: Landmarks) -> Shell:
    """A flattened ellipsoid on the cavity floor, behind the lower teeth."""
    s = lm.shape
    return ellipsoid(
        contact + np.array([0.0, -0.0085, -0.036]) * np.array([1.0, s.head_height, s.head_depth]),
        np.array([0.0165, 0.0052, 0.021]) * np.array([s.mouth_width, 1.0, 1.0]),
        7,
        12,
        Material.TONGUE,
    )
