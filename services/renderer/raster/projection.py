"""Projection of 3-D Gaussians to screen-space ellipses, shared by the numpy rasterisers.

The model (3DGS, RSATalker eq. 1–3; EWA splatting):

- Σ = R S Sᵀ Rᵀ with R from the normalised quaternion and S = diag(scales);
- camera point t = W μ + w (``viewmat``), depth z = t_z;
- Σ' = J W Σ Wᵀ Jᵀ + ε I, where J is the Jacobian of the pinhole projection at t
  (x and y clamped to 1.3× the half-FOV tangent, as 3DGS does, so splats near or beyond the
  image edge do not blow up) and ε = 0.3 px² is the low-pass filter of 3DGS / gsplat's eps2d;
- mean μ' = (fx t_x/t_z + cx, fy t_y/t_z + cy) (unclamped);
- conic = Σ'⁻¹ stored as (A, B, C): q(d) = A dx² + 2 B dx dy + C dy² = dᵀ Σ'⁻¹ d.

Compositing rules (every backend applies the same ones, so the fast paths can be compared
pixel-for-pixel with the brute-force reference):

- α = min(0.99, o · exp(−q/2)); a Gaussian with α < 1/255 is skipped at that pixel;
- front to back by depth (stable: ties keep scene order); a pixel stops *before* the Gaussian
  that would bring its transmittance below 1e-4, which is then not composited.

Support: because of the α < 1/255 rule, a Gaussian contributes only where
q ≤ q_max = 2 ln(255 o). Its support box has the exact half-extents √(q_max Σ'_xx) and
√(q_max Σ'_yy) — at most ≈3.33σ (o = 1), tighter than the usual 3σ-of-the-largest-eigenvalue
circle and, unlike it, loses nothing: tiling by this box gives the same image as looping over
all Gaussians. (gsplat ≥ 1.3 uses the same opacity-aware bound.)

Culling rules (a culled Gaussian is dropped from every backend):

1. opacity < 1/255 (α can never reach the threshold);
2. depth < ``near`` (0.01) or not finite: behind or too close to the camera;
3. a non-finite 2-D covariance or determinant ≤ 0 (cannot happen for finite input because
   of ε, but huge scales can overflow);
4. an absurd support box: a half-extent above ``MAX_EXTENT_FACTOR`` (10⁴) × max(W, H), i.e. a
   splat ten thousand images wide — only broken data or a Gaussian swallowing the camera;
5. a support box that misses the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .camera import Camera
from .scene import GaussianScene

NEAR_PLANE = 0.01
EPS2D = 0.3  # px², low-pass filter added to the 2-D covariance diagonal
ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.99
T_MIN = 1e-4  # a pixel stops when its transmittance would fall below this
JACOBIAN_CLAMP = 1.3  # × half-FOV tangent
MAX_EXTENT_FACTOR = 1e4
TILE = 16


def _rotmat_components(quats: np.ndarray) -> np.ndarray:
    """``[N, 4]`` wxyz → ``[3, 3, N]`` rotation matrices, component-major (fast to combine)."""
    q = np.asarray(quats, dtype=np.float64).T  # [4, N]
    w, x, y, z = q / np.sqrt(np.einsum("kn,kn->n", q, q))
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    ).reshape(3, 3, -1)


def quat_to_rotmat(quats: np.ndarray) -> np.ndarray:
    """``[N, 4]`` wxyz (any non-zero norm) → ``[N, 3, 3]`` rotation matrices (float64)."""
    return np.ascontiguousarray(_rotmat_components(quats).transpose(2, 0, 1))


def covariance_3d(quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Σ = R S Sᵀ Rᵀ: ``[N, 4]``, ``[N, 3]`` → ``[N, 3, 3]`` (float64)."""
    m = quat_to_rotmat(quats) * np.asarray(scales, dtype=np.float64)[:, None, :]  # R S
    return m @ m.transpose(0, 2, 1)


def support_q(opacities: np.ndarray) -> np.ndarray:
    """q_max = 2 ln(255 o): beyond it α < 1/255 (−inf where o = 0)."""
    with np.errstate(divide="ignore"):
        return 2.0 * np.log(np.asarray(opacities, dtype=np.float64) / ALPHA_MIN)


def depth_order(depths: np.ndarray) -> np.ndarray:
    """Stable argsort of ``depths`` (ties keep their order); quicksort unless there are ties."""
    order = np.argsort(depths)
    sorted_depths = depths.take(order)
    if np.any(sorted_depths[1:] == sorted_depths[:-1]):
        order = np.argsort(depths, kind="stable")
    return order


