"""The smooth skin of the procedural head as an implicit function, and rays cast onto it.

The head is a smooth union of simple solids (superquadrics and capsules: cranium, face block,
neck, nose, cheekbones, lips, chin, brow ridge, ears, a hair cap of the style's thickness
above its hairline, a bun) minus the eye sockets, plus a lid shell over each eyeball. Every
solid is an approximate signed distance in metres, so ``smooth_min`` blends them with
fillets of a few millimetres. The solid is star-shaped about the origin, so the surface is
sampled by casting a ray from the origin per mesh vertex (bisection on the sign), which is
what makes the vertex grid of ``mesh`` a closed sphere-like surface.

All landmark positions are derived once from a ``HeadShape`` in ``Landmarks``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hair import THICKNESS, hairline_at
from .shape import HairStyle, HeadShape

_RAY_MIN = 0.02  # metres: every ray starts inside the head here ...
_RAY_MAX = 0.30  # ... and has left it here
_BISECTIONS = 10
_FALSI_STEPS = 3


@dataclass(frozen=True)
class Landmarks:
    """Named positions and sizes of one head (metres, head coordinates)."""

    shape: HeadShape
    # heights on the face (y) and depths (z) of the front
    y_crown: float
    y_hairline: float
    y_brow: float
    y_eye: float
    y_nose_tip: float
    y_subnasale: float
    y_mouth: float
    y_chin: float
    y_neck_base: float
    z_face: float  # front of the face block
    # eyes
    x_eye: float
    z_eye: float  # eyeball centre
    r_eye: float
    eye_half_width: float  # half the eye opening, as an x extent
    eye_up: float  # upper-lid height above the eye centre at the middle of the opening
    eye_down: float
    # mouth
    mouth_half_width: float
    upper_lip: float  # vermilion height of the upper lip at the middle
    lower_lip: float
    # jaw and neck
    hinge: np.ndarray  # [3] a point on the jaw's hinge axis (x = 0)
    neck_pivot: np.ndarray  # [3] head rotation centre (top of the neck)
    neck_radius: float
    neck_z: float


def landmarks(shape: HeadShape) -> Landmarks:
    s = shape
    h, d = s.head_height, s.head_depth
    y_eye = 0.004 * h
    y_mouth = -0.068 * h - 0.006 * (s.chin_length - 1.0)
    r_eye = 0.0122 * (0.85 + 0.15 * s.eye_size)
    return Landmarks(
        shape=s,
        y_crown=0.118 * h,
        y_hairline=0.070 * h,
        y_brow=y_eye + 0.022 * s.brow_height * h,
        y_eye=y_eye,
        y_nose_tip=y_eye - 0.036 * s.nose_length * h,
        y_subnasale=y_eye - 0.049 * s.nose_length * h,
        y_mouth=y_mouth,
        y_chin=-0.117 * h - 0.012 * (s.chin_length - 1.0),
        y_neck_base=-0.205 * h,
        z_face=0.094 * d,
        x_eye=0.032 * s.eye_spacing * s.head_width**0.5,
        z_eye=0.0795 * d,
        r_eye=r_eye,
        eye_half_width=0.0116 * s.eye_size,
        eye_up=0.0052 * s.eye_size,
        eye_down=0.0046 * s.eye_size,
        mouth_half_width=0.0255 * s.mouth_width,
        upper_lip=0.0072 * s.lip_fullness,
        lower_lip=0.0090 * s.lip_fullness,
        hinge=np.array([0.0, -0.030 * h, -0.004 * d]),
        neck_pivot=np.array([0.0, -0.075 * h, -0.020 * d]),
        neck_radius=0.054 * s.neck_width,
        neck_z=-0.020 * d,
    )


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Smooth union of two signed distances (fillet radius about ``k`` metres)."""
    m = np.minimum(a, b)
    return m - k * np.log1p(np.exp(-np.abs(a - b) / k))


def _superquadric(p: np.ndarray, centre: np.ndarray, axes: np.ndarray, n: float) -> np.ndarray:
    qx = (p[..., 0] - centre[0]) / axes[0]
    qy = (p[..., 1] - centre[1]) / axes[1]
    qz = (p[..., 2] - centre[2]) / axes[2]
    if n == 2.0:  # the common case, without the slow fractional powers
        r = np.sqrt(qx * qx + qy * qy + qz * qz)
    else:
        qx, qy, qz = np.abs(qx), np.abs(qy), np.abs(qz)
        r = np.power(np.power(qx, n) + np.power(qy, n) + np.power(qz, n), 1.0 / n)
    return (r - 1.0) * float(np.min(axes))


