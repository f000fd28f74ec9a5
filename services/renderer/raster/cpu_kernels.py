"""The numba-compiled kernels of the CPU rasteriser (``cpu.py`` runs them per frame).

- ``_project``: cull and project, one Gaussian per iteration (serial, float64) — the same
  arithmetic and rules as ``projection.project``, fused into one pass;
- ``_bin_tiles``: counting sort of (tile, Gaussian) pairs by tile over the depth-sorted
  Gaussians (serial);
- ``_rasterise``: the tiles, ``prange`` over stripes of tiles (float32), front to back with
  the row-span and forward-difference evaluation described in ``cpu.py``;
- ``_boxes``: ``cpu.pixel_boxes`` (the numpy original) for the projected rows, in one pass.

A frame's video pixels are composited by ``frame_kernels``.

All release the GIL (``nogil``): both heads of a conversation and the encoders run in threads.

Compiled code is cached on disk (numba ``cache=True``, next to this file or in
``NUMBA_CACHE_DIR``); where no cache directory is writable it is compiled in memory per process
(``_jit``, also used by ``avatars.binding_fast``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import prange

from .projection import (
    ALPHA_MAX,
    ALPHA_MIN,
    EPS2D,
    JACOBIAN_CLAMP,
    MAX_EXTENT_FACTOR,
    NEAR_PLANE,
    T_MIN,
)

_F32_ALPHA_MAX = np.float32(ALPHA_MAX)
_F32_ALPHA_MIN = np.float32(ALPHA_MIN)
_F32_T_MIN = np.float32(T_MIN)
_F32_HALF = np.float32(0.5)
_F32_ONE = np.float32(1.0)
_F32_ZERO = np.float32(0.0)
#: The tiles: wide and short. A Gaussian's row is set up once per tile it crosses (its span
#: solved, two ``exp``), and most of a frame's cost is those set-ups: rows 512 px wide cross
#: far fewer tile edges than 16×16 tiles (the human head at 512²: −33 % per frame, the same
#: image up to float32 rounding); a tile's accumulators (192 KiB) stay in the L2 cache.
TILE_W, TILE_H = 512, 16
_SPAN_PAD = 1e-3  # px of slack on each row's solved span (rounding); the q test decides


def _jit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``njit(cache=True)``, or without the cache where no cache directory is writable."""

    def decorate(fn: Callable[..., Any]) -> Any:
        try:
            return numba.njit(cache=True, fastmath=False, **options)(fn)
        except RuntimeError:  # "cannot cache function …: no locator available"
            return numba.njit(cache=False, fastmath=False, **options)(fn)

    return decorate


# Columns of the compiled projection's output rows.
_MX, _MY, _CA, _CB, _CC, _QMAX, _EX, _EY, _Z = range(9)


