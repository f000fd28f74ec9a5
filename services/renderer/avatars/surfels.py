"""Surfels: one flat Gaussian per triangle, sized to cover it at rest and when posed.

``fit_to_triangles`` gives each Gaussian its triangle's in-plane covariance (a uniform
density over the triangle, std × ``SPREAD``), ``THIN`` along the normal, grown along the
stretch each triangle undergoes at ``stretch_poses``. ``create_avatar`` calls it once per
identity; the binding (``binding``) then carries the local scales and rotations with the
triangle's frame.
"""

from __future__ import annotations

import numpy as np
import torch

from dyad.rigs import Rig

from .binding import rotmat_to_quat
from .surfels_fast import covers

# Each Gaussian starts moment-matched to its triangle (the covariance of a uniform density
# over it, std inflated by SPREAD so neighbours overlap into a closed surface) and THIN along
# the normal (in triangle units k): a surfel. At the outline the triangles are seen edge-on,
# so the normal std is what a Gaussian adds outward of the mesh there (issue 17: 0.08 k put a
# soft 1–2 px fringe round the head at 256²; 0.01 k adds < 0.1 px). The in-plane spread is
# what closes the surface (α ≥ 0.99 needs neighbours' footprints to overlap each triangle's
# corners), and it is also what stands off the curved mesh at the outline: see
# ``bench/silhouette.py`` for what remains and why it cannot go without opening holes.
SPREAD, THIN = 2.0, 0.01
# Initial opacity: 1 (α saturates at the rasteriser's 0.99 cap at each Gaussian's centre), so
# one layer of surfels is as opaque as one layer can be (0.98 left 2% of the background).
OPACITY = 1.0
# Posed coverage (``fit_to_triangles``): the binding scales a Gaussian by its triangle's k
# alone, so where an expression stretches a triangle unevenly (the cheeks with the jaw open)
# it outgrows its Gaussian and the surface opens. Each Gaussian is grown along the stretch to
# cover its triangle at ``stretch_poses`` with POSED_SPREAD × the rest-pose spread, by at most
# POSED_GROWTH in std (the mouth cavity stretches far more, and a Gaussian grown to match it
# pokes out through the cheek). POSE_TURN: how far those poses turn head, jaw, neck (25°).
POSED_SPREAD, POSED_GROWTH, POSE_TURN = 0.6, 1.3, 0.44


def _in_plane_cov(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[..., F, 3]``: each triangle's covariance (a uniform density over it,
    ``(1/12)·Σ dᵢdᵢᵀ`` over the corners relative to the centroid) in its own frame's in-plane
    coordinates (axis0, axis2 of ``binding.triangle_frames``), in triangle units, as its
    entries (uu, uw, ww). verts ``[..., V, 3]`` float64."""
    v0, v1, v2 = (verts[..., faces[:, i], :] for i in range(3))
    e0, e1 = v1 - v0, v2 - v0
    axis0 = e0 / np.maximum(np.linalg.norm(e0, axis=-1, keepdims=True), 1e-12)
    normal = np.cross(axis0, e1)
    normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-12)
    axis2 = np.cross(axis0, normal)
    k = 0.5 * (np.linalg.norm(e0, axis=-1) + np.abs(np.sum(axis2 * e1, -1)))
    k = np.maximum(k, 1e-12)
    centre = (v0 + v1 + v2) / 3.0
    uu = uw = ww = 0.0
    for corner in (v0, v1, v2):
        d = corner - centre
        u, w = np.sum(d * axis0, -1) / k, np.sum(d * axis2, -1) / k
        uu, uw, ww = uu + u * u, uw + u * w, ww + w * w
    return np.stack([uu, uw, ww], -1) / 12.0


def _cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[F, 3]`` (uu, uw, ww): a covariance ⪰ ``a`` that also covers ``b`` where ``b`` reaches
    past it, growing ``a``'s std by at most POSED_GROWTH: in coordinates where ``a`` is the
    unit circle (``a = L Lᵀ``, Cholesky), ``b``'s eigenvalues are raised to at least 1 and
    capped at POSED_GROWTH². Closed-form 2×2 algebra."""
    l00 = np.sqrt(np.maximum(a[:, 0], 1e-24))
    l10 = a[:, 1] / l00
    l11 = np.sqrt(np.maximum(a[:, 2] - l10 * l10, 1e-24))
    i00, i10, i11 = 1.0 / l00, -l10 / (l00 * l11), 1.0 / l11  # L⁻¹ (lower triangular)
    m00 = i00 * i00 * b[:, 0]  # M = L⁻¹ b L⁻ᵀ
    m01 = i00 * (i10 * b[:, 0] + i11 * b[:, 1])
    m11 = i10 * i10 * b[:, 0] + 2.0 * i10 * i11 * b[:, 1] + i11 * i11 * b[:, 2]
    mean, half = (m00 + m11) / 2, np.hypot((m00 - m11) / 2, m01)
    theta = 0.5 * np.arctan2(2.0 * m01, m00 - m11)
    c, s = np.cos(theta), np.sin(theta)
    g_big = np.clip(mean + half, 1.0, POSED_GROWTH**2) - 1.0  # eigenvector (c, s)
    g_small = np.clip(mean - half, 1.0, POSED_GROWTH**2) - 1.0  # eigenvector (−s, c)
    n00 = 1.0 + g_big * c * c + g_small * s * s  # the whitened result, N = I + growth
    n01 = (g_big - g_small) * c * s
    n11 = 1.0 + g_big * s * s + g_small * c * c
    return np.stack(  # L N Lᵀ
        [
            l00 * l00 * n00,
            l00 * (l10 * n00 + l11 * n01),
            l10 * l10 * n00 + 2.0 * l10 * l11 * n01 + l11 * l11 * n11,
        ],
        -1,
    )


