"""Thin geometry for the human bust's accessories: tubes, rings, small spheres, and the skin
they must clear. Each triangle becomes one flat Gaussian, so tubes have ``TUBE_SIDES`` sides
and segments of about ``SEGMENT`` metres; ``Surface`` is the bust's outer skin (a KD-tree of
its vertices with smoothed normals) that ``cleared_tube``/``cleared_rigid`` push geometry
outside of, by at least ``CLEARANCE``."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..model import Material

#: Sides of every tube (a polygon cross-section).
TUBE_SIDES = 8
#: Target length of a tube segment (metres).
SEGMENT = 0.004
#: Every accessory vertex stays at least this far outside the skin (metres, along the normal
#: of the nearest skin vertex).
CLEARANCE = 0.0012
_SURFACE_LABELS = (Material.SKIN, Material.NECK, Material.LIPS, Material.EYELID, Material.BROW)
Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # (vertices, local faces, skin per vertex)


class Surface:
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


def tube(centre: np.ndarray, radius: float, closed: bool) -> tuple[np.ndarray, np.ndarray]:
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


def sphere(centre: np.ndarray, radius: float, squash: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def resample(points: np.ndarray, closed: bool, step: float = SEGMENT) -> np.ndarray:
    """The polyline ``points`` resampled at about ``step`` spacing (ends kept)."""
    p = np.concatenate([points, points[:1]]) if closed else points
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)), 8 if closed else 2)
    t = np.linspace(0.0, s[-1], n, endpoint=not closed) if closed else np.linspace(0, s[-1], n + 1)
    return np.stack([np.interp(t, s, p[:, k]) for k in range(3)], axis=1)


def smooth(points: np.ndarray, closed: bool, iterations: int) -> np.ndarray:
    p = points.copy()
    for _ in range(iterations):
        if closed:
            p = 0.25 * np.roll(p, 1, 0) + 0.5 * p + 0.25 * np.roll(p, -1, 0)
        else:
            p[1:-1] = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    return p


def _shortfall(
    c: np.ndarray, radius: float, closed: bool, surface: Surface
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tube along ``c [N, 3]`` and, per centreline point, how far its worst vertex falls
    short of ``CLEARANCE`` ``[N]`` and the skin normal to push it along ``[N, 3]``."""
    verts, faces = tube(c, radius, closed)
    d, n = surface.outward(verts[: len(c) * TUBE_SIDES])
    deficit = (CLEARANCE + 2e-4 - d).reshape(len(c), TUBE_SIDES)
    worst = deficit.argmax(axis=1)
    rows = np.arange(len(c))
    return verts, faces, deficit[rows, worst], n.reshape(len(c), TUBE_SIDES, 3)[rows, worst]


def cleared_tube(
    centre: np.ndarray, radius: float, closed: bool, surface: Surface
) -> tuple[np.ndarray, np.ndarray]:
    """``tube`` along ``centre``, its centreline pushed out along the skin's normals wherever
    a tube vertex would come within ``CLEARANCE`` of the skin (each push spread over the
    neighbouring points, and the line resampled, so segments stay short and smooth)."""
    c = centre.copy()
    for _ in range(4):
        for _ in range(30):
            verts, faces, need, push = _shortfall(c, radius, closed, surface)
            if need.max() <= 0.0:
                break
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
        if seg.max() <= 1.5 * SEGMENT:
            return verts, faces
        c = resample(c, closed)
    for _ in range(30):  # last resort: plain pushes until clear
        verts, faces, need, push = _shortfall(c, radius, closed, surface)
        if need.max() <= 0.0:
            break
        c += push * np.maximum(need, 0.0)[:, None]
    return verts, faces


def cleared_rigid(verts: np.ndarray, direction: np.ndarray, surface: Surface) -> np.ndarray:
    """``verts`` moved rigidly along the unit ``direction`` until all clear the skin."""
    v = verts.copy()
    for _ in range(60):
        d, _ = surface.outward(v)
        need = CLEARANCE + 2e-4 - d.min()
        if need <= 0.0:
            break
        v += direction * max(need, 2e-4)
    return v


def join(pieces: list[tuple[np.ndarray, np.ndarray]], anchor: int) -> Mesh:
    verts, faces, base = [], [], 0
    for pv, pf in pieces:
        verts.append(pv)
        faces.append(pf + base)
        base += len(pv)
    vv = np.concatenate(verts)
    return vv, np.concatenate(faces), np.full(len(vv), anchor, dtype=np.int64)


def ring(centre: np.ndarray, radius: float, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A closed circle polyline of ``radius`` about ``centre`` in the plane of unit ``u, w``."""
    n = max(int(np.ceil(2.0 * np.pi * radius / 0.0025)), 12)
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return centre + radius * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * w)