@_jit(nogil=True)
def _project(
    means: np.ndarray,  # [N, 3] f4
    quats: np.ndarray,  # [N, 4] f4
    scales: np.ndarray,  # [N, 3] f4
    opacities: np.ndarray,  # [N] f4
    viewmat: np.ndarray,  # [4, 4] f8
    intrinsics: np.ndarray,  # [3, 3] f8
    width: int,
    height: int,
    out: np.ndarray,  # [N, 9] f8: mx, my, conic A, B, C, q_max, ex, ey, z
    keep: np.ndarray,  # [N] bool
) -> None:
    """``projection.project`` for one Gaussian per iteration, without the sort."""
    fx, fy = intrinsics[0, 0], intrinsics[1, 1]
    cx, cy = intrinsics[0, 2], intrinsics[1, 2]
    lim_xn, lim_xp = JACOBIAN_CLAMP * cx / fx, JACOBIAN_CLAMP * (width - cx) / fx
    lim_yn, lim_yp = JACOBIAN_CLAMP * cy / fy, JACOBIAN_CLAMP * (height - cy) / fy
    limit = MAX_EXTENT_FACTOR * max(width, height)
    for i in range(means.shape[0]):
        keep[i] = False
        op = np.float64(opacities[i])
        px, py, pz = np.float64(means[i, 0]), np.float64(means[i, 1]), np.float64(means[i, 2])
        z = viewmat[2, 0] * px + viewmat[2, 1] * py + viewmat[2, 2] * pz + viewmat[2, 3]
        if not (op >= ALPHA_MIN and z >= NEAR_PLANE):
            continue
        x = viewmat[0, 0] * px + viewmat[0, 1] * py + viewmat[0, 2] * pz + viewmat[0, 3]
        y = viewmat[1, 0] * px + viewmat[1, 1] * py + viewmat[1, 2] * pz + viewmat[1, 3]
        qw, qx = np.float64(quats[i, 0]), np.float64(quats[i, 1])
        qy, qz = np.float64(quats[i, 2]), np.float64(quats[i, 3])
        norm = np.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        qw, qx, qy, qz = qw / norm, qx / norm, qy / norm, qz / norm
        r00, r01, r02 = (
            1 - 2 * (qy * qy + qz * qz),
            2 * (qx * qy - qw * qz),
            2 * (qx * qz + qw * qy),
        )
        r10, r11, r12 = (
            2 * (qx * qy + qw * qz),
            1 - 2 * (qx * qx + qz * qz),
            2 * (qy * qz - qw * qx),
        )
        r20, r21, r22 = (
            2 * (qx * qz - qw * qy),
            2 * (qy * qz + qw * qx),
            1 - 2 * (qx * qx + qy * qy),
        )
        inv_z = 1.0 / z
        u = min(max(x * inv_z, -lim_xn), lim_xp)
        v = min(max(y * inv_z, -lim_yn), lim_yp)
        a, b, c = EPS2D, 0.0, EPS2D
        for k in range(3):  # column k of W R S, then of J W R S
            s = np.float64(scales[i, k])
            rk0 = (r00, r01, r02)[k]  # column k of R
            rk1 = (r10, r11, r12)[k]
            rk2 = (r20, r21, r22)[k]
            m0 = (viewmat[0, 0] * rk0 + viewmat[0, 1] * rk1 + viewmat[0, 2] * rk2) * s
            m1 = (viewmat[1, 0] * rk0 + viewmat[1, 1] * rk1 + viewmat[1, 2] * rk2) * s
            m2 = (viewmat[2, 0] * rk0 + viewmat[2, 1] * rk1 + viewmat[2, 2] * rk2) * s
            j0 = (fx * inv_z) * (m0 - u * m2)
            j1 = (fy * inv_z) * (m1 - v * m2)
            a += j0 * j0
            b += j0 * j1
            c += j1 * j1
        det = a * c - b * b
        mx = fx * x * inv_z + cx
        my = fy * y * inv_z + cy
        q_max = 2.0 * np.log(op / ALPHA_MIN)
        ex, ey = np.sqrt(q_max * a), np.sqrt(q_max * c)
        if not (det > 0 and ex <= limit and ey <= limit and np.isfinite(det)):
            continue
        if not (np.isfinite(mx) and np.isfinite(my)):
            continue
        if not (mx + ex > 0 and mx - ex < width and my + ey > 0 and my - ey < height):
            continue
        keep[i] = True
        out[i, _MX], out[i, _MY] = mx, my
        out[i, _CA], out[i, _CB], out[i, _CC] = c / det, -b / det, a / det
        out[i, _QMAX], out[i, _EX], out[i, _EY], out[i, _Z] = q_max, ex, ey, z


