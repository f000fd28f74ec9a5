"""Image similarity on ``[H, W, 3]`` float images in [0, max_val]: PSNR, SSIM, L1.

SSIM is the Gaussian-window form of Wang et al. 2004 (σ = 1.5, 11×11 window, K1 = 0.01,
K2 = 0.03, population statistics), averaged over channels and over the pixels whose window
lies inside the image — the settings of the usual reference implementations.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from dyad.errors import InvalidInput

_SIGMA = 1.5
_TRUNCATE = 3.5  # window radius = int(3.5 · 1.5 + 0.5) = 5 → 11×11


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 3 or x.shape[2] != 3:
        raise InvalidInput("a", f"expected shape [H, W, 3], got {x.shape}")
    if y.shape != x.shape:
        raise InvalidInput("b", f"shape {y.shape} differs from a's {x.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InvalidInput("a", "images must be finite")
    return x, y


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference."""
    x, y = _pair(a, b)
    return float(np.mean(np.abs(x - y)))


def psnr(a: np.ndarray, b: np.ndarray, max_val: float = 1.0) -> float:
    """10 log10(max² / MSE) in dB; ``inf`` for identical images."""
    x, y = _pair(a, b)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(max_val * max_val / mse))


def ssim(a: np.ndarray, b: np.ndarray, max_val: float = 1.0) -> float:
    """Mean structural similarity (1 for identical images)."""
    x, y = _pair(a, b)
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    pad = int(_TRUNCATE * _SIGMA + 0.5)
    values = []
    for ch in range(3):
        xc, yc = x[..., ch], y[..., ch]

        def blur(img: np.ndarray) -> np.ndarray:
            return gaussian_filter(img, _SIGMA, truncate=_TRUNCATE, mode="reflect")

        mu_x, mu_y = blur(xc), blur(yc)
        var_x = blur(xc * xc) - mu_x * mu_x
        var_y = blur(yc * yc) - mu_y * mu_y
        cov = blur(xc * yc) - mu_x * mu_y
        s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
        )
        if s.shape[0] > 2 * pad and s.shape[1] > 2 * pad:
            s = s[pad:-pad, pad:-pad]
        values.append(float(np.mean(s)))
    return float(np.mean(values))
