"""Accessories for the human bust: glasses, earrings and a nose ring, as thin metal tubes.

Every accessory is built from small triangles (tubes of ``TUBE_SIDES`` sides with segments of
about ``SEGMENT`` metres, small spheres) because each triangle becomes one flat Gaussian: thin
geometry made of big triangles would smear. All new faces are meant to be labelled
``Material.METAL``; they are wound counter-clockwise seen from outside (outward normals).

Head coordinates throughout: metres, +y up, +z out of the face, +x the subject's left, origin
at eye height midway between the front and back of the skull. Landmarks on hm08
(``HumanHead.neutral()``): eyeballs centred at (±0.031, 0, 0.061), radius ≈ 0.014, their
fronts (the pupils) at z ≈ 0.075; the nose at eye height z ≈ 0.087, its tip z ≈ 0.104 at
y ≈ −0.035; the alae (nostril rims) at about (±0.015, −0.042, 0.090); the ears' lobes (their
lowest vertices) at about (±0.073, −0.046, −0.007); above the ears (y ≈ 0.02) the side of the
head is at |x| ≈ 0.073.

Posing contract (the same as ``hair``'s): new vertex ``k`` follows bust vertex ``skin[k]``.
Each accessory hangs off a single skin vertex (glasses: the top of the nose; an earring: its
lobe; the nose ring: its ala), so under the head turn (``head_weights[skin]``) every accessory
turns rigidly, and under the face units it translates with its anchor.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from dyad.errors import InvalidInput

from ..model import Material
from .tubes import (
    CLEARANCE,
    Mesh,
    Surface,
    cleared_rigid,
    cleared_tube,
    join,
    resample,
    ring,
    smooth,
    sphere,
    tube,
)

#: The accessories ``accessories`` knows.
ITEMS = frozenset({"glasses", "earrings", "nose_ring"})

# Glasses.
_RIM_TUBE = 0.0012
_TEMPLE_TUBE = 0.0011
_RIM_AHEAD = 0.018  # the rims' plane: this far in front of the eyeballs' fronts
_WRAP = 0.15  # the rims' outer halves lean back by this times their distance from the eye
_TEMPLE_Y = 0.009  # the temples run back over the tops of the ears at this height
_TEMPLE_END_Z = -0.032  # behind the ears' backs …
_HOOK_END = (-0.018, -0.044)  # … then hook down behind the ear to this (y, z)
# Earrings.
_HOOP_RADIUS = 0.006
_HOOP_TUBE = 0.0008
_STUD_RADIUS = 0.0022
#: Ear vertices: within the box below, |x| beyond this fraction of the widest (the ear's rim),
#: so the lobe is the lowest vertex that stands out from the head rather than where it joins.
_EAR_X = 0.84
_EAR_BOX = ((-0.07, 0.04), (-0.06, 0.015))  # (y range, z range)
# Nose ring.
_NOSE_RING_RADIUS = 0.004
_NOSE_RING_TUBE = 0.0007
_ALA = np.array([0.0145, -0.0420, 0.0905])  # the left ala's outer rim (mirror for the right)

#: Outer-surface labels: what the accessories must stay outside of.
_EYE_LABELS = (Material.SCLERA, Material.IRIS, Material.PUPIL)


class UnknownAccessory(InvalidInput, ValueError):
    """An item that ``accessories`` does not know (a ``ValueError`` too)."""


def eye_centres(
    vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray
) -> dict[str, tuple[np.ndarray, float, np.ndarray]]:
    """Per side (``"l"`` at +x, ``"r"``): the eyeball's centre ``[3]`` and radius (a
    least-squares sphere through its SCLERA/IRIS/PUPIL vertices) and the pupil's centre
    ``[3]`` (the mean of its PUPIL vertices)."""
    v = np.asarray(vertices, dtype=np.float64)
    eye_v = np.unique(faces[np.isin(labels, [int(m) for m in _EYE_LABELS])])
    pupil_v = np.unique(faces[labels == Material.PUPIL])
    out = {}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        p = v[eye_v[sign * v[eye_v, 0] > 0.0]]
        if len(p) < 4:
            raise InvalidInput("labels", f"no eyeball found on side {side!r}")
        a = np.concatenate([2.0 * p, np.ones((len(p), 1))], axis=1)
        sol = np.linalg.lstsq(a, np.einsum("ij,ij->i", p, p), rcond=None)[0]
        centre = sol[:3]
        radius = float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))
        pup = v[pupil_v[sign * v[pupil_v, 0] > 0.0]]
        pupil = pup.mean(axis=0) if len(pup) else centre + np.array([0.0, 0.0, radius])
        out[side] = (centre, radius, pupil)
    return out


def _glasses(v: np.ndarray, surface: Surface, eyes: dict, rng: np.random.Generator) -> Mesh:
    """Two rims, a bridge over the nose and two temples back over the ears."""
    round_rims = bool(rng.integers(2))
    if round_rims:
        a = b = rng.uniform(0.0205, 0.0225)
        power = 2.0
    else:
        a, b = rng.uniform(0.025, 0.027), rng.uniform(0.0175, 0.0195)
        power = 5.0
    front = max(eyes["l"][2][2], eyes["r"][2][2])  # the pupils' z
    z0 = front + _RIM_AHEAD
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    hinge, inner = {}, {}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        cx, cy = eyes[side][0][0], eyes[side][0][1] + 0.001
        t = np.linspace(0.0, 2.0 * np.pi, 256, endpoint=False)
        ct, st = np.cos(t), np.sin(t)
        x = cx + a * np.sign(ct) * np.abs(ct) ** (2.0 / power)
        y = cy + b * np.sign(st) * np.abs(st) ** (2.0 / power)
        z = z0 - _WRAP * np.maximum(0.0, sign * (x - cx))
        rim = resample(np.stack([x, y, z], axis=1), closed=True)
        pieces.append(cleared_tube(rim, _RIM_TUBE, True, surface))
        hinge[side] = np.array([cx + sign * a, cy + 0.45 * b, z0 - _WRAP * a])
        inner[side] = np.array([cx - sign * a * (0.93 if round_rims else 0.99), cy + 0.4 * b, z0])
    # Bridge: an arch from one rim's inner edge to the other's, over the nose.
    xs = np.linspace(inner["r"][0], inner["l"][0], 9)
    u = xs / inner["l"][0]
    bridge = np.stack(
        [xs, inner["l"][1] + 0.003 * (1.0 - u * u), z0 + 0.002 * (1.0 - u * u)], axis=1
    )
    pieces.append(cleared_tube(resample(bridge, closed=False), _RIM_TUBE, False, surface))
    # Temples: from the hinge back above the ear, then hooking down behind it. The side of
    # the head is followed by pushing each point out (in x) past the skin near it.
    side_pts = surface.points
    for side, sign in (("l", 1.0), ("r", -1.0)):
        h = hinge[side]
        zs = np.linspace(h[2] - 0.006, _TEMPLE_END_Z, 40)
        ys = h[1] + (_TEMPLE_Y - h[1]) * np.clip((h[2] - zs) / 0.04, 0.0, 1.0)
        hook_t = np.linspace(0.0, 1.0, 8)[1:]
        hz = _TEMPLE_END_Z + (_HOOK_END[1] - _TEMPLE_END_Z) * np.sin(hook_t * np.pi / 2)
        hy = _TEMPLE_Y + (_HOOK_END[0] - _TEMPLE_Y) * (1.0 - np.cos(hook_t * np.pi / 2))
        yz = np.concatenate([np.stack([ys, zs], 1), np.stack([hy, hz], 1)])
        x_need = np.empty(len(yz))
        near_side = side_pts[sign * side_pts[:, 0] > 0.02]
        tree = cKDTree(near_side[:, 1:])
        for i, q in enumerate(yz):
            hits = tree.query_ball_point(q, 0.006)
            x_need[i] = np.abs(near_side[hits, 0]).max() if hits else 0.0
        x_need += _TEMPLE_TUBE + CLEARANCE + 0.0015
        x = np.maximum(x_need, abs(h[0]) + 0.003)
        for _ in range(3):  # smooth the bumps, never back into the skin
            x = np.maximum(smooth(x[:, None], False, 4)[:, 0], x_need)
        path = np.concatenate([h[None], np.stack([sign * x, yz[:, 0], yz[:, 1]], axis=1)])
        path = resample(smooth(path, False, 2), closed=False)
        pieces.append(cleared_tube(path, _TEMPLE_TUBE, False, surface))
    # Everything follows the top of the nose between the eyes (a rigid part of the head).
    nasion = surface.vertex(np.array([0.0, 0.0, eyes["l"][0][2] + 0.03]))
    return join(pieces, nasion)


def ear_lobes(vertices: np.ndarray, surface: Surface | None = None, **kw) -> dict[str, int]:
    """Per side, the bust index of the ear's lowest skin vertex (its lobe)."""
    if surface is None:
        surface = Surface(vertices, kw["faces"], kw["labels"])
    p = surface.points
    (y0, y1), (z0, z1) = _EAR_BOX
    box = (p[:, 1] > y0) & (p[:, 1] < y1) & (p[:, 2] > z0) & (p[:, 2] < z1)
    out = {}
    for side, sign in (("l", 1.0), ("r", -1.0)):
        cand = np.flatnonzero(box & (sign * p[:, 0] > 0.0))
        ear = cand[sign * p[cand, 0] > _EAR_X * np.abs(p[cand, 0]).max()]
        if len(ear) == 0:
            raise InvalidInput("vertices", f"no ear found on side {side!r}")
        out[side] = int(surface.index[ear[np.argmin(p[ear, 1])]])
    return out


