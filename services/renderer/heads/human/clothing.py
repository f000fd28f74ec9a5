"""Clothing for the human bust: shoulders and chest relabelled CLOTH, plus shells, collars and
a hood.

``dress`` relabels the SKIN/NECK triangles below a neckline as ``Material.CLOTH`` and, by kind,
adds a shell offset outward from them (like ``hair.hair_shell``), a raised collar band at the
base of the neck and lapel ridges (jackets), or a bunched hood (hoodie). Only triangles whose
every corner has head-turn weight below ``_STILL`` are ever relabelled or shelled, and every new
vertex follows such a skin vertex, so clothing never twists with the head (the shoulders do not
move with the head turn; the neck does).

Head coordinates (metres, +y up, +z out of the face, +x the subject's left). On hm08 the
head-turn weight reaches 0 at y ≈ −0.17 under the chin, ≈ −0.14 at the sides of the neck and
≈ −0.07 at its back (the falloff follows the tilted jaw-line plane); the bust ends at
y ≈ −0.26.

Posing contract: as ``hair_shell`` — new vertex ``k`` follows bust vertex ``skin[k]``.
"""

from __future__ import annotations

import numpy as np

from ..model import Material
from .facial_hair import offset_shell, smoothed_normals
from .shells import distance_to, edges_of, smoothstep

KINDS = ("shirt", "jacket", "blazer", "hoodie", "cardigan", "dress")

#: Faces relabelled / shelled only where every corner's head-turn weight is below this.
_STILL = 0.01
#: Shell thickness (metres) by kind (0: labels only).
THICKNESS = {
    "shirt": 0.002,
    "jacket": 0.008,
    "blazer": 0.008,
    "hoodie": 0.012,
    "cardigan": 0.006,
    "dress": 0.0,
}
# The neckline: a height around the neck (angle θ about the neck's axis, 0 = front), from
# ``_LINE_FRONT`` under the chin to ``_LINE_BACK`` at the nape; V and scoop necklines drop
# further in front.
_NECK_AXIS_Z = -0.01
_LINE_FRONT = -0.172
_LINE_BACK = -0.105
#: (depth below the crew line at the centre, half width) of the front opening by neckline.
_OPENING = {
    "crew": (0.0, 0.05),
    "open": (0.035, 0.045),
    "v": (0.07, 0.085),
    "scoop": (0.055, 0.095),
}
_NECKLINE = {
    "jacket": "v",
    "blazer": "v",
    "hoodie": "crew",
    "cardigan": "v",
    "dress": "scoop",
}
# Collar band (jackets): height above the shell's neck edge at the back, tapering to none at
# the front; its outward stand-off.
_COLLAR_HEIGHT = {"jacket": 0.022, "blazer": 0.022, "cardigan": 0.012}
_COLLAR_OUT = 0.004
# Lapels: extra thickness along the front opening (metres) and how far it reaches.
_LAPEL = {"jacket": 0.006, "blazer": 0.007, "cardigan": 0.003}
_LAPEL_WIDTH = 0.025
# Hood: tube radius (metres) and its extent around the neck (radians from the back).
_HOOD_RADIUS = 0.022
_HOOD_EXTENT = 1.9
_HOOD_SEGMENTS = (40, 12)
# hm08's origin in MakeHuman decimetres, and the head-turn falloff (``model.py``) for the
# fallback weights when the caller does not pass ``head_weights``.
_BASE_ORIGIN_DM = np.array([0.0, 7.28415, 0.64455])
_NECK_LO, _NECK_HI = -0.45, 0.1

_CLOTHABLE = (Material.SKIN, Material.NECK)


def _fallback_weights(v: np.ndarray) -> np.ndarray:
    p = v * 10.0 + _BASE_ORIGIN_DM
    line = p[:, 1] - 6.0 + 0.625 * (p[:, 2] - 1.0)
    return smoothstep((line - _NECK_LO) / (_NECK_HI - _NECK_LO))


def neckline_of(kind: str, seed: int = 0) -> str:
    """The neckline ``dress`` gives ``kind`` with ``seed`` (shirts: crew or open)."""
    if kind not in KINDS:
        raise ValueError(f"unknown clothing kind {kind!r}; expected one of {KINDS}")
    rng = np.random.default_rng(seed)
    return _NECKLINE.get(kind) or ("crew" if rng.integers(2) == 0 else "open")


def clothable(labels: np.ndarray) -> np.ndarray:
    """``[F]`` bool: faces ``dress`` may turn to cloth (skin or neck)."""
    return np.isin(np.asarray(labels), [int(m) for m in _CLOTHABLE])


