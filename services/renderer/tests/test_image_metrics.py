from __future__ import annotations

import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.services.renderer.image_metrics import l1, psnr, ssim


def _image(seed: int = 0, shape: tuple[int, int] = (40, 48)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / 10.0
    base = np.stack([np.sin(x), np.cos(y), np.sin(x + y)], -1) * 0.4 + 0.5
    return np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1)


def test_psnr_and_l1_known_values():
    a = _image()
    b = np.clip(a + 0.1, None, None)  # constant offset: MSE = 0.01 → 20 dB
    assert psnr(a, b) == pytest.approx(20.0)
    assert psnr(a, b, max_val=2.0) == pytest.approx(20.0 + 20 * np.log10(2.0))
    assert psnr(a, a) == float("inf")
    assert l1(a, b) == pytest.approx(0.1)
    assert l1(a, a) == 0.0


def test_ssim_of_constant_images_has_the_closed_form():
    # Zero variance: SSIM = (2 μx μy + C1) / (μx² + μy² + C1).
    a, b = np.full((20, 20, 3), 0.3), np.full((20, 20, 3), 0.6)
    c1 = 0.01**2
    assert ssim(a, b) == pytest.approx((2 * 0.3 * 0.6 + c1) / (0.09 + 0.36 + c1))


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    a = _image()
    assert ssim(a, a) == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    values = [ssim(a, np.clip(a + rng.normal(0, s, a.shape), 0, 1)) for s in (0.01, 0.05, 0.2)]
    assert 1.0 > values[0] > values[1] > values[2] > 0.0
    assert ssim(a, np.clip(a + 0.01 * rng.normal(size=a.shape), 0, 1)) > 0.9


def test_metrics_reject_bad_shapes():
    a = _image()
    with pytest.raises(InvalidInput) as err:
        psnr(a, a[:, :-1])
    assert err.value.field == "b"
    with pytest.raises(InvalidInput):
        ssim(a[..., 0], a[..., 0])
    with pytest.raises(InvalidInput):
        l1(a, np.full_like(a, np.nan))