def _earrings(v: np.ndarray, surface: Surface, rng: np.random.Generator) -> list[Mesh]:
    hoop = bool(rng.integers(2))
    meshes = []
    for side, lobe in ear_lobes(v, surface).items():
        sign = 1.0 if side == "l" else -1.0
        p = v[lobe]
        out = np.array([sign, 0.0, 0.0])
        if hoop:
            # Hangs from the lobe in a plane of the vertical and a lateral direction turned
            # a little towards the face, so both the front and 3/4 views see it open.
            lateral = np.array([sign * np.cos(0.5), 0.0, np.sin(0.5)])
            top = p + np.array([0.0, -(_HOOP_TUBE + 0.0003), 0.0])
            centre = top + np.array([0.0, -_HOOP_RADIUS, 0.0]) + 0.3 * _HOOP_RADIUS * out
            line = ring(centre, _HOOP_RADIUS, lateral, np.array([0.0, 1.0, 0.0]))
            pv, pf = tube(line, _HOOP_TUBE, True)
        else:
            # A stud on the outside of the lobe's bottom.
            centre = p + np.array([0.0, -0.0015, 0.0]) + out * (_STUD_RADIUS * 0.6 + CLEARANCE)
            pv, pf = sphere(centre, _STUD_RADIUS, np.array([1.0, 1.0, 1.0]))
            pv = pv * np.array([0.6, 1.0, 1.0]) + centre * np.array([0.4, 0.0, 0.0])
        pv = cleared_rigid(pv, out, surface)
        meshes.append((pv, pf, np.full(len(pv), lobe, dtype=np.int64)))
    return meshes


