"""Differentiable Gaussian rasteriser in plain torch (autograd), for fitting avatars on CPU.

Same model and rules as ``projection`` / ``cpu`` (EWA projection with the clamped
Jacobian, ε = 0.3 px², α = min(0.99, o·e^(−q/2)), α < 1/255 skipped, stop before T < 1e-4),
written with tensor ops so gradients reach means, rotations, scales, opacities and colours.

Culling, depth sorting and tile binning are index computations done without grad; the
compositing runs per 16×16 tile on padded ``[tiles, 256 pixels, K Gaussians]`` blocks, tiles
grouped by how many Gaussians they hold so padding stays small, in chunks of bounded size.
Transmittance is a cumulative sum of log(1 − α) (α ≤ 0.99 keeps it finite); the stopping rule
is applied as a mask: pixel p keeps Gaussian k iff T after k is still ≥ 1e-4, which is exactly
the sequential rule because T only decreases.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .camera import Camera
from .projection import (
    ALPHA_MAX,
    ALPHA_MIN,
    EPS2D,
    JACOBIAN_CLAMP,
    MAX_EXTENT_FACTOR,
    NEAR_PLANE,
    T_MIN,
    TILE,
)
from .rotation import quat_to_rotmat
from .scene import GaussianScene

CHUNK_ELEMENTS = 1 << 22  # pixels × Gaussians per compositing block (memory bound)


def project_torch(
    means: torch.Tensor,  # [N, 3]
    quats: torch.Tensor,  # [N, 4]
    scales: torch.Tensor,  # [N, 3]
    opacities: torch.Tensor,  # [N]
    camera: Camera,
    *,
    near: float = NEAR_PLANE,
    eps2d: float = EPS2D,
) -> dict[str, torch.Tensor]:
    """Cull, project and sort front to back (M survivors), as ``projection.project``.

    Returns ``index`` [M] (into the inputs), ``means2d`` [M, 2], ``conics`` [M, 3], ``depths``
    [M] (differentiable) and ``extents`` [M, 2] (support half-widths, no grad).
    """
    dtype, device = means.dtype, means.device
    rot_w = torch.tensor(np.array(camera.rotation), dtype=dtype, device=device)
    trans_w = torch.tensor(np.array(camera.translation), dtype=dtype, device=device)
    fx, fy = float(camera.K[0, 0]), float(camera.K[1, 1])
    cx, cy = float(camera.K[0, 2]), float(camera.K[1, 2])
    width, height = camera.width, camera.height

    with torch.no_grad():
        z_all = means @ rot_w[2] + trans_w[2]
        idx = torch.nonzero((opacities >= ALPHA_MIN) & (z_all >= near)).squeeze(1)
    t = means[idx] @ rot_w.T + trans_w  # [n, 3]
    x, y, z = t.unbind(-1)
    u = (x / z).clamp(-JACOBIAN_CLAMP * cx / fx, JACOBIAN_CLAMP * (width - cx) / fx)
    v = (y / z).clamp(-JACOBIAN_CLAMP * cy / fy, JACOBIAN_CLAMP * (height - cy) / fy)
    wrs = rot_w @ quat_to_rotmat(quats[idx]) * scales[idx][:, None, :]  # W R S, [n, 3, 3]
    row0 = (fx / z)[:, None] * (wrs[:, 0] - u[:, None] * wrs[:, 2])  # [n, 3]
    row1 = (fy / z)[:, None] * (wrs[:, 1] - v[:, None] * wrs[:, 2])
    a = (row0 * row0).sum(-1) + eps2d
    b = (row0 * row1).sum(-1)
    c = (row1 * row1).sum(-1) + eps2d
    det = a * c - b * b
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], dim=-1)

    with torch.no_grad():
        q_max = 2.0 * torch.log(opacities[idx] / ALPHA_MIN)
        ext = torch.sqrt(q_max[:, None] * torch.stack([a, c], dim=-1))
        limit = MAX_EXTENT_FACTOR * max(width, height)
        keep = (det > 0) & (ext <= limit).all(-1) & torch.isfinite(det)
        keep &= torch.isfinite(means2d).all(-1)
        lo, hi = means2d - ext, means2d + ext
        keep &= (hi[:, 0] > 0) & (lo[:, 0] < width) & (hi[:, 1] > 0) & (lo[:, 1] < height)
        sel = torch.nonzero(keep).squeeze(1)
        sel = sel[torch.sort(z[sel], stable=True).indices]  # front to back, ties in order
    det = det[sel]
    return {
        "index": idx[sel],
        "means2d": means2d[sel],
        "conics": torch.stack([c[sel] / det, -b[sel] / det, a[sel] / det], dim=-1),
        "depths": z[sel],
        "extents": ext[sel],
    }


def _bin_tiles(
    means2d: torch.Tensor, extents: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(tile id, Gaussian index) pairs sorted by tile then depth; no grad."""
    m = means2d.detach()
    x0 = torch.ceil(m[:, 0] - extents[:, 0] - 0.5).clamp(0, width).long()
    x1 = (torch.floor(m[:, 0] + extents[:, 0] - 0.5) + 1).clamp(0, width).long()
    y0 = torch.ceil(m[:, 1] - extents[:, 1] - 0.5).clamp(0, height).long()
    y1 = (torch.floor(m[:, 1] + extents[:, 1] - 0.5) + 1).clamp(0, height).long()
    nonempty = (x1 > x0) & (y1 > y0)
    tx0, ty0 = x0 // TILE, y0 // TILE
    nx = torch.where(nonempty, (x1 - 1) // TILE - tx0 + 1, 0)
    ny = torch.where(nonempty, (y1 - 1) // TILE - ty0 + 1, 0)
    counts = nx * ny
    gid = torch.repeat_interleave(torch.arange(len(m), device=m.device), counts)
    first = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    local = torch.arange(len(gid), device=m.device) - first
    tiles_x = -(-width // TILE)
    tile = (ty0[gid] + local // nx[gid]) * tiles_x + tx0[gid] + local % nx[gid]
    order = torch.sort(tile, stable=True).indices  # gid is already front to back
    return tile[order], gid[order]


def render_torch(
    means: torch.Tensor,  # [N, 3]
    quats: torch.Tensor,  # [N, 4] wxyz
    scales: torch.Tensor,  # [N, 3] linear standard deviations
    opacities: torch.Tensor,  # [N]
    colors: torch.Tensor,  # [N, 3]
    camera: Camera,
    background: torch.Tensor | None = None,  # [3]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RGB over ``background`` ``[H, W, 3]``, alpha ``[H, W]``, expected depth ``[H, W]``."""
    width, height = camera.width, camera.height
    dtype, device = means.dtype, means.device
    tiles_x, tiles_y = -(-width // TILE), -(-height // TILE)
    n_tiles, n_pix = tiles_x * tiles_y, TILE * TILE
    proj = project_torch(means, quats, scales, opacities, camera)
    idx = proj["index"]
    tile_of, gid = _bin_tiles(proj["means2d"], proj["extents"], width, height)

    # Parameters of the survivors plus one transparent dummy (index M) for the padding.
    def padded(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, torch.zeros_like(x[:1])])

    g_mean, g_conic = padded(proj["means2d"]), padded(proj["conics"])
    g_opac, g_color = padded(opacities[idx]), padded(colors[idx])
    g_depth = padded(proj["depths"])
    dummy = len(idx)

    per_tile = torch.bincount(tile_of, minlength=n_tiles)
    start = torch.cumsum(per_tile, 0) - per_tile
    active = torch.nonzero(per_tile).squeeze(1)
    active = active[torch.sort(per_tile[active], descending=True, stable=True).indices]
    counts = per_tile[active].tolist()

    ly, lx = torch.meshgrid(torch.arange(TILE), torch.arange(TILE), indexing="ij")
    local_xy = torch.stack([lx.reshape(-1), ly.reshape(-1)], -1).to(device, dtype) + 0.5
    log_t_min = math.log(T_MIN)
    out_rgb, out_w, out_depth, done_tiles = [], [], [], []
    i = 0
    while i < len(active):
        k_max = max(counts[i], 1)
        n_chunk = max(1, min(len(active) - i, CHUNK_ELEMENTS // (n_pix * k_max)))
        tiles = active[i : i + n_chunk]
        i += n_chunk
        with torch.no_grad():
            slot = torch.arange(k_max, device=device)
            pos = start[tiles][:, None] + slot  # [c, K]
            valid = slot[None, :] < per_tile[tiles][:, None]
            g = torch.where(valid, gid[pos.clamp_max(len(gid) - 1)], dummy)
            origin = torch.stack([tiles % tiles_x, tiles // tiles_x], -1).to(dtype) * TILE
            pix = origin[:, None, :] + local_xy[None]  # [c, P, 2]
        d = pix[:, :, None, :] - g_mean[g][:, None, :, :]  # [c, P, K, 2]
        dx, dy = d[..., 0], d[..., 1]
        conic = g_conic[g][:, None]  # [c, 1, K, 3]
        q = conic[..., 0] * dx * dx + 2.0 * conic[..., 1] * dx * dy + conic[..., 2] * dy * dy
        alpha = (g_opac[g][:, None, :] * torch.exp(-0.5 * q)).clamp_max(ALPHA_MAX)
        alpha = torch.where(alpha >= ALPHA_MIN, alpha, torch.zeros_like(alpha))
        log_1m = torch.log1p(-alpha)
        with torch.no_grad():
            alive = torch.cumsum(log_1m, -1) >= log_t_min  # T after k still ≥ 1e-4
        alpha = torch.where(alive, alpha, torch.zeros_like(alpha))
        log_1m = torch.where(alive, log_1m, torch.zeros_like(log_1m))
        weight = alpha * torch.exp(torch.cumsum(log_1m, -1) - log_1m)  # α_k T_{k−1}
        out_rgb.append(torch.einsum("cpk,ckd->cpd", weight, g_color[g]))
        out_w.append(weight.sum(-1))
        out_depth.append(torch.einsum("cpk,ck->cp", weight, g_depth[g]))
        done_tiles.append(tiles)

    order = torch.cat(done_tiles) if done_tiles else torch.zeros(0, dtype=torch.long)
    rgb_t = torch.zeros(n_tiles, n_pix, 3, dtype=dtype, device=device)
    w_t = torch.zeros(n_tiles, n_pix, dtype=dtype, device=device)
    d_t = torch.zeros(n_tiles, n_pix, dtype=dtype, device=device)
    if done_tiles:
        rgb_t = rgb_t.index_copy(0, order, torch.cat(out_rgb))
        w_t = w_t.index_copy(0, order, torch.cat(out_w))
        d_t = d_t.index_copy(0, order, torch.cat(out_depth))

    def image(x: torch.Tensor) -> torch.Tensor:  # [tiles, P, ...] → [H, W, ...]
        x = x.reshape(tiles_y, tiles_x, TILE, TILE, *x.shape[2:]).transpose(1, 2)
        return x.reshape(tiles_y * TILE, tiles_x * TILE, *x.shape[4:])[:height, :width]

    color, alpha_img, acc_depth = image(rgb_t), image(w_t), image(d_t)
    if background is None:
        background = torch.zeros(3, dtype=dtype, device=device)
    rgb = color + (1.0 - alpha_img)[..., None] * background.to(dtype)
    safe = torch.where(alpha_img > 0, alpha_img, torch.ones_like(alpha_img))
    depth = torch.where(alpha_img > 0, acc_depth / safe, torch.zeros_like(acc_depth))
    return rgb, alpha_img, depth


def scene_tensors(
    scene: GaussianScene, dtype: torch.dtype = torch.float32
) -> dict[str, torch.Tensor]:
    """The scene's arrays as tensors, keyed like ``render_torch``'s arguments."""
    return {
        name: torch.as_tensor(np.asarray(getattr(scene, name)), dtype=dtype)
        for name in ("means", "quats", "scales", "opacities", "colors")
    }


def render_scene_torch(
    scene: GaussianScene, camera: Camera, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``render_torch`` without grad on a ``GaussianScene``; float32 numpy outputs."""
    with torch.no_grad():
        rgb, alpha, depth = render_torch(
            **scene_tensors(scene),
            camera=camera,
            background=torch.as_tensor(background, dtype=torch.float32),
        )
    return rgb.numpy().copy(), alpha.numpy().copy(), depth.numpy().copy()
