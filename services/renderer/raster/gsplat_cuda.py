"""GPU rasteriser: ``gsplat.rasterization`` (Apache-2.0) on CUDA, same inputs and outputs.

Imported lazily by ``raster.render`` only when the ``gsplat`` backend is asked for and torch
sees a GPU; importing this module on a CPU machine costs nothing (gsplat and torch are
imported inside the function).

gsplat follows the same model (eps2d 0.3, α ≤ 0.99, α < 1/255 skipped, stop at T < 1e-4,
opacity-aware support). Known difference: gsplat clamps the Jacobian's x/z, y/z to the image
plus a 0.3·W/fx margin, 3DGS (and our CPU paths) to 1.3× the half-FOV tangent; only splats
far outside the image differ.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dyad.errors import FailedPrecondition

from .camera import Camera
from .projection import EPS2D, NEAR_PLANE
from .scene import GaussianScene


def render_gsplat(
    scene: GaussianScene, camera: Camera, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB over ``background`` ``[H, W, 3]``, alpha ``[H, W]``, expected depth ``[H, W]``."""
    import torch

    if not torch.cuda.is_available():
        raise FailedPrecondition("the gsplat backend needs a CUDA GPU; none is visible to torch")
    h, w = camera.height, camera.width
    bg = np.asarray(background, dtype=np.float32).reshape(1, 1, 3)
    if scene.n == 0:
        rgb = np.broadcast_to(bg, (h, w, 3)).copy()
        return rgb, np.zeros((h, w), np.float32), np.zeros((h, w), np.float32)
    try:
        from gsplat import rasterization
    except ImportError as exc:  # pragma: no cover - gsplat is in requirements.txt
        raise FailedPrecondition(f"gsplat is not importable: {exc}") from None

    device = torch.device("cuda")

    def tensor(a: np.ndarray) -> Any:
        return torch.tensor(np.asarray(a), dtype=torch.float32, device=device)

    with torch.no_grad():
        colors, alphas, _meta = rasterization(
            means=tensor(scene.means),
            quats=tensor(scene.quats),
            scales=tensor(scene.scales),
            opacities=tensor(scene.opacities),
            colors=tensor(scene.colors),
            viewmats=tensor(camera.viewmat)[None],
            Ks=tensor(camera.K)[None],
            width=w,
            height=h,
            near_plane=NEAR_PLANE,
            eps2d=EPS2D,
            render_mode="RGB+ED",
            rasterize_mode="classic",
        )
    out = colors[0].float().cpu().numpy()  # [H, W, 4]: Σ w c (premultiplied), expected depth
    alpha = alphas[0, ..., 0].float().cpu().numpy()
    rgb = out[..., :3] + (1.0 - alpha)[..., None] * bg
    depth = np.where(alpha > 0, out[..., 3], 0.0).astype(np.float32)
    return rgb.astype(np.float32), alpha.astype(np.float32), depth