def still_threshold(lo: float, hi: float) -> float:
    """Where a head-turn falloff ``smoothstep((c − lo) / (hi − lo))`` of a coordinate ``c``
    reaches ``_STILL``: below that ``c`` a vertex is still enough to be clothed."""
    a, b = 0.0, 1.0  # smoothstep(t) = t²(3 − 2t) = _STILL, by bisection
    for _ in range(50):
        t = 0.5 * (a + b)
        a, b = (a, t) if t * t * (3.0 - 2.0 * t) > _STILL else (t, b)
    return lo + 0.5 * (a + b) * (hi - lo)


def cloth_level(vertices_m: np.ndarray, still_level: np.ndarray, neckline: str) -> np.ndarray:
    """``[V]`` negative where the clothes cover a vertex: below the ``neckline`` and still
    under the head turn (``still_level [V]``, metres, negative where the turn's weight is
    under ``_STILL``), the larger of the two. Both vary smoothly over the mesh, so ``cut``
    cutting the faces it crosses along its zero gives a smooth line."""
    v = np.asarray(vertices_m, np.float64)
    below = v[:, 1] - neckline_height(v, neckline)
    return np.maximum(below, np.asarray(still_level, np.float64))


def neckline_height(points: np.ndarray, neckline: str) -> np.ndarray:
    """The neckline's height (y, metres) above/below each of ``points [..., 3]``."""
    x, z = points[..., 0], points[..., 2] - _NECK_AXIS_Z
    front = 0.5 * (1.0 + z / np.maximum(np.hypot(x, z), 1e-9))  # 1 front … 0 back
    y = _LINE_BACK + (_LINE_FRONT - _LINE_BACK) * front
    depth, half = _OPENING[neckline]
    t = np.clip(1.0 - np.abs(x) / half, 0.0, 1.0)
    shape = t if neckline in ("v", "open") else np.sqrt(t * (2.0 - t))
    return y - depth * shape * smoothstep((z - 0.0) / 0.02)


