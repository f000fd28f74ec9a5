"""The fast CPU rasteriser: 512×16 tiles, depth-sorted per-tile lists, numba-compiled.

Pipeline per frame:

1. cull and project (compiled, serial — ~1 ms for 10k — float64): the same arithmetic and
   rules as ``projection.project`` — the numpy original that the reference renderer and
   the tests use — fused into one pass; then a stable depth sort (numpy);
2. pixel boxes of each Gaussian's exact support (q ≤ q_max) and the tiles they touch
   (compiled; ``pixel_boxes`` is the numpy original the tests hold it to);
3. binning (compiled, serial): counting sort by tile id over the depth-sorted Gaussians, so
   every tile's list is a contiguous, depth-ordered slice (the key is (tile, depth), as in
   gsplat's isect_tiles / isect_offset_encode, without a general sort);
4. rasterising (compiled, ``prange`` over tiles, float32): each tile takes its Gaussians
   front to back; each pixel row of a Gaussian's box inside the tile is cut to the span where
   q ≤ q_max (solved in float64), and along the span the Gaussian is evaluated by forward
   differences, g(x+1) = g(x)·r(x), r(x+1) = r(x)·e^(−A) — exact in real arithmetic, two
   ``exp`` per row instead of one per pixel; a pixel stops before T < 1e-4, and a row or a
   whole tile is skipped once all its pixels have stopped.

Tiles are wide and short (``TILE_W`` × ``TILE_H``, 512 × 16): a Gaussian's row is set up once
per tile it crosses, and those set-ups are most of a frame's cost. They are dealt round-robin
to the threads (tile i to thread i mod n), which balances a head in the middle of the frame far
better than contiguous blocks; ``parallel=False`` draws them all on the calling thread.

The kernels are in ``cpu_kernels.py``; this module runs them for one frame.
"""

from __future__ import annotations

import threading

import numba
import numpy as np

from .camera import Camera
from .cpu_kernels import (
    _CA,
    _CC,
    _MX,
    _MY,
    _QMAX,
    _Z,
    TILE_H,
    TILE_W,
    _bin_tiles,
    _boxes,
    _project,
    _rasterise,
    _stripe,
)
from .frame_kernels import _to_uint8, frame_coverage
from .matte import FEATHER, FULL_RINGS
from .projection import depth_order
from .scene import GaussianScene
from .surface import SOLID_AT, SOLID_FROM


def pixel_boxes(means2d: np.ndarray, extents: np.ndarray, width: int, height: int) -> np.ndarray:
    """``[M, 4]`` int32 (x0, x1, y0, y1): the pixels whose centres lie in the support box.

    Pixel i's centre is i + 0.5, so the box [m − e, m + e] holds i ∈ [⌈m − e − ½⌉, ⌊m + e − ½⌋].
    Clipped to the image; an empty box has x0 ≥ x1 or y0 ≥ y1.
    """
    lo = np.ceil(means2d - extents - 0.5)
    hi = np.floor(means2d + extents - 0.5) + 1.0
    rect = np.empty((means2d.shape[0], 4), dtype=np.int32)
    rect[:, 0] = np.clip(lo[:, 0], 0, width)
    rect[:, 1] = np.clip(hi[:, 0], 0, width)
    rect[:, 2] = np.clip(lo[:, 1], 0, height)
    rect[:, 3] = np.clip(hi[:, 1], 0, height)
    return rect


_LOCK = threading.Lock()  # one parallel kernel at a time; each already uses every core
_NO_PLATE = np.zeros((0, 0, 3), np.float32)
_NO_COVER = np.zeros((0, 0), np.uint8)
_NO_ALPHA = np.zeros((0, 0), np.float32)