@_jit(nogil=True)
def _bin_tiles(rect: np.ndarray, tiles_x: int, n_tiles: int) -> tuple[np.ndarray, np.ndarray]:
    """Counting sort of (tile, Gaussian) pairs by tile; Gaussians arrive front to back.

    ``rect`` ``[M, 4]`` int32 = pixel box (x0, x1, y0, y1), end exclusive, inside the image.
    Returns ``offsets`` ``[n_tiles + 1]`` and ``ids`` ``[offsets[-1]]`` (Gaussian indices).
    """
    m = rect.shape[0]
    offsets = np.zeros(n_tiles + 1, dtype=np.int64)
    for g in range(m):
        x0, x1, y0, y1 = rect[g, 0], rect[g, 1], rect[g, 2], rect[g, 3]
        if x0 >= x1 or y0 >= y1:
            continue
        for ty in range(y0 // TILE_H, (y1 - 1) // TILE_H + 1):
            for tx in range(x0 // TILE_W, (x1 - 1) // TILE_W + 1):
                offsets[ty * tiles_x + tx + 1] += 1
    for t in range(n_tiles):
        offsets[t + 1] += offsets[t]
    cursor = offsets[:n_tiles].copy()
    ids = np.empty(offsets[n_tiles], dtype=np.int32)
    for g in range(m):
        x0, x1, y0, y1 = rect[g, 0], rect[g, 1], rect[g, 2], rect[g, 3]
        if x0 >= x1 or y0 >= y1:
            continue
        for ty in range(y0 // TILE_H, (y1 - 1) // TILE_H + 1):
            for tx in range(x0 // TILE_W, (x1 - 1) // TILE_W + 1):
                t = ty * tiles_x + tx
                ids[cursor[t]] = g
                cursor[t] += 1
    return offsets, ids


@_jit(nogil=True)
def _stripe(
    stripe: int,
    means2d: np.ndarray,  # [M, 2] f4
    conics: np.ndarray,  # [M, 3] f8 (A, B, C); f8 so thin ellipses keep det(conic) > 0
    colors: np.ndarray,  # [M, 3] f4
    opacities: np.ndarray,  # [M] f4
    q_max: np.ndarray,  # [M] f4
    depths: np.ndarray,  # [M] f4
    rect: np.ndarray,  # [M, 4] i4 pixel boxes
    offsets: np.ndarray,  # [n_tiles + 1] i8
    ids: np.ndarray,  # [K] i4
    tiles_x: int,
    n_stripes: int,
    background: np.ndarray,  # [3] f4
    out_rgb: np.ndarray,  # [H, W, 3] f4, written entirely
    out_alpha: np.ndarray,  # [H, W] f4
    out_depth: np.ndarray,  # [H, W] f4 expected depth (0 where alpha = 0)
) -> None:
    """Tiles ``stripe``, ``stripe + n_stripes``, … of the frame (see ``_rasterise``)."""
    height, width = out_alpha.shape
    n_tiles = offsets.shape[0] - 1
    trans = np.empty(TILE_W * TILE_H, dtype=np.float32)
    acc = np.empty((TILE_W * TILE_H, 4), dtype=np.float32)  # r, g, b, depth
    stopped = np.empty(TILE_W * TILE_H, dtype=np.float32)  # T where a pixel stopped
    row_done = np.empty(TILE_H, dtype=np.int64)  # done pixels per tile row
    for tile in range(stripe, n_tiles, n_stripes):
        tx0 = (tile % tiles_x) * TILE_W
        ty0 = (tile // tiles_x) * TILE_H
        tw = min(TILE_W, width - tx0)
        th = min(TILE_H, height - ty0)
        n_pix = tw * th
        trans[:n_pix] = _F32_ONE
        acc[:n_pix] = _F32_ZERO
        row_done[:] = 0
        n_done = 0
        for k in range(offsets[tile], offsets[tile + 1]):
            gi = ids[k]
            x0 = max(rect[gi, 0], tx0)
            x1 = min(rect[gi, 1], tx0 + tw)
            y0 = max(rect[gi, 2], ty0)
            y1 = min(rect[gi, 3], ty0 + th)
            mx, my = means2d[gi, 0], means2d[gi, 1]
            ca64, cb64, cc64 = conics[gi, 0], conics[gi, 1], conics[gi, 2]
            ca, cb, cc = np.float32(ca64), np.float32(cb64), np.float32(cc64)
            op, qm, z = opacities[gi], q_max[gi], depths[gi]
            cr, cg, cbl = colors[gi, 0], colors[gi, 1], colors[gi, 2]
            decay = np.exp(-ca)
            det = ca64 * cc64 - cb64 * cb64
            inv_ca = 1.0 / ca64
            ca_qm = ca64 * np.float64(qm)
            b_over_a = cb64 * inv_ca
            mx_half = np.float64(mx) - 0.5
            for py in range(y0, y1):
                ly = py - ty0
                if row_done[ly] == tw:
                    continue
                dy = np.float32(py) + _F32_HALF - my
                # The row's pixels inside the support ellipse q ≤ q_max, a superset by
                # _SPAN_PAD (the α ≥ 1/255 test below decides); float64 for thin ellipses.
                dy64 = np.float64(dy)
                disc = ca_qm - det * dy64 * dy64
                if disc < 0.0:
                    continue
                half = np.sqrt(disc) * inv_ca + _SPAN_PAD
                centre = mx_half - b_over_a * dy64
                sx0 = max(x0, np.int64(np.ceil(centre - half)))
                sx1 = min(x1, np.int64(np.floor(centre + half)) + 1)
                row = ly * tw - tx0
                if sx0 >= sx1:
                    continue
                # Gaussian along the row by forward differences (exact in real numbers):
                # g(dx+1) = g(dx)·r(dx), r(dx+1) = r(dx)·e^(−A), r(dx) = e^(−(A(2dx+1)+2B dy)/2)
                dx = np.float32(sx0) + _F32_HALF - mx
                q = ca * dx * dx + np.float32(2.0) * cb * dx * dy + cc * dy * dy
                gv = op * np.exp(-_F32_HALF * q)  # o·e^(−q/2) at the current pixel
                r = np.exp(
                    -_F32_HALF
                    * (ca * (np.float32(2.0) * dx + _F32_ONE) + np.float32(2.0) * cb * dy)
                )
                for px in range(sx0, sx1):
                    li = row + px
                    og = gv
                    gv = gv * r
                    r = r * decay
                    t = trans[li]
                    if t == _F32_ZERO:  # this pixel has stopped
                        continue
                    alpha = min(_F32_ALPHA_MAX, og)
                    if alpha < _F32_ALPHA_MIN:
                        continue
                    next_t = t * (_F32_ONE - alpha)
                    if next_t < _F32_T_MIN:
                        trans[li] = _F32_ZERO
                        stopped[li] = t
                        row_done[ly] += 1
                        n_done += 1
                        continue
                    w = alpha * t
                    acc[li, 0] += w * cr
                    acc[li, 1] += w * cg
                    acc[li, 2] += w * cbl
                    acc[li, 3] += w * z
                    trans[li] = next_t
            if n_done == n_pix:
                break
        for ly in range(th):
            for lx in range(tw):
                li = ly * tw + lx
                t = trans[li]
                if t == _F32_ZERO:
                    t = stopped[li]
                a = _F32_ONE - t
                y, x = ty0 + ly, tx0 + lx
                out_rgb[y, x, 0] = acc[li, 0] + t * background[0]
                out_rgb[y, x, 1] = acc[li, 1] + t * background[1]
                out_rgb[y, x, 2] = acc[li, 2] + t * background[2]
                out_alpha[y, x] = a
                out_depth[y, x] = acc[li, 3] / a if a > _F32_ZERO else _F32_ZERO


@_jit(parallel=True, nogil=True)
def _rasterise(
    means2d: np.ndarray,  # [M, 2] f4
    conics: np.ndarray,  # [M, 3] f8 (A, B, C); f8 so thin ellipses keep det(conic) > 0
    colors: np.ndarray,  # [M, 3] f4
    opacities: np.ndarray,  # [M] f4
    q_max: np.ndarray,  # [M] f4
    depths: np.ndarray,  # [M] f4
    rect: np.ndarray,  # [M, 4] i4 pixel boxes
    offsets: np.ndarray,  # [n_tiles + 1] i8
    ids: np.ndarray,  # [K] i4
    tiles_x: int,
    n_stripes: int,
    background: np.ndarray,  # [3] f4
    out_rgb: np.ndarray,  # [H, W, 3] f4, written entirely
    out_alpha: np.ndarray,  # [H, W] f4
    out_depth: np.ndarray,  # [H, W] f4 expected depth (0 where alpha = 0)
) -> None:
    """Every tile, ``n_stripes`` stripes in parallel (``_stripe(0, 1, …)`` is the serial twin)."""
    for stripe in prange(n_stripes):
        _stripe(
            stripe,
            means2d,
            conics,
            colors,
            opacities,
            q_max,
            depths,
            rect,
            offsets,
            ids,
            tiles_x,
            n_stripes,
            background,
            out_rgb,
            out_alpha,
            out_depth,
        )


@_jit(nogil=True)
def _boxes(proj: np.ndarray, width: int, height: int, rect: np.ndarray) -> None:
    """``cpu.pixel_boxes`` of the projected rows ``[M, 9]`` into ``rect`` ``[M, 4]`` int32."""
    for g in range(proj.shape[0]):
        mx, my, ex, ey = proj[g, _MX], proj[g, _MY], proj[g, _EX], proj[g, _EY]
        rect[g, 0] = min(max(np.ceil(mx - ex - 0.5), 0.0), width)
        rect[g, 1] = min(max(np.floor(mx + ex - 0.5) + 1.0, 0.0), width)
        rect[g, 2] = min(max(np.ceil(my - ey - 0.5), 0.0), height)
        rect[g, 3] = min(max(np.floor(my + ey - 0.5) + 1.0, 0.0), height)