def _nose_ring(v: np.ndarray, surface: Surface, rng: np.random.Generator) -> Mesh:
    sign = 1.0 if rng.integers(2) else -1.0
    ala = surface.vertex(_ALA * np.array([sign, 1.0, 1.0]))
    k = surface.nearest(v[ala][None])[0]
    n = surface.normals[k]
    down = np.array([0.0, -1.0, 0.0])
    d = down - n * (down @ n)
    d /= np.linalg.norm(d)
    # The ring hangs off the nostril's rim: its top against the ala, most of it below.
    centre = v[ala] + d * 0.7 * _NOSE_RING_RADIUS + n * (0.4 * _NOSE_RING_RADIUS)
    line = ring(centre, _NOSE_RING_RADIUS, n, d)
    pv, pf = tube(line, _NOSE_RING_TUBE, True)
    pv = cleared_rigid(pv, n, surface)
    return pv, pf, np.full(len(pv), ala, dtype=np.int64)


def accessories(
    vertices: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    items: frozenset[str] | set[str] | tuple[str, ...],
    seed: int = 0,
    *,
    offset: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Accessories for the bust ``vertices [V, 3]`` (head coordinates, metres, the neutral
    pose) / ``faces [F, 3]`` / ``labels [F]`` (``Material``; faces indexing past ``V``, such
    as hair appended after the bust, are ignored).

    ``items``: any of ``ITEMS`` (``glasses``, ``earrings``, ``nose_ring``); anything else
    raises ``UnknownAccessory`` (an ``InvalidInput`` and a ``ValueError``). ``seed`` picks
    the variants (round or rounded-rectangle rims, hoops or studs, which nostril); the same
    seed gives the same accessories.

    Returns ``(new_vertices [H, 3] float32, new_faces [G, 3] int32, skin [H] int64,
    new_labels [G] int8)``: ``new_faces`` index the concatenation of whatever comes before
    (``offset`` vertices, by default ``V``) and ``new_vertices``, counter-clockwise seen
    from outside; every label is ``Material.METAL``. ``skin[k]`` is the bust vertex new vertex
    ``k`` follows: pose it as ``new_vertices[k] + posed[skin[k]] − neutral[skin[k]]``, then
    turn it with the head by ``head_weights[skin[k]]`` (see the module docstring).
    """
    wanted = frozenset(items)
    unknown = sorted(wanted - ITEMS)
    if unknown:
        raise UnknownAccessory("items", f"unknown accessories {unknown}; known: {sorted(ITEMS)}")
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels)
    keep = np.all(f < len(v), axis=1)
    f, lab = f[keep], lab[keep]
    base = len(v) if offset is None else int(offset)
    meshes: list[Mesh] = []
    if wanted:
        surface = Surface(v, f, lab)
        # One generator per item, so adding an item does not change the others.
        if "glasses" in wanted:
            eyes = eye_centres(v, f, lab)
            meshes.append(_glasses(v, surface, eyes, np.random.default_rng([seed, 1])))
        if "earrings" in wanted:
            meshes.extend(_earrings(v, surface, np.random.default_rng([seed, 2])))
        if "nose_ring" in wanted:
            meshes.append(_nose_ring(v, surface, np.random.default_rng([seed, 3])))
    if not meshes:
        return (
            np.zeros((0, 3), dtype=np.float32),
            np.zeros((0, 3), dtype=np.int32),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int8),
        )
    verts, fs, skins, count = [], [], [], base
    for mv, mf, ms in meshes:
        verts.append(mv)
        fs.append(mf + count)
        skins.append(ms)
        count += len(mv)
    new_f = np.concatenate(fs).astype(np.int32)
    return (
        np.concatenate(verts).astype(np.float32),
        new_f,
        np.concatenate(skins).astype(np.int64),
        np.full(len(new_f), Material.METAL, dtype=np.int8),
    )
