"""``surfels``' covariances, compiled (numba): what avatar creation spends most of its time on.

``fit_to_triangles`` sizes each triangle's Gaussian to cover it at rest and at every stretch
pose (~60 for arkit55): numpy does that pose by pose over all triangles (``_in_plane_cov``,
``_cover``) with a dozen temporaries each — 1.2–1.9 s for the human bust's 17k triangles. Here
each triangle takes its poses in one pass with the same float64 arithmetic in the same
order (``tests/test_surfels_fast.py`` holds the two to each other; bit-equal here): ~0.5 s.
"""

from __future__ import annotations

import numpy as np

from dyad.services.renderer.raster.cpu_kernels import _jit


@_jit(nogil=True)
def _tri_cov(v: np.ndarray, i0: int, i1: int, i2: int) -> tuple[float, float, float]:
    """One triangle's (uu, uw, ww) in its frame, triangle units: ``surfels._in_plane_cov``."""
    e0x, e0y, e0z = v[i1, 0] - v[i0, 0], v[i1, 1] - v[i0, 1], v[i1, 2] - v[i0, 2]
    e1x, e1y, e1z = v[i2, 0] - v[i0, 0], v[i2, 1] - v[i0, 1], v[i2, 2] - v[i0, 2]
    l0 = np.sqrt(e0x * e0x + e0y * e0y + e0z * e0z)
    d0 = max(l0, 1e-12)
    ax, ay, az = e0x / d0, e0y / d0, e0z / d0
    nx, ny, nz = ay * e1z - az * e1y, az * e1x - ax * e1z, ax * e1y - ay * e1x
    dn = max(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)
    nx, ny, nz = nx / dn, ny / dn, nz / dn
    bx, by, bz = ay * nz - az * ny, az * nx - ax * nz, ax * ny - ay * nx  # axis0 × normal
    k = max(0.5 * (l0 + abs(bx * e1x + by * e1y + bz * e1z)), 1e-12)
    cx = (v[i0, 0] + v[i1, 0] + v[i2, 0]) / 3.0
    cy = (v[i0, 1] + v[i1, 1] + v[i2, 1]) / 3.0
    cz = (v[i0, 2] + v[i1, 2] + v[i2, 2]) / 3.0
    uu = uw = ww = 0.0
    for i in (i0, i1, i2):
        dx, dy, dz = v[i, 0] - cx, v[i, 1] - cy, v[i, 2] - cz
        u = (dx * ax + dy * ay + dz * az) / k
        w = (dx * bx + dy * by + dz * bz) / k
        uu, uw, ww = uu + u * u, uw + u * w, ww + w * w
    return uu / 12.0, uw / 12.0, ww / 12.0


@_jit(nogil=True)
def _cover_one(
    a0: float, a1: float, a2: float, b0: float, b1: float, b2: float, most: float
) -> tuple[float, float, float]:
    """``surfels._cover`` for one triangle (``most`` = POSED_GROWTH²)."""
    l00 = np.sqrt(max(a0, 1e-24))
    l10 = a1 / l00
    l11 = np.sqrt(max(a2 - l10 * l10, 1e-24))
    i00, i10, i11 = 1.0 / l00, -l10 / (l00 * l11), 1.0 / l11
    m00 = i00 * i00 * b0
    m01 = i00 * (i10 * b0 + i11 * b1)
    m11 = i10 * i10 * b0 + 2.0 * i10 * i11 * b1 + i11 * i11 * b2
    mean, half = (m00 + m11) / 2, np.hypot((m00 - m11) / 2, m01)
    theta = 0.5 * np.arctan2(2.0 * m01, m00 - m11)
    c, s = np.cos(theta), np.sin(theta)
    g_big = min(max(mean + half, 1.0), most) - 1.0
    g_small = min(max(mean - half, 1.0), most) - 1.0
    n00 = 1.0 + g_big * c * c + g_small * s * s
    n01 = (g_big - g_small) * c * s
    n11 = 1.0 + g_big * s * s + g_small * c * c
    return (
        l00 * l00 * n00,
        l00 * (l10 * n00 + l11 * n01),
        l10 * l10 * n00 + 2.0 * l10 * l11 * n01 + l11 * l11 * n11,
    )


@_jit(nogil=True)
def _covers(
    rest: np.ndarray,  # [V, 3] f8
    posed: np.ndarray,  # [P, V, 3] f8
    faces: np.ndarray,  # [F, 3] i8
    rest_scale: float,  # SPREAD²
    posed_scale: float,  # (SPREAD · POSED_SPREAD)²
    most: float,  # POSED_GROWTH²
    out: np.ndarray,  # [F, 3] f8 (uu, uw, ww)
) -> None:
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        a0, a1, a2 = _tri_cov(rest, i0, i1, i2)
        a0, a1, a2 = a0 * rest_scale, a1 * rest_scale, a2 * rest_scale
        for p in range(posed.shape[0]):
            b0, b1, b2 = _tri_cov(posed[p], i0, i1, i2)
            a0, a1, a2 = _cover_one(
                a0, a1, a2, b0 * posed_scale, b1 * posed_scale, b2 * posed_scale, most
            )
        out[f, 0], out[f, 1], out[f, 2] = a0, a1, a2


def covers(
    rest: np.ndarray,
    posed: np.ndarray,
    faces: np.ndarray,
    rest_scale: float,
    posed_scale: float,
    most: float,
) -> np.ndarray:
    """``[F, 3]`` f8: each triangle's rest covariance × ``rest_scale`` grown to cover it at
    every pose of ``posed`` ``[P, V, 3]`` (× ``posed_scale``, growth capped at ``most``), the
    poses in order — ``surfels.fit_to_triangles``' numpy loop, compiled."""
    out = np.empty((faces.shape[0], 3))
    _covers(
        np.ascontiguousarray(rest, np.float64),
        np.ascontiguousarray(posed, np.float64).reshape(-1, rest.shape[0], 3),
        np.ascontiguousarray(faces, np.int64),
        float(rest_scale),
        float(posed_scale),
        float(most),
        out,
    )
    return out
