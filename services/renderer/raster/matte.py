"""Video frames matted to the silhouette of the surface their Gaussians are bound to.

An avatar's Gaussians are flat, one per triangle, and each must reach its triangle's corners
to close the surface, so it runs about one triangle side past the triangle's centre. On the
outline that overhang stands off the curved surface into the background: on the human bust,
whose hair, beard and clothing shells have triangles of 15–40 px at 512², a band up to
~10 px wide round the hair and streaks off the shoulders (``bench/silhouette.py`` measures it
unmatted). Smaller triangles shrink it, at a price the CPU path cannot pay: splitting every
triangle longer than 8 mm that can lie on the outline takes the bust from 16.7k to 51.5k
Gaussians and one head from 50 to 30 fps, and still leaves ~1100 stray pixels at 512²
(measured on this machine while fixing issue 17; the experiment is described in the
renderer's README).

So a video frame is matted instead: the posed mesh's coverage (pixel centres inside any
projected front-facing triangle, ``coverage_reference``) is grown by ``FULL_RINGS`` rings
of 4-neighbour pixels at full weight and one more at ``FEATHER`` weight, and the frame's
premultiplied colour and α are multiplied by that matte before the surface is closed and
composited. Inside the grown outline nothing changes; beyond it, nothing of the head is
drawn. The Gaussians' own soft edge survives in the first ring, the half-weight ring
antialiases the cut. It costs 1.4 ms of a 21 ms frame of the human bust at 512² (the
coverage is a scanline fill, ``frame_kernels``).

``render_frame`` applies it when the scene carries its surface (``GaussianScene.surface``),
on every backend: the numpy functions here are the reference, ``frame_kernels`` the compiled
CPU path (``test_matte`` holds them equal). ``render`` (what fitting differentiates) is never
matted.
"""

from __future__ import annotations

import numpy as np

from .camera import Camera

#: Rings of pixels round the coverage at full weight: the Gaussians' own antialiased edge.
FULL_RINGS = 1
#: The next ring, at half weight; nothing beyond. Together they stay inside the 2 px margin
#: issue 17 measures stray Gaussians against.
FEATHER = 0.5


def coverage_reference(
    camera: Camera, vertices: np.ndarray, faces: np.ndarray, *, front_only: bool = True
) -> np.ndarray:
    """``[H, W]`` bool: pixel centres inside any front-facing triangle of ``vertices [V, 3]``
    / ``faces [F, 3]`` projected by ``camera``; edges count as inside. Triangles with a corner
    behind the camera are skipped, and those facing away (on screen, with y down, their
    corners turn clockwise; edge-on ones too): on the outward-oriented surface of a head
    they lie behind the front ones, and video frames cull their Gaussians (``front_only``
    off: every triangle, the mesh's whole silhouette). The plain edge-function rule, in
    float64."""
    uv, depth = camera.project_points(np.asarray(vertices, np.float64))
    faces = np.asarray(faces, np.int64)
    tris = uv[faces[(depth[faces] > 0).all(1)]]  # [F', 3, 2]
    ab, ac = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    facing = ab[:, 0] * ac[:, 1] - ab[:, 1] * ac[:, 0] < 0.0
    mask = np.zeros((camera.height, camera.width), bool)
    for tri in tris[facing] if front_only else tris:  # [3, 2]
        lo = np.maximum(np.floor(tri.min(0)).astype(int), 0)
        hi = np.minimum(np.ceil(tri.max(0)).astype(int), (camera.width - 1, camera.height - 1))
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


def grow(mask: np.ndarray, rings: int) -> np.ndarray:
    """``mask [H, W]`` bool grown by ``rings`` steps of 4-neighbour dilation."""
    out = np.asarray(mask, bool).copy()
    for _ in range(rings):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def matte_reference(coverage: np.ndarray) -> np.ndarray:
    """``[H, W]`` float32 matte of a coverage mask: 1 on the coverage grown by
    ``FULL_RINGS``, ``FEATHER`` on the next ring, 0 beyond."""
    full = grow(coverage, FULL_RINGS)
    out = np.where(grow(full, 1), np.float32(FEATHER), np.float32(0.0)).astype(np.float32)
    out[full] = 1.0
    return out


def apply_matte(
    rgb: np.ndarray, alpha: np.ndarray, matte: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``rgb [H, W, 3]`` drawn over black and ``alpha [H, W]`` with both multiplied by
    ``matte [H, W]`` (premultiplied colour: the same cut for colour and coverage)."""
    m = np.asarray(matte, np.float32)
    return (np.asarray(rgb, np.float32) * m[..., None]), (np.asarray(alpha, np.float32) * m)
