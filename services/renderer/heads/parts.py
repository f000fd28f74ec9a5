"""Closed shells of the procedural head besides its skin: eyeballs, teeth, tongue.

Each builder returns ``(vertices [N, 3] float64, faces [M, 3] int64, labels [M] int8)`` with
faces counter-clockwise seen from outside (positive signed volume).
"""

from __future__ import annotations

import numpy as np

from .model import Material

Shell = tuple[np.ndarray, np.ndarray, np.ndarray]

# Eyeball rings: polar angles (degrees) from the front pole. The pole fan is the pupil, the next
# two bands the iris; pupil radius ≈ r·sin 11°, iris radius ≈ r·sin 29°.
_EYE_RINGS_DEG = (11.0, 17.0, 29.0, 40.0, 55.0, 75.0, 98.0, 125.0, 152.0)
_PUPIL_DEG, _IRIS_DEG = 11.0, 29.0
_EYE_SEGMENTS = 16


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Volume enclosed by a closed triangle mesh; positive when faces wind outward."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def _uv_sphere_faces(n_rings: int, n_seg: int) -> np.ndarray:
    """Faces of a sphere: vertex 0 the front pole, rings of ``n_seg``, the last vertex the back
    pole; rings go from front to back, segments counter-clockwise about the front axis."""
    faces = []
    j = np.arange(n_seg)
    jn = (j + 1) % n_seg
    faces.append(np.stack([np.zeros(n_seg, dtype=np.int64), 1 + j, 1 + jn], axis=1))
    for k in range(n_rings - 1):
        a, e = 1 + k * n_seg + j, 1 + k * n_seg + jn
        b, d = a + n_seg, e + n_seg
        faces.append(np.stack([a, b, d], axis=1))
        faces.append(np.stack([a, d, e], axis=1))
    back = 1 + n_rings * n_seg
    last = 1 + (n_rings - 1) * n_seg
    faces.append(np.stack([np.full(n_seg, back), last + jn, last + j], axis=1))
    return np.concatenate(faces).astype(np.int64)


def _uv_sphere_points(ring_angles: np.ndarray, n_seg: int) -> np.ndarray:
    """Unit-sphere points for ``_uv_sphere_faces``, the front pole on +z."""
    beta = 2.0 * np.pi * np.arange(n_seg) / n_seg
    sa, ca = np.sin(ring_angles)[:, None], np.cos(ring_angles)[:, None]
    ring = np.stack(
        [
            sa * np.cos(beta)[None],
            sa * np.sin(beta)[None],
            np.broadcast_to(ca, (len(ring_angles), n_seg)),
        ],
        axis=-1,
    ).reshape(-1, 3)
    return np.concatenate([[[0.0, 0.0, 1.0]], ring, [[0.0, 0.0, -1.0]]])


def eyeball(centre: np.ndarray, radius: float) -> Shell:
    """A sphere looking along +z: pupil and iris are the faces around its front pole."""
    rings = np.radians(np.array(_EYE_RINGS_DEG))
    verts = centre + radius * _uv_sphere_points(rings, _EYE_SEGMENTS)
    faces = _uv_sphere_faces(len(rings), _EYE_SEGMENTS)
    polar = np.concatenate([[0.0], np.repeat(_EYE_RINGS_DEG, _EYE_SEGMENTS), [180.0]])
    far = polar[faces].max(axis=1)  # the face's angle farthest from the front pole
    labels = np.full(len(faces), Material.SCLERA, dtype=np.int8)
    labels[far <= _IRIS_DEG + 1e-6] = Material.IRIS
    labels[far <= _PUPIL_DEG + 1e-6] = Material.PUPIL
    return verts, faces, labels


def ellipsoid(centre: np.ndarray, axes: np.ndarray, n_rings: int, n_seg: int, label: int) -> Shell:
    """An ellipsoid with its poles on the z axis, all faces one material."""
    rings = np.pi * np.arange(1, n_rings + 1) / (n_rings + 1)
    verts = centre + axes * _uv_sphere_points(rings, n_seg)
    faces = _uv_sphere_faces(n_rings, n_seg)
    return verts, faces, np.full(len(faces), label, dtype=np.int8)


def dental_arch(
    front: np.ndarray,
    half_width: float,
    depth: float,
    top: float,
    bottom: float,
    thickness: float,
    n_sections: int = 14,
) -> Shell:
    """A row of teeth as one curved slab: its front face follows the parabola
    ``z = front_z − depth·u²`` for ``x = half_width·u``, ``u ∈ [−1, 1]``, between heights
    ``bottom`` and ``top`` (absolute y), ``thickness`` deep towards the inside of the arch."""
    u = np.linspace(-1.0, 1.0, n_sections)
    cx, cz = front[0] + half_width * u, front[2] - depth * u**2
    # Outward normal of the parabola in the xz plane.
    tx, tz = np.full_like(u, half_width), -2.0 * depth * u
    norm = np.hypot(tx, tz)
    nx, nz = -tz / norm, tx / norm
    ring = []
    for dn, y in ((0.0, top), (0.0, bottom), (-thickness, bottom), (-thickness, top)):
        ring.append(np.stack([cx + dn * nx, np.full_like(u, y), cz + dn * nz], axis=1))
    verts = np.stack(ring, axis=1).reshape(-1, 3)  # section-major, 4 per section
    faces = []
    for i in range(n_sections - 1):
        for k in range(4):
            a, b = 4 * i + k, 4 * i + (k + 1) % 4
            faces += [(a, b, b + 4), (a, b + 4, a + 4)]
    last = 4 * (n_sections - 1)
    faces += [(0, 2, 1), (0, 3, 2), (last, last + 1, last + 2), (last, last + 2, last + 3)]
    f = np.array(faces, dtype=np.int64)
    if signed_volume(verts, f) < 0.0:
        f = f[:, ::-1].copy()
    return verts, f, np.full(len(f), Material.TEETH, dtype=np.int8)
