"""Accessories for the human bust: glasses, earrings and a nose ring, as thin metal tubes.

Every accessory is built from small triangles (tubes of ``TUBE_SIDES`` sides with segments of
about ``_SEGMENT`` metres, small spheres) because each triangle becomes one flat Gaussian: thin
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

#: The accessories ``accessories`` knows.
ITEMS = frozenset({"glasses", "earrings", "nose_ring"})
#: Sides of every tube (a polygon cross-section).
TUBE_SIDES = 8
#: Target length of a tube segment (metres).
_SEGMENT = 0.004
#: Every accessory vertex stays at least this far outside the skin (metres, along the normal
#: of the nearest skin vertex).
CLEARANCE = 0.0012

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
_SURFACE_LABELS = (Material.SKIN, Material.NECK, Material.LIPS, Material.EYELID, Material.BROW)
_EYE_LABELS = (Material.SCLERA, Material.IRIS, Material.PUPIL)

_Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # (vertices, local faces, skin per vertex)


class UnknownAccessory(InvalidInput, ValueError):
    """An item that ``accessories`` does not know (a ``ValueError`` too)."""


class _Surface:
    """The bust's outer skin: vertex positions, smoothed unit normals, a KD-tree."""

    def __init__(self, v: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> None:
        f = faces[np.isin(labels, [int(m) for m in _SURFACE_LABELS])]
        self.index = np.unique(f)  # [S] bust vertex indices
        tri = v[f]
        fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        vn = np.zeros_like(v)
        for k in range(3):
            np.add.at(vn, f[:, k], fn)
        # Smooth over edge neighbours so thin features (lashes, lobes) get sensible normals.
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        for _ in range(2):
            vn = vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-20)
            acc = vn.copy()
            np.add.at(acc, e[:, 0], vn[e[:, 1]])
            np.add.at(acc, e[:, 1], vn[e[:, 0]])
            vn = acc
        vn /= np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-20)
        self.points = v[self.index]
        self.normals = vn[self.index]
        self.tree = cKDTree(self.points)

    def nearest(self, p: np.ndarray) -> np.ndarray:
        """``[N]`` positions in ``index``/``points`` of the nearest skin vertex to ``p [N, 3]``."""
        return np.asarray(self.tree.query(p)[1], dtype=np.int64)

    def outward(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(distance [N], normal [N, 3])``: how far ``p`` lies outside its nearest skin
        vertex along that vertex's normal (negative: inside), and the normal."""
        k = self.nearest(p)
        n = self.normals[k]
        return np.einsum("ij,ij->i", p - self.points[k], n), n

    def vertex(self, target: np.ndarray) -> int:
        """The bust index of the skin vertex nearest ``target [3]``."""
        return int(self.index[self.nearest(np.asarray(target)[None])[0]])


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


def _frames(points: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rotation-minimising ``(normal [N, 3], binormal [N, 3])`` along a polyline."""
    if closed:
        t = np.roll(points, -1, axis=0) - np.roll(points, 1, axis=0)
    else:
        t = np.gradient(points, axis=0)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-20)
    ref = np.array([0.0, 1.0, 0.0]) if abs(t[0, 1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    n = np.empty_like(points)
    n[0] = ref - t[0] * (ref @ t[0])
    n[0] /= np.linalg.norm(n[0])
    for i in range(1, len(points)):  # parallel transport: drop the new tangent's component
        m = n[i - 1] - t[i] * (n[i - 1] @ t[i])
        norm = np.linalg.norm(m)
        n[i] = m / norm if norm > 1e-12 else n[i - 1]
    return n, np.cross(t, n)


def _orient(verts: np.ndarray, faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip the faces whose normal points towards their ``inside [G, 3]`` reference point."""
    tri = verts[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", fn, tri.mean(axis=1) - inside) < 0.0
    out = faces.copy()
    out[flip] = out[flip][:, ::-1]
    return out


def _tube(centre: np.ndarray, radius: float, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """A tube of ``TUBE_SIDES`` sides along the polyline ``centre [N, 3]``: ``(vertices,
    faces)`` (local indices, outward); an open tube gets a flat fan cap at each end."""
    n_pts, s = len(centre), TUBE_SIDES
    nrm, bin_ = _frames(centre, closed)
    ang = np.linspace(0.0, 2.0 * np.pi, s, endpoint=False)
    ring = np.cos(ang)[None, :, None] * nrm[:, None] + np.sin(ang)[None, :, None] * bin_[:, None]
    verts = (centre[:, None] + radius * ring).reshape(-1, 3)  # [N·S, 3]
    idx = np.arange(n_pts * s).reshape(n_pts, s)
    rows = n_pts if closed else n_pts - 1
    a = idx[np.arange(rows)]
    b = idx[(np.arange(rows) + 1) % n_pts]
    a1, b1 = np.roll(a, -1, axis=1), np.roll(b, -1, axis=1)
    faces = np.concatenate(
        [np.stack([a, b, b1], -1).reshape(-1, 3), np.stack([a, b1, a1], -1).reshape(-1, 3)]
    )
    mid = 0.5 * (centre[np.arange(rows)] + centre[(np.arange(rows) + 1) % n_pts])  # [rows, 3]
    inside = np.concatenate([np.repeat(mid, s, axis=0)] * 2)
    if not closed:
        caps: list[np.ndarray] = []
        cap_in: list[np.ndarray] = []
        for end, step in ((0, 1), (n_pts - 1, -1)):
            c_idx = len(verts) + len(caps) // s
            ring_i = idx[end]
            caps.extend(np.stack([np.full(s, c_idx), ring_i, np.roll(ring_i, -1)], -1))
            cap_in.extend([centre[end + step]] * s)
        verts = np.concatenate([verts, centre[[0, -1]]])
        faces = np.concatenate([faces, np.asarray(caps)])
        inside = np.concatenate([inside, np.asarray(cap_in)])
    return verts, _orient(verts, faces, inside)


def _sphere(centre: np.ndarray, radius: float, squash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A small UV sphere (8 around, 5 rings) scaled by ``squash [3]``: ``(vertices, faces)``."""
    n_a, n_r = 8, 5
    pol = np.linspace(0.0, np.pi, n_r + 2)[1:-1]
    az = np.linspace(0.0, 2.0 * np.pi, n_a, endpoint=False)
    pp, aa = np.meshgrid(pol, az, indexing="ij")
    unit = np.stack([np.sin(pp) * np.cos(aa), np.cos(pp), np.sin(pp) * np.sin(aa)], -1)
    unit = np.concatenate([[[0.0, 1.0, 0.0]], unit.reshape(-1, 3), [[0.0, -1.0, 0.0]]])
    verts = centre + radius * unit * squash
    ring = lambda r, a: 1 + r * n_a + a % n_a  # noqa: E731
    faces = []
    for a in range(n_a):
        faces.append((0, ring(0, a), ring(0, a + 1)))
        for r in range(n_r - 1):
            faces.append((ring(r, a), ring(r + 1, a), ring(r + 1, a + 1)))
            faces.append((ring(r, a), ring(r + 1, a + 1), ring(r, a + 1)))
        faces.append((ring(n_r - 1, a), len(unit) - 1, ring(n_r - 1, a + 1)))
    f = np.asarray(faces, dtype=np.int64)
    return verts, _orient(verts, f, np.repeat(centre[None], len(f), axis=0))


def _resample(points: np.ndarray, closed: bool, step: float = _SEGMENT) -> np.ndarray:
    """The polyline ``points`` resampled at about ``step`` spacing (ends kept)."""
    p = np.concatenate([points, points[:1]]) if closed else points
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)), 8 if closed else 2)
    t = np.linspace(0.0, s[-1], n, endpoint=not closed) if closed else np.linspace(0, s[-1], n + 1)
    return np.stack([np.interp(t, s, p[:, k]) for k in range(3)], axis=1)


def _smooth(points: np.ndarray, closed: bool, iterations: int) -> np.ndarray:
    p = points.copy()
    for _ in range(iterations):
        if closed:
            p = 0.25 * np.roll(p, 1, 0) + 0.5 * p + 0.25 * np.roll(p, -1, 0)
        else:
            p[1:-1] = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    return p


def _cleared_tube(
    centre: np.ndarray, radius: float, closed: bool, surface: _Surface
) -> tuple[np.ndarray, np.ndarray]:
    """``_tube`` along ``centre``, its centreline pushed out along the skin's normals wherever
    a tube vertex would come within ``CLEARANCE`` of the skin (each push spread over the
    neighbouring points, and the line resampled, so segments stay short and smooth)."""
    c = centre.copy()
    for _ in range(4):
        for _ in range(30):
            verts, faces = _tube(c, radius, closed)
            d, n = surface.outward(verts[: len(c) * TUBE_SIDES])
            deficit = (CLEARANCE + 2e-4 - d).reshape(len(c), TUBE_SIDES)
            worst = deficit.argmax(axis=1)
            need = deficit[np.arange(len(c)), worst]
            if need.max() <= 0.0:
                break
            push = n.reshape(len(c), TUBE_SIDES, 3)[np.arange(len(c)), worst]
            disp = push * np.maximum(need, 0.0)[:, None]
            spread = disp.copy()
            for shift, w in ((1, 0.6), (2, 0.3)):
                for sgn in (1, -1):
                    moved = np.roll(disp, sgn * shift, axis=0)
                    if not closed:  # no wrap-around on an open line
                        if sgn > 0:
                            moved[:shift] = 0.0
                        else:
                            moved[-shift:] = 0.0
                    spread += w * moved
            c += spread
        else:
            continue
        seg = np.linalg.norm(np.diff(np.concatenate([c, c[:1]]) if closed else c, axis=0), axis=1)
        if seg.max() <= 1.5 * _SEGMENT:
            return verts, faces
        c = _resample(c, closed)
    for _ in range(30):  # last resort: plain pushes until clear
        verts, faces = _tube(c, radius, closed)
        d, n = surface.outward(verts[: len(c) * TUBE_SIDES])
        deficit = (CLEARANCE + 2e-4 - d).reshape(len(c), TUBE_SIDES)
        worst = deficit.argmax(axis=1)
        need = deficit[np.arange(len(c)), worst]
        if need.max() <= 0.0:
            break
        push = n.reshape(len(c), TUBE_SIDES, 3)[np.arange(len(c)), worst]
        c += push * np.maximum(need, 0.0)[:, None]
    return verts, faces


def _cleared_rigid(verts: np.ndarray, direction: np.ndarray, surface: _Surface) -> np.ndarray:
    """``verts`` moved rigidly along the unit ``direction`` until all clear the skin."""
    v = verts.copy()
    for _ in range(60):
        d, _ = surface.outward(v)
        need = CLEARANCE + 2e-4 - d.min()
        if need <= 0.0:
            break
        v += direction * max(need, 2e-4)
    return v


def _glasses(v: np.ndarray, surface: _Surface, eyes: dict, rng: np.random.Generator) -> _Mesh:
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
        rim = _resample(np.stack([x, y, z], axis=1), closed=True)
        pieces.append(_cleared_tube(rim, _RIM_TUBE, True, surface))
        hinge[side] = np.array([cx + sign * a, cy + 0.45 * b, z0 - _WRAP * a])
        inner[side] = np.array([cx - sign * a * (0.93 if round_rims else 0.99), cy + 0.4 * b, z0])
    # Bridge: an arch from one rim's inner edge to the other's, over the nose.
    xs = np.linspace(inner["r"][0], inner["l"][0], 9)
    u = xs / inner["l"][0]
    bridge = np.stack(
        [xs, inner["l"][1] + 0.003 * (1.0 - u * u), z0 + 0.002 * (1.0 - u * u)], axis=1
    )
    pieces.append(_cleared_tube(_resample(bridge, closed=False), _RIM_TUBE, False, surface))
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
            x = np.maximum(_smooth(x[:, None], False, 4)[:, 0], x_need)
        path = np.concatenate([h[None], np.stack([sign * x, yz[:, 0], yz[:, 1]], axis=1)])
        path = _resample(_smooth(path, False, 2), closed=False)
        pieces.append(_cleared_tube(path, _TEMPLE_TUBE, False, surface))
    # Everything follows the top of the nose between the eyes (a rigid part of the head).
    nasion = surface.vertex(np.array([0.0, 0.0, eyes["l"][0][2] + 0.03]))
    return _join(pieces, nasion)


def _join(pieces: list[tuple[np.ndarray, np.ndarray]], anchor: int) -> _Mesh:
    verts, faces, base = [], [], 0
    for pv, pf in pieces:
        verts.append(pv)
        faces.append(pf + base)
        base += len(pv)
    vv = np.concatenate(verts)
    return vv, np.concatenate(faces), np.full(len(vv), anchor, dtype=np.int64)


def _ring(centre: np.ndarray, radius: float, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A closed circle polyline of ``radius`` about ``centre`` in the plane of unit ``u, w``."""
    n = max(int(np.ceil(2.0 * np.pi * radius / 0.0025)), 12)
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return centre + radius * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * w)


def ear_lobes(vertices: np.ndarray, surface: _Surface | None = None, **kw) -> dict[str, int]:
    """Per side, the bust index of the ear's lowest skin vertex (its lobe)."""
    if surface is None:
        surface = _Surface(vertices, kw["faces"], kw["labels"])
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


def _earrings(v: np.ndarray, surface: _Surface, rng: np.random.Generator) -> list[_Mesh]:
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
            line = _ring(centre, _HOOP_RADIUS, lateral, np.array([0.0, 1.0, 0.0]))
            pv, pf = _tube(line, _HOOP_TUBE, True)
        else:
            # A stud on the outside of the lobe's bottom.
            centre = p + np.array([0.0, -0.0015, 0.0]) + out * (_STUD_RADIUS * 0.6 + CLEARANCE)
            pv, pf = _sphere(centre, _STUD_RADIUS, np.array([1.0, 1.0, 1.0]))
            pv = pv * np.array([0.6, 1.0, 1.0]) + centre * np.array([0.4, 0.0, 0.0])
        pv = _cleared_rigid(pv, out, surface)
        meshes.append((pv, pf, np.full(len(pv), lobe, dtype=np.int64)))
    return meshes


def _nose_ring(v: np.ndarray, surface: _Surface, rng: np.random.Generator) -> _Mesh:
    sign = 1.0 if rng.integers(2) else -1.0
    ala = surface.vertex(_ALA * np.array([sign, 1.0, 1.0]))
    k = surface.nearest(v[ala][None])[0]
    n = surface.normals[k]
    down = np.array([0.0, -1.0, 0.0])
    d = down - n * (down @ n)
    d /= np.linalg.norm(d)
    # The ring hangs off the nostril's rim: its top against the ala, most of it below.
    centre = v[ala] + d * 0.7 * _NOSE_RING_RADIUS + n * (0.4 * _NOSE_RING_RADIUS)
    line = _ring(centre, _NOSE_RING_RADIUS, n, d)
    pv, pf = _tube(line, _NOSE_RING_TUBE, True)
    pv = _cleared_rigid(pv, n, surface)
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
    meshes: list[_Mesh] = []
    if wanted:
        surface = _Surface(v, f, lab)
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