@dataclass
class Projection:
    """The Gaussians that survive culling, sorted front to back (M of them)."""

    index: np.ndarray  # [M] int64, index into the scene
    means2d: np.ndarray  # [M, 2] float64 pixels (x, y), pixel centres at +0.5
    depths: np.ndarray  # [M] float64 camera z
    cov2d: np.ndarray  # [M, 3] float64 (a, b, c) of Σ' = [[a, b], [b, c]] incl. ε
    conics: np.ndarray  # [M, 3] float64 (A, B, C) of Σ'⁻¹
    q_max: np.ndarray  # [M] float64 support threshold on q
    extents: np.ndarray  # [M, 2] float64 half-widths of the support box in pixels
    radii: np.ndarray  # [M, 2] int32 ceil(extents)
    opacities: np.ndarray  # [M] float32 (as in the scene)
    colors: np.ndarray  # [M, 3] float32

    def __len__(self) -> int:
        return int(self.index.shape[0])


def project(
    scene: GaussianScene, camera: Camera, *, near: float = NEAR_PLANE, eps2d: float = EPS2D
) -> Projection:
    """Cull and project every Gaussian of ``scene`` (see the module docstring for the rules)."""
    width, height = camera.width, camera.height
    fx, fy = camera.K[0, 0], camera.K[1, 1]
    cx, cy = camera.K[0, 2], camera.K[1, 2]
    rot_w, trans_w = camera.rotation, camera.translation

    # Component-major [3, n] float64 arrays from here on: numpy is fastest on long rows.
    depth_all = scene.means @ rot_w[2] + trans_w[2]  # [N]
    idx = np.flatnonzero((scene.opacities >= ALPHA_MIN) & (depth_all >= near))  # NaN fails
    mu = scene.means.take(idx, axis=0).T.astype(np.float64)  # [3, n]
    x = rot_w[0, 0] * mu[0] + rot_w[0, 1] * mu[1] + rot_w[0, 2] * mu[2] + trans_w[0]
    y = rot_w[1, 0] * mu[0] + rot_w[1, 1] * mu[1] + rot_w[1, 2] * mu[2] + trans_w[1]
    z = rot_w[2, 0] * mu[0] + rot_w[2, 1] * mu[1] + rot_w[2, 2] * mu[2] + trans_w[2]

    with np.errstate(all="ignore"):
        inv_z = 1.0 / z
        # Jacobian of (fx x/z, fy y/z) at the clamped point (x/z, y/z clamped to 1.3× the
        # half-FOV tangents): J = [[fx/z, 0, −fx u/z], [0, fy/z, −fy v/z]], u, v the clamped
        # tangents.
        u = np.clip(x * inv_z, -JACOBIAN_CLAMP * cx / fx, JACOBIAN_CLAMP * (width - cx) / fx)
        v = np.clip(y * inv_z, -JACOBIAN_CLAMP * cy / fy, JACOBIAN_CLAMP * (height - cy) / fy)
        # Σ' = (J W R S)(J W R S)ᵀ: symmetric positive semi-definite by construction.
        rot = _rotmat_components(scene.quats.take(idx, axis=0))  # [3, 3, n]
        sc = scene.scales.take(idx, axis=0).T.astype(np.float64)  # [3, n]
        wrs = [  # rows of W R S, each [3, n]
            (rot_w[i, 0] * rot[0] + rot_w[i, 1] * rot[1] + rot_w[i, 2] * rot[2]) * sc
            for i in range(3)
        ]
        row0 = (fx * inv_z) * (wrs[0] - u * wrs[2])  # [3, n]
        row1 = (fy * inv_z) * (wrs[1] - v * wrs[2])
        a = row0[0] * row0[0] + row0[1] * row0[1] + row0[2] * row0[2] + eps2d
        b = row0[0] * row1[0] + row0[1] * row1[1] + row0[2] * row1[2]
        c = row1[0] * row1[0] + row1[1] * row1[1] + row1[2] * row1[2] + eps2d
        det = a * c - b * b
        mx = fx * x * inv_z + cx
        my = fy * y * inv_z + cy
        opac = scene.opacities.take(idx).astype(np.float64)
        q_max = support_q(opac)
        ex = np.sqrt(q_max * a)
        ey = np.sqrt(q_max * c)
        limit = MAX_EXTENT_FACTOR * max(width, height)
        keep = (det > 0) & (ex <= limit) & (ey <= limit)  # NaN fails every comparison
        keep &= (mx + ex > 0) & (mx - ex < width) & (my + ey > 0) & (my - ey < height)
        keep &= np.isfinite(det) & np.isfinite(mx) & np.isfinite(my)

    sel = np.flatnonzero(keep)
    sel = sel.take(depth_order(z.take(sel)))
    a, b, c, det, ex, ey = (arr.take(sel) for arr in (a, b, c, det, ex, ey))
    idx = idx.take(sel)
    extents = np.stack([ex, ey], axis=1)
    return Projection(
        index=idx,
        means2d=np.stack([mx.take(sel), my.take(sel)], axis=1),
        depths=z.take(sel),
        cov2d=np.stack([a, b, c], axis=1),
        conics=np.stack([c / det, -b / det, a / det], axis=1),
        q_max=q_max.take(sel),
        extents=extents,
        radii=np.ceil(extents).astype(np.int32),
        opacities=scene.opacities.take(idx),
        colors=scene.colors.take(idx, axis=0),
    )