def _outward(pts: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """``faces`` flipped where their normal points towards ``centre`` (per face)."""
    tri = pts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    away = tri.mean(axis=1) - centre
    away[:, 1] = 0.0
    flip = np.einsum("ij,ij->i", fn, away) < 0.0
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def dress(
    vertices_m: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    kind: str,
    seed: int = 0,
    *,
    head_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Clothe the bust ``vertices_m [V, 3]`` (neutral pose) / ``faces [F, 3]`` / ``labels [F]``.

    Returns ``(labels_out [F] int8, new_vertices [H, 3] float32, new_faces [G, 3] int32
    (indexing vertices_m ⊕ new_vertices, outward), skin [H] int64, new_labels [G] int8 (all
    CLOTH))``. ``head_weights [V]``: ``HumanHead.head_weights`` (computed from hm08's
    neck-line plane when omitted). ``seed`` picks the shirt's neckline (crew or open) and the
    hood's bunching; the same seed gives the same clothes. Unknown kinds raise ``ValueError``.
    """
    neckline = neckline_of(kind, seed)
    v = np.asarray(vertices_m, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels).astype(np.int8)
    n_v = len(v)
    w = _fallback_weights(v) if head_weights is None else np.asarray(head_weights, np.float64)
    rng = np.random.default_rng(seed)
    if kind not in _NECKLINE:
        rng.integers(2)  # the draw ``neckline_of`` made: the hood's bunching comes after it

    below = v[:, 1] < neckline_height(v, neckline)
    can_be = clothable(lab)
    cloth = can_be & np.all((w < _STILL)[f] & below[f], axis=1)
    labels_out = lab.copy()
    labels_out[cloth] = Material.CLOTH

    empty_v = np.zeros((0, 3), dtype=np.float32)
    empty_f = np.zeros((0, 3), dtype=np.int32)
    thick_full = THICKNESS[kind]
    if thick_full == 0.0 or not cloth.any():
        return labels_out, empty_v, empty_f, np.zeros(0, np.int64), np.zeros(0, np.int8)

    skin_faces = f[can_be]
    normals = smoothed_normals(v, skin_faces)
    region = f[cloth]
    edges = edges_of(region)
    in_region = np.zeros(n_v, dtype=bool)
    in_region[region.ravel()] = True
    # The neck edge: region vertices with a clothable neighbour above the neckline.
    all_edges = edges_of(skin_faces)
    outside = ~in_region
    nb_out = np.zeros(n_v, dtype=bool)
    np.logical_or.at(nb_out, all_edges[:, 0], outside[all_edges[:, 1]])
    np.logical_or.at(nb_out, all_edges[:, 1], outside[all_edges[:, 0]])
    neck_edge = in_region & nb_out & (v[:, 1] > -0.24) & (np.abs(v[:, 0]) < 0.12)
    d_neck = distance_to(neck_edge, v, edges)
    thickness = thick_full * (0.6 + 0.4 * smoothstep(d_neck / 0.02))
    lapel = _LAPEL.get(kind, 0.0)
    if lapel:
        # A ridge along the front opening: the neck edge in front of the neck's axis.
        opening = neck_edge & (v[:, 2] > 0.0) & (v[:, 1] < _LINE_FRONT + 0.005)
        d_open = distance_to(opening, v, edges)
        thickness += lapel * smoothstep(1.0 - d_open / _LAPEL_WIDTH)
    shell, shell_faces, used, _ = offset_shell(
        v, region, normals, thickness, relax=3 if thick_full > 0.003 else 0
    )
    local = np.full(n_v, -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    new_vertices, skin_of, new_faces = [shell], [used], [shell_faces]
    count = len(shell)

    centre = np.array([0.0, 0.0, _NECK_AXIS_Z])
    ring = np.flatnonzero(neck_edge)
    if kind in _COLLAR_HEIGHT and len(ring):
        # The band: one row at the shell's neck edge, one raised and stood off outward; only
        # behind the lapels (the back and sides of the neck).
        height = _COLLAR_HEIGHT[kind]
        back = ring[v[ring, 2] < 0.02]
        if len(back) >= 2:
            theta = np.arctan2(v[back, 0], -(v[back, 2] - _NECK_AXIS_Z))
            back = back[np.argsort(theta)]
            theta = np.sort(theta)
            h = height * smoothstep((1.9 - np.abs(theta)) / 0.8)
            radial = v[back] - centre
            radial[:, 1] = 0.0
            radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
            low = shell[local[back]]
            high = low + radial * _COLLAR_OUT
            high[:, 1] += h
            pts = np.concatenate([low, high])
            n = len(back)
            i = np.arange(n - 1)
            band = np.concatenate(
                [np.stack([i, i + 1, n + i + 1], 1), np.stack([i, n + i + 1, n + i], 1)]
            )
            new_faces.append(_outward(pts, band, centre) + n_v + count)
            new_vertices.append(pts)
            skin_of.append(np.concatenate([back, back]))
            count += len(pts)
    if kind == "hoodie" and len(ring):
        # A bunched tube around the back and sides of the neck, resting on the shell.
        theta_r = np.arctan2(v[ring, 0], -(v[ring, 2] - _NECK_AXIS_Z))  # 0 = back
        n_u, n_t = _HOOD_SEGMENTS
        u = np.linspace(-_HOOD_EXTENT, _HOOD_EXTENT, n_u)
        nearest = ring[np.argmin(np.abs(theta_r[None, :] - u[:, None]), axis=1)]  # [U]
        base = shell[local[nearest]]
        radial = np.stack([np.sin(u), np.zeros_like(u), -np.cos(u)], axis=1)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=2)
        bunch = 1.0 + 0.18 * np.sin(5.0 * u + phase[0]) + 0.08 * np.sin(11.0 * u + phase[1])
        r = _HOOD_RADIUS * bunch * (0.55 + 0.45 * np.cos(0.5 * np.pi * u / _HOOD_EXTENT))
        tube_c = base + radial * (r[:, None] + 0.003)
        tube_c[:, 1] += 0.6 * r
        t = np.linspace(0.0, 2.0 * np.pi, n_t, endpoint=False)
        pts = (
            tube_c[:, None, :]
            + r[:, None, None]
            * (
                np.cos(t)[None, :, None] * radial[:, None, :]
                + np.sin(t)[None, :, None] * np.array([0.0, 1.0, 0.0])
            )
        ).reshape(-1, 3)
        ij = np.array(
            [
                (
                    a * n_t + b,
                    (a + 1) * n_t + b,
                    (a + 1) * n_t + (b + 1) % n_t,
                    a * n_t + (b + 1) % n_t,
                )
                for a in range(n_u - 1)
                for b in range(n_t)
            ]
        )
        quads = np.concatenate([ij[:, [0, 1, 2]], ij[:, [0, 2, 3]]])
        # Outward from the tube's own centre line.
        tri = pts[quads]
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        axis_pt = np.repeat(tube_c, n_t, axis=0)[quads[:, 0]]
        flip = np.einsum("ij,ij->i", fn, tri.mean(axis=1) - axis_pt) < 0.0
        quads[flip] = quads[flip][:, ::-1]
        new_faces.append(quads + n_v + count)
        new_vertices.append(pts)
        skin_of.append(np.repeat(nearest, n_t))
        count += len(pts)

    nf = np.concatenate(new_faces).astype(np.int32)
    return (
        labels_out,
        np.concatenate(new_vertices).astype(np.float32),
        nf,
        np.concatenate(skin_of).astype(np.int64),
        np.full(len(nf), Material.CLOTH, dtype=np.int8),
    )
