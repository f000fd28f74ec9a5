"""The interface every head model implements, its materials, and the head-pose deformer.

Head coordinates (FLAME's own, used by every head model): metres, right-handed, +y up, +z
forward out of the face (towards a camera in front), +x to the subject's LEFT, origin roughly at
the centre of the head.

Head angles follow ``services/motion/README.md``: ``R = Ry(yaw)·Rx(pitch)·Rz(roll)`` with
``headPitch > 0`` = chin down, ``headYaw > 0`` = turning to the subject's own left (the nose tip
moves towards +x), ``headRoll`` by the right-hand rule about the forward axis (+z).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol, runtime_checkable

import numpy as np

from dyad.rigs import Rig


class Material(IntEnum):
    """Per-face material labels (``face_labels``), so a renderer can colour by part."""

    SKIN = 0
    LIPS = 1
    SCLERA = 2
    IRIS = 3
    PUPIL = 4
    TEETH = 5
    MOUTH = 6  # the mouth interior (a dark cavity)
    BROW = 7
    HAIR = 8
    EYELID = 9  # skin coloured, separate so a renderer can shade lid margins
    TONGUE = 10
    NECK = 11  # skin coloured; below the jaw line
    CLOTH = 12  # clothing on the shoulders, collars
    METAL = 13  # glasses frames, earrings, a nose ring
    STUBBLE = 14  # a shadow of beard: the beard's colour blended into the skin
    BEARD = 15  # beard, moustache, goatee: their own colour ("a grey beard", brown hair)


@runtime_checkable
class HeadModel(Protocol):
    """A mesh posed by ``[T, C]`` clips of one rig (DESIGN §2)."""

    rig: Rig  # the rig whose [T, C] clips pose it
    faces: np.ndarray  # [F, 3] int32, counter-clockwise seen from outside (outward normals)
    face_labels: np.ndarray  # [F] int8 Material values

    def neutral(self) -> np.ndarray:
        """``[V, 3]`` float32: the rest pose (every channel zero)."""
        ...

    def pose(self, motion: np.ndarray) -> np.ndarray:
        """``[T, C]`` clip of ``rig`` → ``[T, V, 3]`` float32 posed vertices."""
        ...


def validated_clip(rig: Rig, motion: np.ndarray, *, field_name: str = "motion") -> np.ndarray:
    """``[T, C]`` float32, checked for rank, the rig's channel count and finiteness, then
    clamped into the rig's ranges (refined motion may overshoot a bound by a hair; rendering
    it clamped is better than refusing the clip)."""
    arr = rig.validate(motion, field_name=field_name, check_range=False)
    return rig.clip(arr)


def euler_yxz(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """``Ry(yaw)·Rx(pitch)·Rz(roll)`` for equally shaped angle arrays ``S`` → ``[*S, 3, 3]``."""
    cp, sp = np.cos(pitch), np.sin(pitch)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cr, sr = np.cos(roll), np.sin(roll)
    r = np.empty((*np.shape(pitch), 3, 3), dtype=np.result_type(pitch, np.float32))
    # Expanded product of the three elementary rotations.
    r[..., 0, 0] = cy * cr + sy * sp * sr
    r[..., 0, 1] = -cy * sr + sy * sp * cr
    r[..., 0, 2] = sy * cp
    r[..., 1, 0] = cp * sr
    r[..., 1, 1] = cp * cr
    r[..., 1, 2] = -sp
    r[..., 2, 0] = -sy * cr + cy * sp * sr
    r[..., 2, 1] = sy * sr + cy * sp * cr
    r[..., 2, 2] = cy * cp
    return r


def rotate_about_axis(
    points: np.ndarray, pivot: np.ndarray, axis: np.ndarray, angle: np.ndarray
) -> np.ndarray:
    """Rodrigues rotation of ``points [..., 3]`` about the line through ``pivot [3]`` along the
    unit ``axis [3]`` by ``angle`` radians (shaped like ``points[..., 0]``).

    Written out per component (``v cos θ + (k × v) sin θ + k (k·v)(1 − cos θ)``): numpy's
    matmul and cross are several times slower on ``[N, 3]`` arrays of this size.
    """
    k0, k1, k2 = (float(a) for a in axis)
    c = np.cos(angle).astype(points.dtype)
    s = np.sin(angle).astype(points.dtype)
    if sorted((abs(k0), abs(k1), abs(k2))) == [0.0, 0.0, 1.0]:  # a coordinate axis: 2-D turn
        i = int(np.argmax(np.abs([k0, k1, k2])))
        a, b = (i + 1) % 3, (i + 2) % 3  # right-handed: (a, b) turns from a towards b
        sign = 1.0 if (k0, k1, k2)[i] > 0 else -1.0
        u = points[..., a] - pivot[a]
        v = points[..., b] - pivot[b]
        out = points.copy()
        out[..., a] = u * c - sign * v * s + pivot[a]
        out[..., b] = sign * u * s + v * c + pivot[b]
        return out
    x = points[..., 0] - pivot[0]
    y = points[..., 1] - pivot[1]
    z = points[..., 2] - pivot[2]
    kdot = (k0 * x + k1 * y + k2 * z) * (1.0 - c)
    out = np.empty_like(points)
    out[..., 0] = x * c + (k1 * z - k2 * y) * s + k0 * kdot + pivot[0]
    out[..., 1] = y * c + (k2 * x - k0 * z) * s + k1 * kdot + pivot[1]
    out[..., 2] = z * c + (k0 * y - k1 * x) * s + k2 * kdot + pivot[2]
    return out


def apply_head_pose(
    vertices: np.ndarray, angles: np.ndarray, pivot: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Turn posed ``vertices [T, V, 3]`` by the head angles ``[T, 3]`` (pitch, yaw, roll).

    ``weights [V]`` in 0–1 say how much of the turn a vertex follows: 1 for the head, falling
    to 0 at the base of the neck. A vertex with weight ``w`` turns by the rotation whose Euler
    angles are ``w`` times the head's (so a neck twists smoothly instead of the shrinking that
    blending matrices gives). Rotation is about ``pivot`` (the top of the neck).
    """
    w = np.asarray(weights, dtype=np.float32)
    still = np.flatnonzero(w <= 1e-6)
    part = np.flatnonzero((w > 1e-6) & (w < 1.0 - 1e-6))
    pitch, yaw, roll = (angles[:, i].astype(np.float32) for i in range(3))
    rot = euler_yxz(pitch, yaw, roll)  # [T, 3, 3]
    out = _rotate_frames(vertices, rot, pivot)  # rigid for everyone first
    if still.size:
        out[:, still] = vertices[:, still]
    if part.size:
        wp = w[part][None, :]  # [1, P]
        rot_p = euler_yxz(pitch[:, None] * wp, yaw[:, None] * wp, roll[:, None] * wp)
        rel = vertices[:, part] - pivot
        out[:, part] = np.einsum("tpij,tpj->tpi", rot_p, rel) + pivot
    return out


def _rotate_frames(vertices: np.ndarray, rot: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """``vertices [T, V, 3]`` turned by ``rot [T, 3, 3]`` about ``pivot``, per component
    (a batched ``matmul`` with 3×3 matrices is far slower in numpy)."""
    comps = [vertices[..., j] - pivot[j] for j in range(3)]  # 3 × [T, V]
    r = rot[:, None, :, :].astype(vertices.dtype)  # [T, 1, 3, 3] broadcasts over vertices
    out = np.empty_like(vertices)
    acc = np.empty_like(comps[0])
    tmp = np.empty_like(comps[0])
    for i in range(3):
        np.multiply(comps[0], r[..., i, 0], out=acc)
        for j in (1, 2):
            np.multiply(comps[j], r[..., i, j], out=tmp)
            acc += tmp
        acc += pivot[i]
        out[..., i] = acc
    return out
