"""The mesh's own silhouette, and how a Gaussian render sits on it (issue 17).

``mesh_mask`` fills the posed triangles with a plain edge-function rasteriser (pixel centres
inside any projected triangle: ``raster.matte.coverage_reference`` over every triangle),
independent of the Gaussian rasterisers it checks.
``silhouette_stats`` compares a render's alpha with it: *stray* pixels (α above 0.02 outside
the mask dilated by 2 px) and the *interior* (the mask eroded by 2 px) that is opaque (α ≥ 0.99).
Shared by ``test_silhouette.py`` and ``bench/silhouette.py``; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.domain import Identity
from dyad.services.renderer.raster import render_frame
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.matte import coverage_reference, grow
from dyad.services.renderer.raster.scene import GaussianScene

#: The identity and poses the silhouette tests draw (hair, beard, glasses: thin and large
#: triangles on the outline).
WALTER = Identity(
    "Walter Berg",
    "senior",
    "masculine",
    appearance=("fair skin", "short grey hair", "a full beard", "bifocals"),
)
POSES = {"neutral": {}, "jawOpen": {"jawOpen": 1.0}, "yaw25": {"headYaw": float(np.deg2rad(25))}}
STRAY_ALPHA = 0.02
OPAQUE_ALPHA = 0.99
MARGIN_PX = 2


def mesh_mask(verts: np.ndarray, faces: np.ndarray, cam: Camera) -> np.ndarray:
    """[H, W] bool: pixel centres inside any projected triangle of ``verts [V, 3]``, front or
    back (the reference coverage, not the front faces' the matte uses)."""
    return coverage_reference(cam, verts, faces, front_only=False)


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    """``px`` steps of 4-neighbour dilation (scipy's default ``binary_dilation``)."""
    return grow(mask, px)


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


def frame_alpha(scene: GaussianScene, cam: Camera, matte: bool = True) -> np.ndarray:
    """``[H, W]`` α of a video frame as a viewer measures it: the frame over white and over
    black (``render_frame``, CPU)."""
    white, black = (
        render_frame(scene, cam, background=bg, backend="cpu", matte=matte).astype(np.float32)
        for bg in ((1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    )
    return 1.0 - (white - black).mean(axis=2) / 255.0
