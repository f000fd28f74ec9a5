"""Scenes, cameras and the parity check shared by the rasteriser tests."""

from __future__ import annotations

import numpy as np

from dyad.services.renderer.image_metrics import psnr
from dyad.services.renderer.raster import RenderOutput
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.scene import GaussianScene


def random_scene(n: int = 300, seed: int = 0) -> GaussianScene:
    """Gaussians of mixed sizes and orientations in a cube of side 2 around the origin."""
    rng = np.random.default_rng(seed)
    return GaussianScene(
        means=rng.uniform(-1.0, 1.0, (n, 3)),
        quats=rng.normal(size=(n, 4)),
        scales=np.exp(rng.uniform(-3.5, -1.5, (n, 3))),
        opacities=rng.uniform(0.1, 1.0, n),
        colors=rng.uniform(0.0, 1.0, (n, 3)),
    )


def avatar_scene(n: int = 3000, seed: int = 0) -> GaussianScene:
    """Small flat Gaussians tangent to an ellipsoid (a head-sized shell), as an avatar has."""
    rng = np.random.default_rng(seed)
    radii = np.array([0.09, 0.12, 0.10])
    unit = rng.normal(size=(n, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    normal = unit / radii**2
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    quats = np.stack([1.0 + normal[:, 2], -normal[:, 1], normal[:, 0], np.zeros(n)], 1)
    quats[quats[:, 0] < 1e-6] = [0.0, 1.0, 0.0, 0.0]  # normal = −z
    sigma = 0.6 * np.sqrt(4 * np.pi * 0.1**2 / n)
    scales = np.stack([np.full(n, sigma), np.full(n, sigma), np.full(n, sigma / 10)], 1)
    colors = np.clip(np.array([0.85, 0.65, 0.55]) + rng.normal(0, 0.1, (n, 3)), 0, 1)
    colors[unit[:, 1] > 0.5] = [0.2, 0.15, 0.1]  # hair
    return GaussianScene(
        means=unit * radii,
        quats=quats,
        scales=scales * rng.uniform(0.7, 1.4, (n, 1)),
        opacities=rng.uniform(0.6, 1.0, n),
        colors=colors,
    )


def one_gaussian(
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0),
    scale: float = 0.1,
    color: tuple[float, float, float] = (1.0, 0.0, 0.0),
    opacity: float = 1.0,
) -> GaussianScene:
    return GaussianScene(
        means=np.array([mean]),
        quats=np.array([[1.0, 0.0, 0.0, 0.0]]),
        scales=np.full((1, 3), scale),
        opacities=np.array([opacity]),
        colors=np.array([color]),
    )


def front_camera(size: int = 64, distance: float = 4.0, fov: float = 40.0) -> Camera:
    return Camera.look_at(
        (0.0, 0.3, distance), (0.0, 0.0, 0.0), fov_y_deg=fov, width=size, height=size
    )


def head_camera(width: int = 96, height: int = 96) -> Camera:
    return Camera.look_at(
        (0.1, 0.05, 0.5), (0.0, 0.0, 0.0), fov_y_deg=40.0, width=width, height=height
    )


def assert_close_to_reference(out: RenderOutput, ref: RenderOutput, min_psnr: float = 40.0):
    assert out.rgb.shape == ref.rgb.shape and out.rgb.dtype == np.float32
    assert psnr(out.rgb, ref.rgb) >= min_psnr
    assert np.abs(out.alpha - ref.alpha).max() < 1e-3
