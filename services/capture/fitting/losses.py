"""Stage-2 losses (RSATalker §3.6 eq. 10–12) in torch.

- ``image_loss`` — eq. 10: ``(1 − λ)·L1 + λ·L_D-SSIM`` with λ = 0.2. The paper names the
  term D-SSIM without defining it; GaussianAvatars' and 3DGS' code use ``1 − SSIM``
  (models.md §2.2: ``(1−0.2)·L1 + 0.2·(1−SSIM)``), so that is what this is.
- ``position_loss`` — eq. 11, ``‖max(μ_c, ε_pos)‖₂`` with ε_pos = 1. Read literally (an
  element-wise max with 1) it would be a constant ≥ 1 for every Gaussian near its triangle;
  the intent ("keep Gaussians near their triangle") and GaussianAvatars' implementation
  (models.md §2.2: ``mean(relu(‖μ_local‖ − 1))``) agree on the hinge on the local distance,
  so that is the form used, weighted by λ₂ = 0.01 (eq. 13).
- ``offset_loss`` — eq. 12, the same hinge on the offsetnet's corrections ``c`` (λ₃ = 0.01);
  used only when the avatar being fitted has an offsetnet (the CLI fits none: stage 3 trains
  it end to end).
- ``scale_loss`` — GaussianAvatars' scale regulariser (not in the paper; models.md §2.2:
  ``1.0 · mean(relu(exp(s_local) − 0.6))``), which keeps Gaussians from outgrowing their
  triangle (they would smear when the mesh deforms). The hinge sits at 1.0 here, not 0.6:
  the renderer's surfels start spread over their triangle so neighbours close the surface
  (``avatars.surfels``: local std up to 0.88, 60 % above 0.6), and a short fit pulling them
  in to 0.6 opens holes faster than densification fills them.

SSIM is ``image_metrics.ssim``'s Gaussian-window form (σ = 1.5, 11×11, K1 = 0.01,
K2 = 0.03), here over the whole image with zero padding (differentiable and cheap; the
reported numbers use ``image_metrics`` itself).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LAMBDA_DSSIM = 0.2  # eq. 10
EPS_POS = EPS_OFFSET = 1.0  # eq. 11–12
LAMBDA_POS = LAMBDA_OFFSET = 0.01  # eq. 13
LAMBDA_SCALE, SCALE_LIMIT = 1.0, 1.0  # weight: GaussianAvatars (models.md §2.2); hinge: above

_SIGMA, _RADIUS = 1.5, 5


def _window(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(-_RADIUS, _RADIUS + 1, device=device, dtype=dtype)
    g = torch.exp(-0.5 * (x / _SIGMA) ** 2)
    return g / g.sum()  # [11]


def ssim_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of ``[H, W, 3]`` images in [0, 1] (separable Gaussian window)."""
    x = a.permute(2, 0, 1)[None]  # [1, 3, H, W]
    y = b.permute(2, 0, 1)[None]
    g = _window(a.device, a.dtype)
    gx = g.view(1, 1, 1, -1).expand(3, 1, 1, -1)
    gy = g.view(1, 1, -1, 1).expand(3, 1, -1, 1)

    def blur(img: torch.Tensor) -> torch.Tensor:
        img = F.conv2d(img, gx, padding=(0, _RADIUS), groups=3)
        return F.conv2d(img, gy, padding=(_RADIUS, 0), groups=3)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    )
    return s.mean()


def image_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 10 on ``[H, W, 3]`` images."""
    l1 = (pred - target).abs().mean()
    return (1.0 - LAMBDA_DSSIM) * l1 + LAMBDA_DSSIM * (1.0 - ssim_torch(pred, target))


def position_loss(xyz_local: torch.Tensor) -> torch.Tensor:
    """Eq. 11 (hinge form): ``xyz_local [N, 3]`` in triangle units."""
    return torch.relu(xyz_local.norm(dim=-1) - EPS_POS).mean()


def offset_loss(offsets: torch.Tensor) -> torch.Tensor:
    """Eq. 12 (hinge form): offsetnet corrections ``[..., N, 3]``."""
    return torch.relu(offsets.norm(dim=-1) - EPS_OFFSET).mean()


def scale_loss(log_scale: torch.Tensor) -> torch.Tensor:
    """GaussianAvatars' scale hinge on local scales ``[N, 3]`` (triangle units)."""
    return torch.relu(log_scale.exp() - SCALE_LIMIT).norm(dim=-1).mean()
