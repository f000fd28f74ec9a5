"""The mesh's own silhouette, and how a Gaussian render sits on it (issue 17).

``mesh_mask`` fills the posed triangles with a plain edge-function rasteriser (pixel centres
inside any projected triangle), independent of the Gaussian rasterisers it checks.
``silhouette_stats`` compares a render's alpha with it: *stray* pixels (α above 0.02 outside
the mask dilated by 2 px) and the *interior* (the mask eroded by 2 px) that is opaque (α ≥ 0.99).
Shared by ``test_silhouette.py`` and ``bench/silhouette.py``; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.services.renderer.raster.camera import Camera

STRAY_ALPHA = 0.02
OPAQUE_ALPHA = 0.99
MARGIN_PX = 2


def mesh_mask(verts: np.ndarray, faces: np.ndarray, cam: Camera) -> np.ndarray:
    """[H, W] bool: pixel centres inside any projected triangle of ``verts [V, 3]``."""
    uv, depth = cam.project_points(np.asarray(verts, np.float64))
    mask = np.zeros((cam.height, cam.width), bool)
    for tri in uv[faces[(depth[faces] > 0).all(1)]]:  # [3, 2]
        lo = np.maximum(np.floor(tri.min(0)).astype(int), 0)
        hi = np.minimum(np.ceil(tri.max(0)).astype(int), (cam.width - 1, cam.height - 1))
        if (hi < lo).any():
            continue
        xs, ys = np.meshgrid(np.arange(lo[0], hi[0] + 1) + 0.5, np.arange(lo[1], hi[1] + 1) + 0.5)
        e = [
            (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
            for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))
        ]
        inside = ((e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)) | (
            (e[0] <= 0) & (e[1] <= 0) & (e[2] <= 0)
        )
        mask[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] |= inside
    return mask


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """``px`` steps of 4-neighbour dilation (scipy's default ``binary_dilation``)."""
    out = mask.copy()
    for _ in range(px):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """``px`` steps of 4-neighbour erosion; outside the image counts as outside the mask."""
    return ~dilate(~np.pad(mask, px), px)[px:-px, px:-px] if px else mask.copy()


@dataclass(frozen=True)
class SilhouetteStats:
    stray_px: int  # α > STRAY_ALPHA outside the mask dilated by MARGIN_PX
    stray_beyond_5px: int  # of those, the ones 3 px further out still
    max_alpha_outside: float
    interior_px: int  # the mask eroded by MARGIN_PX
    interior_opaque: float  # fraction of the interior with α ≥ OPAQUE_ALPHA


def silhouette_stats(alpha: np.ndarray, mask: np.ndarray) -> SilhouetteStats:
    outline = dilate(mask, MARGIN_PX)
    stray = (alpha > STRAY_ALPHA) & ~outline
    interior = erode(mask, MARGIN_PX)
    return SilhouetteStats(
        stray_px=int(stray.sum()),
        stray_beyond_5px=int((stray & ~dilate(outline, 3)).sum()),
        max_alpha_outside=float(alpha[~outline].max(initial=0.0)),
        interior_px=int(interior.sum()),
        interior_opaque=float((alpha[interior] >= OPAQUE_ALPHA).mean()) if interior.any() else 1.0,
    )
