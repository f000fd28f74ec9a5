"""Closing a head's surface in video frames: what lies inside the surfel layer is opaque.

An avatar is one layer of flat Gaussians (surfels), one per triangle, each reaching past its
triangle's edges so that neighbours overlap (``avatars.surfels.SPREAD``). Where the camera
sees only the front layer — video frames cull back faces — that overlap leaves the surface
between 87 % and 99 % opaque in a lattice over the triangle corners (issue 17: 28 % of the
human head's interior under α 0.99 at 512², down to 0.87), and the background shows through
the skin as a pattern of dots. Spreading the surfels further would close it, and push them
further out past the silhouette.

The rule here: a pixel whose accumulated α is at least ``SOLID_FROM`` lies on the surface, and
its α is raised towards 1, reaching 1 at ``SOLID_AT`` (linear in between), its colour kept
(the premultiplied colour scaled by α'/α). Below ``SOLID_FROM`` — the antialiased outline,
hair tips, anything genuinely see-through — nothing changes, so the outline and every pixel
outside the head are exactly as rendered. Applied by ``render_frame`` (video frames) only;
``render`` stays the plain compositing model that fitting differentiates.
"""

from __future__ import annotations

import numpy as np

#: α from which a pixel counts as on the surface (the outline's antialiasing lies below) …
SOLID_FROM = 0.75
#: … and α at which it is made fully opaque.
SOLID_AT = 0.9


def solid_alpha(alpha: np.ndarray) -> np.ndarray:
    """``[...]`` α → α': unchanged below ``SOLID_FROM``, 1 from ``SOLID_AT``, linear between."""
    a = np.asarray(alpha, dtype=np.float32)
    t = np.clip((a - SOLID_FROM) / (SOLID_AT - SOLID_FROM), 0.0, 1.0)
    return (a + (1.0 - a) * t).astype(np.float32)


def close_surface(
    rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The reference rule. ``rgb [H, W, 3]`` composited over the colour ``background [3]``,
    ``alpha [H, W]`` → (rgb, α) with the surface closed: the premultiplied colour
    ``rgb − (1 − α)·bg`` scaled by α'/α, then composited over ``bg`` with α'."""
    a = np.asarray(alpha, dtype=np.float32)
    bg = np.asarray(background, dtype=np.float32).reshape(1, 1, 3)
    closed = solid_alpha(a)
    gain = np.where(a > 0.0, closed / np.maximum(a, 1e-12), 1.0)[..., None]
    premult = np.asarray(rgb, np.float32) - (1.0 - a)[..., None] * bg
    out = premult * gain + (1.0 - closed)[..., None] * bg
    return out.astype(np.float32), closed