def stretch_poses(rig: Rig) -> np.ndarray:
    """``[P, C]``: each channel of ``rig`` alone at ±1 (±POSE_TURN radians for the head, jaw
    and neck rotations), within the rig's range — the expressions ``fit_to_triangles`` keeps
    the surface closed under."""
    turns: set[int] = set()
    for group in ("pose", "jaw", "neck"):
        if group in rig.groups:
            turns.update(range(rig.num_channels)[rig.groups[group]])
    rows = []
    for c in range(rig.num_channels):
        amp = POSE_TURN if c in turns else 1.0
        ends = (float(np.clip(v, rig.lower[c], rig.upper[c])) for v in (amp, -amp))
        for value in dict.fromkeys(ends):  # each distinct end once, + before −
            if value != 0.0:
                rows.append(np.zeros(rig.num_channels, np.float32))
                rows[-1][c] = value
    return np.stack(rows) if rows else np.zeros((0, rig.num_channels), np.float32)


def fit_to_triangles(
    verts: torch.Tensor,
    faces: np.ndarray,
    posed: torch.Tensor | None = None,
    *,
    compiled: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local log-scales ``[F, 3]`` and rotations ``[F, 4]`` of one Gaussian per triangle whose
    in-plane covariance matches the triangle's (std × SPREAD), so slivers get slim Gaussians
    instead of blobs, THIN along the normal. verts ``[V, 3]``.

    The binding scales a Gaussian with its triangle's k only, so a triangle that stretches
    unevenly when posed outgrows it and the surface opens there (the cheeks with the jaw
    open). ``posed`` ``[P, V, 3]`` (e.g. the head at ``stretch_poses``): the covariance is
    grown, only along the stretch, until it also matches each posed triangle's.

    ``compiled``: one numba pass per triangle (``surfels_fast.covers``, ~10× faster); off,
    the numpy reference below — the same covariances (``test_surfels_fast``)."""
    f = faces.astype(np.int64)
    if posed is not None and posed.shape[0]:
        moved = (posed - verts).abs().amax(dim=(1, 2)) > 0  # channels this head ignores: skip
        posed = posed[moved]
    else:
        posed = verts[None][:0]  # [0, V, 3]: no poses
    if compiled:
        cov = covers(
            verts.double().numpy(),
            posed.double().numpy(),
            f,
            SPREAD**2,
            (SPREAD * POSED_SPREAD) ** 2,
            POSED_GROWTH**2,
        )
    else:
        cov = _in_plane_cov(verts.double().numpy(), f) * SPREAD**2  # [F, 3]
        for posed_cov in _in_plane_cov(posed.double().numpy(), f):
            cov = _cover(cov, posed_cov * (SPREAD * POSED_SPREAD) ** 2)
    entries = torch.from_numpy(cov)
    matrices = torch.stack([entries[:, [0, 1]], entries[:, [1, 2]]], -2)  # [F, 2, 2]
    evals, evecs = torch.linalg.eigh(matrices)  # ascending
    std = evals.clamp_min(1e-8).sqrt()  # [F, 2]
    major = evecs[..., 1]  # [F, 2]: (u, w) of the major axis
    # Local rotation about axis1 taking local x to the major axis: columns (x', y, x' × y).
    x_new = torch.stack([major[:, 0], torch.zeros_like(major[:, 0]), major[:, 1]], -1)
    y = torch.tensor([0.0, 1.0, 0.0], dtype=x_new.dtype).expand_as(x_new)
    local_rot = torch.stack([x_new, y, torch.cross(x_new, y, dim=-1)], dim=-1)
    log_scale = torch.stack([std[:, 1], torch.full_like(std[:, 0], THIN), std[:, 0]], -1).log()
    return log_scale.float(), rotmat_to_quat(local_rot).float()