def _capsule(p: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / float(ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1) - radius


def _mirror_x(p: np.ndarray) -> np.ndarray:
    q = p.copy()
    q[..., 0] = np.abs(q[..., 0])
    return q


def head_field(p: np.ndarray, lm: Landmarks, hair: HairStyle = HairStyle.SHORT) -> np.ndarray:
    """Approximate signed distance (metres, negative inside) of the head at ``p [..., 3]``."""
    s = lm.shape
    w, h, d = s.head_width, s.head_height, s.head_depth
    pm = _mirror_x(p)  # the head is left-right symmetric
    x, y, z = p[..., 0], p[..., 1], p[..., 2]

    cranium_c = np.array([0.0, 0.014 * h, -0.010 * d])
    cranium_r = np.array([0.074 * w, 0.104 * h, 0.101 * d])
    cranium = _superquadric(p, cranium_c, cranium_r, 2.3)
    # The face block narrows towards the chin: scale x up before evaluating (a domain warp).
    jaw_taper = 1.0 - 0.30 * np.clip((-0.035 * h - y) / (0.08 * h), 0.0, 1.0) ** 1.3
    face_x = x / (jaw_taper * (0.85 + 0.15 * s.jaw_width))
    face_p = np.stack([face_x, y, z], axis=-1)
    chin_drop = -lm.y_chin - 0.117 * h
    face = _superquadric(
        face_p,
        np.array([0.0, -0.040 * h - chin_drop / 2, 0.020 * d]),
        np.array([0.067 * w, 0.077 * h + chin_drop / 2, 0.074 * d]),
        2.7,
    )
    f = smooth_min(cranium, face, 0.012)

    # Neck: an elliptic cylinder, capped flat at the bottom and hidden inside the head on top.
    nr = lm.neck_radius
    neck = (np.sqrt((x / nr) ** 2 + ((z - lm.neck_z) / (nr * 1.06)) ** 2) - 1.0) * nr
    neck = -smooth_min(-neck, -(lm.y_neck_base - y), 0.006)  # rounded rim at the base
    neck = np.maximum(neck, y)  # the top is hidden inside the head
    f = smooth_min(f, neck, 0.010)

    # Cheekbones and the brow ridge.
    cheek = _superquadric(
        pm,
        np.array([0.044 * w, -0.020 * h, 0.058 * d]),
        np.array([0.022, 0.016, 0.020]) * s.cheekbones,
        2.0,
    )
    f = smooth_min(f, cheek, 0.010)
    brow = _superquadric(
        p, np.array([0.0, lm.y_brow - 0.002, 0.074 * d]), np.array([0.052 * w, 0.014, 0.020]), 2.2
    )
    f = smooth_min(f, brow, 0.008)
    chin = _superquadric(
        p, np.array([0.0, lm.y_chin + 0.013, 0.079 * d]), np.array([0.019, 0.012, 0.012]), 2.0
    )
    f = smooth_min(f, chin, 0.008)

    # Nose: a bridge-to-tip capsule, a round tip and two alae.
    nl, nw, npj = s.nose_length, s.nose_width, s.nose_projection
    tip = np.array([0.0, lm.y_nose_tip, lm.z_face + 0.015 * npj])
    bridge = np.array([0.0, lm.y_eye + 0.003, lm.z_face - 0.009])
    f = smooth_min(f, _capsule(p, bridge, tip - np.array([0.0, -0.003, 0.004]), 0.0055 * nw), 0.005)
    f = smooth_min(
        f, _superquadric(p, tip, np.array([0.0095 * nw, 0.0085 * nl, 0.0095]), 2.0), 0.004
    )
    alae = _superquadric(
        pm,
        np.array([0.0115 * nw, lm.y_subnasale + 0.005, lm.z_face + 0.0005 * npj]),
        np.array([0.0075 * nw, 0.0068, 0.0085]),
        2.0,
    )
    f = smooth_min(f, alae, 0.004)

    # Lips: two horizontal lobes meeting in a crease at the mouth line.
    mw, lf = lm.mouth_half_width, s.lip_fullness
    upper = _superquadric(
        p,
        np.array([0.0, lm.y_mouth + 0.0045 * lf, lm.z_face + 0.0005]),
        np.array([mw * 0.95, 0.0055 * lf, 0.009 * lf]),
        2.2,
    )
    lower = _superquadric(
        p,
        np.array([0.0, lm.y_mouth - 0.0058 * lf, lm.z_face - 0.0005]),
        np.array([mw * 0.88, 0.0068 * lf, 0.0095 * lf]),
        2.2,
    )
    f = smooth_min(f, upper, 0.003)
    f = smooth_min(f, lower, 0.003)

    # Ears: flattened, slightly tilted ovals on each side.
    es = s.ear_size
    ear_c = np.array([0.077 * w, -0.012 * h, -0.014 * d])
    q = pm - ear_c
    tilt = 0.25  # radians, top leaning back
    qy = q[..., 1] * np.cos(tilt) + q[..., 2] * np.sin(tilt)
    qz = -q[..., 1] * np.sin(tilt) + q[..., 2] * np.cos(tilt)
    ear_q = np.stack([q[..., 0], qy, qz], axis=-1)
    ear = _superquadric(ear_q, np.zeros(3), np.array([0.011, 0.031 * es, 0.017 * es]), 2.2)
    f = smooth_min(f, ear, 0.004)
    concha = _superquadric(
        ear_q, np.array([0.012, -0.004 * es, 0.002]), np.array([0.006, 0.013 * es, 0.008 * es]), 2.0
    )
    f = -smooth_min(-f, concha, 0.002)

    # Eye sockets (subtracted) so the eyes sit under a brow, then the lids: a shell just
    # outside the eyeball that the lid margins of ``mesh`` cut open.
    sock = _superquadric(
        pm,
        np.array([lm.x_eye, lm.y_eye + 0.002, lm.z_eye + 0.006]),
        np.array([0.0180, 0.0130, 0.0085]) * np.array([s.eye_size, s.eye_size, 1.0]),
        2.0,
    )
    f = -smooth_min(-f, sock, 0.007)
    lid = _superquadric(
        pm, np.array([lm.x_eye, lm.y_eye, lm.z_eye]), np.full(3, lm.r_eye + 0.0016), 2.0
    )
    f = smooth_min(f, lid, 0.003)

    thick = THICKNESS[hair]
    if thick > 0.0:  # hair: the cranium grown by the hair's thickness, above the hairline
        cap = _superquadric(p, cranium_c, cranium_r + thick, 2.3)
        cap = np.maximum(cap, hairline_at(p, lm, hair) - 0.002 - y)
        f = smooth_min(f, cap, 0.0025)
    if hair is HairStyle.BUN:
        bun = _superquadric(
            p, np.array([0.0, 0.062 * h, -0.105 * d]), np.array([0.030, 0.028, 0.026]), 2.0
        )
        f = smooth_min(f, bun, 0.006)
    return f


def cast_rays(
    directions: np.ndarray, lm: Landmarks, hair: HairStyle = HairStyle.SHORT
) -> np.ndarray:
    """Distances ``[N]`` from the origin to the surface along unit ``directions [N, 3]``.

    Bisection brackets the crossing to about 0.3 mm, then regula falsi steps (the field is
    close to a distance, so nearly linear there) take it below a micrometre.
    """
    lo = np.full(len(directions), _RAY_MIN)
    hi = np.full(len(directions), _RAY_MAX)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        inside = head_field(directions * mid[:, None], lm, hair) < 0.0
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid)
    f_lo = head_field(directions * lo[:, None], lm, hair)
    f_hi = head_field(directions * hi[:, None], lm, hair)
    for _ in range(_FALSI_STEPS):
        t = lo - f_lo * (hi - lo) / np.where(f_hi - f_lo > 0, f_hi - f_lo, 1.0)
        t = np.clip(t, lo, hi)
        f_t = head_field(directions * t[:, None], lm, hair)
        inside = f_t < 0.0
        lo, f_lo = np.where(inside, t, lo), np.where(inside, f_t, f_lo)
        hi, f_hi = np.where(inside, hi, t), np.where(inside, f_hi, f_t)
    return lo - f_lo * (hi - lo) / np.where(f_hi - f_lo > 0, f_hi - f_lo, 1.0)


def sphere_directions(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Unit vectors for polar angle ``theta`` (from +y) and azimuth ``phi`` (from +z towards +x)."""
    st = np.sin(theta)
    return np.stack([st * np.sin(phi), np.cos(theta), st * np.cos(phi)], axis=-1)