def project_compiled(scene: GaussianScene, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """The compiled twin of ``projection.project``: kept scene indices ``[M]``, front to
    back, and their rows ``[M, 9]`` (mx, my, conic A, B, C, q_max, ex, ey, z; float64)."""
    n = scene.n
    per_g = np.empty((n, 9))
    keep = np.empty(n, dtype=np.bool_)
    _project(  # serial and without the GIL: another head's frame may run meanwhile
        scene.means,
        scene.quats,
        scene.scales,
        scene.opacities,
        np.ascontiguousarray(camera.viewmat),
        np.ascontiguousarray(camera.K),
        camera.width,
        camera.height,
        per_g,
        keep,
    )
    idx = np.flatnonzero(keep)
    idx = idx.take(depth_order(per_g[idx, _Z]))  # front to back, ties in scene order
    return idx, per_g.take(idx, axis=0)


def render_cpu(
    scene: GaussianScene, camera: Camera, background: np.ndarray, *, parallel: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB over ``background`` ``[H, W, 3]``, alpha ``[H, W]``, expected depth ``[H, W]``.

    All float32. ``scene`` and ``camera`` must be valid (``raster.render`` checks).
    ``parallel``: the tiles on every numba thread (one frame at a time); off, on the calling
    thread only — the same image — so that several threads can each draw a frame at once.
    """
    w, h = camera.width, camera.height
    tiles_x, tiles_y = -(-w // TILE_W), -(-h // TILE_H)
    f32 = np.float32
    idx, proj = project_compiled(scene, camera)
    rect = np.empty((proj.shape[0], 4), dtype=np.int32)
    _boxes(proj, w, h, rect)  # = pixel_boxes(means2d, extents, w, h), compiled
    means2d = np.ascontiguousarray(proj[:, _MX : _MY + 1], dtype=f32)
    conics = np.ascontiguousarray(proj[:, _CA : _CC + 1])
    q_max = np.ascontiguousarray(proj[:, _QMAX], dtype=f32)
    depths = np.ascontiguousarray(proj[:, _Z], dtype=f32)
    colors = scene.colors.take(idx, axis=0)
    opacities = scene.opacities.take(idx)
    bg = np.ascontiguousarray(background, dtype=f32).reshape(3)
    rgb = np.empty((h, w, 3), dtype=f32)
    alpha = np.empty((h, w), dtype=f32)
    depth = np.empty((h, w), dtype=f32)
    offsets, ids = _bin_tiles(rect, tiles_x, tiles_x * tiles_y)
    # ``_stripe(stripe, *gaussians, n_stripes, *outputs)`` and ``_rasterise(*gaussians,
    # n_stripes, *outputs)`` take the same arrays
    gaussians = (means2d, conics, colors, opacities, q_max, depths, rect, offsets, ids, tiles_x)
    outputs = (bg, rgb, alpha, depth)
    if not parallel:  # this thread alone, no lock: other frames may be drawn meanwhile
        _stripe(0, *gaussians, 1, *outputs)
        return rgb, alpha, depth
    with _LOCK:  # the parallel kernel one frame at a time (numba's pools are not reentrant)
        _rasterise(*gaussians, numba.get_num_threads(), *outputs)
    return rgb, alpha, depth


def to_uint8_cpu(
    rgb: np.ndarray,
    alpha: np.ndarray,
    plate: np.ndarray | None,
    colour: np.ndarray,
    cover: np.ndarray | None = None,
    alpha_out: np.ndarray | None = None,
) -> np.ndarray:
    """``[H, W, 3]`` uint8 video pixels of a frame, in one compiled pass: ``rgb`` drawn over
    black, cut to the matte of ``cover`` ``[H, W]`` uint8 (the head's coverage,
    ``frame_kernels.frame_coverage``) where given (``matte``), its surface
    closed (``surface.close_surface``) and composited over ``plate`` or, without one, the
    ``colour`` ``[3]``. The same numbers as ``raster.render_frame``'s numpy path
    (``test_raster_fast_paths``, ``test_matte``). ``alpha_out`` ``[H, W]`` float32, where
    given, receives the frame's final α (cut and closed)."""
    out = np.empty(rgb.shape, np.uint8)
    p = _NO_PLATE if plate is None else np.ascontiguousarray(plate, np.float32)
    back = np.asarray(colour, np.float32).reshape(3)
    c = _NO_COVER if cover is None else np.ascontiguousarray(cover, np.uint8)
    a = _NO_ALPHA if alpha_out is None else alpha_out
    _to_uint8(rgb, alpha, p, back, c, FULL_RINGS, FEATHER, SOLID_FROM, SOLID_AT, out, a)
    return out


def warm_up() -> None:
    """Compile (or load from the cache) every kernel of a video frame with a one-Gaussian,
    one-triangle frame."""
    scene = GaussianScene(
        means=np.array([[0.0, 0.0, 0.0]]),
        quats=np.array([[1.0, 0.0, 0.0, 0.0]]),
        scales=np.full((1, 3), 0.1),
        opacities=np.array([0.5]),
        colors=np.array([[0.5, 0.5, 0.5]]),
    )
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=TILE_H, height=TILE_H)
    rgb, alpha, _depth = render_cpu(scene, cam, np.ones(3))
    to_uint8_cpu(rgb, alpha, np.zeros_like(rgb), np.zeros(3), np.ones(alpha.shape, np.uint8))
    to_uint8_cpu(rgb, alpha, None, np.zeros(3))
    frame_coverage(cam, np.eye(3), np.array([[0, 1, 2]]))
