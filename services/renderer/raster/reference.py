"""Brute-force reference rasteriser: float64, every pixel against every projected Gaussian.

Only for tests and the benchmark. No tiles, no support boxes: each Gaussian is evaluated at
every pixel centre, front to back, with exactly the compositing rules of
``projection`` (α clamp, α < 1/255 skip, stop before T < 1e-4). The loop runs over
Gaussians and is vectorised over pixels; each pixel still sees the Gaussians in depth order.
"""

from __future__ import annotations

import numpy as np

from .camera import Camera
from .projection import ALPHA_MAX, ALPHA_MIN, T_MIN, project
from .scene import GaussianScene


def render_reference(
    scene: GaussianScene, camera: Camera
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Premultiplied colour ``[H, W, 3]``, alpha ``[H, W]``, accumulated depth ``[H, W]``.

    All float64; colour and depth are Σ wₖ cₖ and Σ wₖ zₖ (not yet over a background).
    """
    h, w = camera.height, camera.width
    proj = project(scene, camera)
    px = np.arange(w, dtype=np.float64)[None, :] + 0.5  # [1, W]
    py = np.arange(h, dtype=np.float64)[:, None] + 0.5  # [H, 1]
    color = np.zeros((h, w, 3))
    depth = np.zeros((h, w))
    trans = np.ones((h, w))
    done = np.zeros((h, w), dtype=bool)
    for k in range(len(proj)):  # front to back
        big_a, big_b, big_c = proj.conics[k]
        dx = px - proj.means2d[k, 0]
        dy = py - proj.means2d[k, 1]
        q = big_a * dx * dx + 2.0 * big_b * dx * dy + big_c * dy * dy  # [H, W]
        alpha = np.minimum(ALPHA_MAX, proj.opacities[k] * np.exp(-0.5 * q))
        live = ~done & (alpha >= ALPHA_MIN)
        next_t = trans * (1.0 - alpha)
        stop = live & (next_t < T_MIN)
        done |= stop
        live &= ~stop
        weight = np.where(live, alpha * trans, 0.0)
        color += weight[..., None] * proj.colors[k]
        depth += weight * proj.depths[k]
        trans = np.where(live, next_t, trans)
    return color, 1.0 - trans, depth
