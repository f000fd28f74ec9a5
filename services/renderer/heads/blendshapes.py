"""The 52 ARKit blendshapes of the procedural head, built from its geometry.

Two kinds of deformer, combined by ``ProceduralHead.pose``:

- **Linear deltas** ``[52, V, 3]``: smooth, localised displacement fields — a direction times
  a compactly supported falloff ``(1 − d²)³`` around a named region (a mouth corner, a brow,
  a cheek …), so distant regions stay exactly still.
- **Rotators** (``rotators``): jaw (about the hinge axis near the ears), eyelids (about
  the eye centre, each lid vertex by its own angle so the margin closes exactly onto the
  other lid) and eyeballs.
  The angle of each vertex is ``drive(t) · angle_v`` where ``drive`` is a linear combination
  of blendshape weights, so they are applied non-linearly per frame.

Left/Right are always the subject's (ARKit): Left = +x. "In" (eyeLookIn*) = towards the nose.
``tongueOut`` moves a separate tongue shell forward between the lips and drops the jaw region
a few millimetres so the tongue clears the teeth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dyad.rigs import ARKIT_BLENDSHAPES

from .folds import CAVITY, CAVITY_JAW, MOUTH_BAND
from .mesh import HeadGeometry, Part
from .rotators import (
    BS,
    Rotator,
    eyeball_rotators,
    eyelid_rotators,
    make_rotator,
)

JAW_OPEN_RAD = 0.30  # jawOpen = 1
JAW_SIDE_RAD = 0.11  # jawLeft/jawRight = 1
_X, _Y, _Z = np.eye(3)


@dataclass(frozen=True)
class BlendshapeRig:
    deltas: np.ndarray  # [52, V, 3] float32
    rotators: tuple[Rotator, ...]
    head_weights: np.ndarray  # [V] float32, how much of the head turn a vertex follows
    neck_pivot: np.ndarray  # [3]
    jaw_weights: np.ndarray  # [V] float32


def _smoothstep(e0: float | np.ndarray, e1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _blob(p: np.ndarray, centre: np.ndarray, radii: ArrayLike) -> np.ndarray:
    """Compact smooth falloff: 1 at ``centre``, 0 beyond the ellipsoid of ``radii``."""
    d2 = (((p - centre) / np.asarray(radii)) ** 2).sum(-1)
    return np.clip(1.0 - d2, 0.0, None) ** 3


class _Regions:
    """Per-vertex facts the deformers are written in terms of."""

    def __init__(self, g: HeadGeometry) -> None:
        self.g = g
        self.p = g.vertices
        self.skin = (g.part == Part.SKIN).astype(np.float64)
        lm = g.lm
        x, y, z = self.p[:, 0], self.p[:, 1], self.p[:, 2]
        self.left = _smoothstep(-0.005, 0.005, x)  # subject's left = +x
        self.right = 1.0 - self.left
        row = g.grid_row
        im = g.rows["mouth"]
        # Upper (1) or lower (0) side of the lips: by grid row inside the mouth, by height
        # elsewhere, blended at the corners so nothing tears.
        by_row = np.where(row <= im + 5, 1.0, np.where(row == im + 6, 0.5, 0.0))
        by_height = _smoothstep(lm.y_mouth - 0.004, lm.y_mouth + 0.004, y)
        corner = _smoothstep(0.8, 1.05, np.abs(g.mouth_s))
        self.upper = np.where(row >= 0, (1 - corner) * by_row + corner * by_height, by_height)
        self.upper[g.part == Part.TEETH_UPPER] = 1.0
        self.upper[(g.part == Part.TEETH_LOWER) | (g.part == Part.TONGUE)] = 0.0
        self.lower = 1.0 - self.upper
        # Mouth corners and lip middles (neutral positions on the lip margins).
        band = (row == im + 2) & (np.abs(g.mouth_s) <= 1.0)
        cols = np.flatnonzero(band)
        self.corner_l = self.p[cols[np.argmax(g.mouth_s[cols])]]
        self.corner_r = self.p[cols[np.argmin(g.mouth_s[cols])]]
        self.contact = g.mouth_contact
        self.mouth_w = lm.mouth_half_width
        self.z_lips = float(self.contact[2])
        # Front of the face, so masks never reach the back of the head or the cavity's depth.
        self.front = _smoothstep(0.035, 0.055, z)
        self.lip_zone = _smoothstep(self.z_lips - 0.022, self.z_lips - 0.010, z) * self.skin
        self.eye_c = g.eye_centres

    def surface(self, x: float, y: float) -> np.ndarray:
        """The frontmost skin vertex near (x, y)."""
        ok = (self.g.part == Part.SKIN) & (self.p[:, 2] > 0.03)
        d = (self.p[:, 0] - x) ** 2 + (self.p[:, 1] - y) ** 2 - 1e-3 * self.p[:, 2]
        return self.p[np.flatnonzero(ok)[np.argmin(d[ok])]]


def jaw_weights(r: _Regions) -> np.ndarray:
    """How much each vertex follows the jaw (0 skull … 1 mandible)."""
    g, lm, p = r.g, r.g.lm, r.p
    y, z = p[:, 1], p[:, 2]
    # Above/below the line from the mouth corner back to the hinge (side view).
    z_a, y_a = float(r.corner_l[2]) - 0.004, lm.y_mouth
    z_b, y_b = float(lm.hinge[2]), float(lm.hinge[1])
    t = np.clip((z - z_b) / (z_a - z_b), 0.0, 1.0)
    y_line = y_b + t * (y_a - y_b)
    w = _smoothstep(y_line + 0.004, y_line - 0.012, y)
    # Below the lower border of the mandible (chin → angle of the jaw) the neck stays.
    t2 = np.clip((z - (-0.005)) / (0.075 - (-0.005)), 0.0, 1.0)
    border = -0.088 * lm.shape.head_height + t2 * (lm.y_chin + 0.088 * lm.shape.head_height)
    w *= _smoothstep(border - 0.032, border - 0.004, y)
    w *= _smoothstep(-0.035, -0.008, z)
    # Inside the mouth the grid rows decide (lips touch at rest but belong to different bones).
    row, im = g.grid_row, g.rows["mouth"]
    inner = (row >= im) & (row < im + MOUTH_BAND) & (np.abs(g.mouth_s) <= 1.0)
    band_w = np.where(row <= im + 2, 0.0, 1.0)
    band_w = np.where(
        (row > im + 2) & (row < im + 3 + len(CAVITY)),
        CAVITY_JAW[np.clip(row - im - 3, 0, len(CAVITY) - 1)],
        band_w,
    )
    corner = _smoothstep(0.7, 1.0, np.abs(g.mouth_s))
    w = np.where(inner, (1 - corner) * band_w + corner * w, w)
    # Lip rows just outside the band follow their lip too.
    near = (np.abs(g.mouth_s) <= 1.0) & (row >= im - 3) & (row < im)
    w = np.where(near, w * corner, w)
    w[g.part == Part.SKIN] *= 1.0
    w[(g.part == Part.TEETH_LOWER) | (g.part == Part.TONGUE)] = 1.0
    w[(g.part == Part.TEETH_UPPER) | (g.part == Part.EYE_LEFT) | (g.part == Part.EYE_RIGHT)] = 0.0
    return w


def head_weights(g: HeadGeometry) -> np.ndarray:
    """1 for the head, falling to 0 over the lower neck so the base of the neck stays still."""
    y, z = g.vertices[:, 1], g.vertices[:, 2]
    lm = g.lm
    yy = y + 0.3 * np.clip(z - 0.02, 0.0, None)
    return _smoothstep(lm.y_neck_base + 0.022, lm.y_chin - 0.010, yy)


def build_blendshapes(g: HeadGeometry) -> BlendshapeRig:
    r = _Regions(g)
    lm = g.lm
    p = r.p
    n_v = len(p)
    deltas = np.zeros((len(ARKIT_BLENDSHAPES), n_v, 3))
    jw = jaw_weights(r)
    skin = r.skin
    h = lm.shape.head_height

    def add(name: str, mask: np.ndarray, vec: tuple[float, float, float] | np.ndarray) -> None:
        deltas[BS[name]] += mask[:, None] * np.asarray(vec, dtype=np.float64)[None, :]

    mouth_r = np.array([0.9 * r.mouth_w, 0.022, 0.016])
    mouth_region = _blob(p, r.contact, mouth_r) * skin
    # Lips: flat across the mouth, fading past the corners, and up/down from the lip line.
    across = _smoothstep(1.2 * r.mouth_w, 0.5 * r.mouth_w, np.abs(p[:, 0]))
    depth = _smoothstep(r.z_lips - 0.024, r.z_lips - 0.012, p[:, 2])
    upper_lip = (
        across * depth * _blob(p[:, 1:2], np.array([r.contact[1] + 0.004]), 0.013) * r.upper * skin
    )
    lower_lip = (
        across * depth * _blob(p[:, 1:2], np.array([r.contact[1] - 0.005]), 0.015) * r.lower * skin
    )
    for side, corner, sgn, sw in (
        ("Left", r.corner_l, 1.0, r.left),
        ("Right", r.corner_r, -1.0, r.right),
    ):
        cz = _blob(p, corner, [0.020, 0.020, 0.016]) * skin
        cheek_c = r.surface(sgn * 0.040, lm.y_eye - 0.030 * h)
        cheek = _blob(p, cheek_c, [0.024, 0.020, 0.022]) * skin * r.front
        add(f"mouthSmile{side}", cz, (sgn * 0.0050, 0.0075, -0.0035))
        add(f"mouthSmile{side}", cheek, (sgn * 0.0010, 0.0040, 0.0020))
        add(f"mouthFrown{side}", cz, (sgn * 0.0010, -0.0055, -0.0005))
        add(f"mouthDimple{side}", cz, (sgn * 0.0030, 0.0010, -0.0050))
        add(f"mouthStretch{side}", cz, (sgn * 0.0070, -0.0025, -0.0025))
        add(f"mouthStretch{side}", lower_lip * sw, (0.0, -0.0015, 0.0))
        half = sw * _smoothstep(0.0, 0.6 * r.mouth_w, sgn * p[:, 0] + 0.45 * r.mouth_w)
        add(f"mouthPress{side}", upper_lip * half, (0.0, -0.0020, -0.0015))
        add(f"mouthPress{side}", lower_lip * half, (0.0, 0.0020, -0.0015))
        add(f"mouthLowerDown{side}", lower_lip * half, (sgn * 0.0005, -0.0055, 0.0010))
        add(f"mouthUpperUp{side}", upper_lip * half, (sgn * 0.0005, 0.0050, 0.0005))
        # Cheek raise under the eye; nose wing; brows.
        under_eye = _blob(p, r.surface(sgn * lm.x_eye, lm.y_eye - 0.017 * h), [0.020, 0.014, 0.016])
        add(f"cheekSquint{side}", under_eye * skin * r.front, (0.0, 0.0040, 0.0015))
        add(f"eyeSquint{side}", under_eye * skin * r.front * 0.6, (0.0, 0.0020, 0.0005))
        ala = _blob(
            p,
            r.surface(sgn * 0.012 * lm.shape.nose_width, lm.y_subnasale + 0.006),
            [0.013, 0.014, 0.015],
        )
        add(f"noseSneer{side}", ala * skin, (sgn * 0.0010, 0.0045, 0.0010))
        add(f"noseSneer{side}", upper_lip * sw * 0.4, (0.0, 0.0015, 0.0))
        brow_c = r.surface(sgn * lm.x_eye, lm.y_brow)
        brow = _blob(p, brow_c, [0.028, 0.020, 0.022]) * skin * r.front
        inner_brow = (
            _blob(p, r.surface(sgn * (lm.x_eye - 0.014), lm.y_brow), [0.018, 0.022, 0.022])
            * skin
            * r.front
        )
        outer_brow = (
            _blob(p, r.surface(sgn * (lm.x_eye + 0.016), lm.y_brow), [0.020, 0.022, 0.022])
            * skin
            * r.front
        )
        add(f"browDown{side}", brow, (-sgn * 0.0010, -0.0045, 0.0005))
        add(f"browDown{side}", inner_brow, (-sgn * 0.0015, -0.0015, 0.0005))
        add(f"browOuterUp{side}", outer_brow, (0.0, 0.0055, 0.0))
        add("browInnerUp", inner_brow, (0.0, 0.0055, 0.0))
        add(f"noseSneer{side}", inner_brow * 0.25, (0.0, -0.0020, 0.0))
        add(f"eyeWide{side}", brow * 0.3, (0.0, 0.0015, 0.0))
        # Cheek puff: out along the cheek's own outward direction.
        puff_c = r.surface(sgn * 0.046, lm.y_mouth + 0.012)
        puff = _blob(p, puff_c, [0.026, 0.028, 0.030]) * skin * r.front
        add("cheekPuff", puff, (sgn * 0.0080, 0.0, 0.0040))
    # Lips as a whole.
    lips = mouth_region
    add("mouthLeft", lips, (0.0070, 0.0, -0.0005))
    add("mouthRight", lips, (-0.0070, 0.0, -0.0005))
    toward_mid = -np.clip(p[:, 0] / r.mouth_w, -1.0, 1.0)
    add("mouthPucker", lips, (0.0, 0.0, 0.0070))
    add("mouthPucker", lips * toward_mid, (0.0085, 0.0, 0.0))
    add("mouthFunnel", lips, (0.0, 0.0, 0.0050))
    add("mouthFunnel", lips * toward_mid, (0.0060, 0.0, 0.0))
    mid_open = _blob(p, r.contact, [0.65 * r.mouth_w, 0.012, 0.014]) * skin
    add("mouthFunnel", mid_open * r.upper, (0.0, 0.0025, 0.0))
    add("mouthFunnel", mid_open * r.lower, (0.0, -0.0030, 0.0))
    add("mouthRollLower", lower_lip, (0.0, 0.0025, -0.0045))
    add("mouthRollUpper", upper_lip, (0.0, -0.0025, -0.0045))
    chin_c = r.surface(0.0, lm.y_chin + 0.014)
    chin = _blob(p, chin_c, [0.022, 0.018, 0.020]) * skin
    add("mouthShrugLower", lower_lip, (0.0, 0.0030, 0.0015))
    add("mouthShrugLower", chin, (0.0, 0.0025, 0.0010))
    add("mouthShrugUpper", upper_lip, (0.0, 0.0028, 0.0012))
    # mouthClose: brings the lips together by the gap jawOpen = 1 makes (ARKit's corrective).
    lo_pt = r.contact - lm.hinge
    c, s = np.cos(JAW_OPEN_RAD), np.sin(JAW_OPEN_RAD)
    opened = np.array([lo_pt[0], c * lo_pt[1] - s * lo_pt[2], s * lo_pt[1] + c * lo_pt[2]])
    gap = float(lo_pt[1] - opened[1])
    at_line = across * depth * _blob(p[:, 1:2], np.array([r.contact[1]]), 0.018) * skin
    add("mouthClose", at_line * r.upper, (0.0, -0.35 * gap, 0.0))
    add("mouthClose", at_line * r.lower, (0.0, 0.65 * gap, 0.0))
    add("jawForward", jw, (0.0, 0.0, 0.0060))
    tongue = (g.part == Part.TONGUE).astype(np.float64)
    add("tongueOut", tongue, (0.0, 0.0030, 0.0240))
    add("tongueOut", jw * (1.0 - tongue), (0.0, -0.0045, 0.0005))

    rotators: list[Rotator] = [
        make_rotator("jawOpen", {"jawOpen": JAW_OPEN_RAD}, np.arange(n_v), jw, lm.hinge, _X),
        make_rotator(
            "jawSide",
            {"jawLeft": JAW_SIDE_RAD, "jawRight": -JAW_SIDE_RAD},
            np.arange(n_v),
            jw,
            lm.hinge,
            _Y,
        ),
        *eyelid_rotators(g),
        *eyeball_rotators(g),
    ]
    return BlendshapeRig(
        deltas=deltas.astype(np.float32),
        rotators=tuple(rotators),
        head_weights=head_weights(g).astype(np.float32),
        neck_pivot=lm.neck_pivot.astype(np.float32),
        jaw_weights=jw.astype(np.float32),
    )
