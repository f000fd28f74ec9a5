"""The differentiable torch rasteriser: parity with the reference, gradients, fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.services.renderer.raster import render
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.projection import project
from dyad.services.renderer.raster.scene import GaussianScene
from dyad.services.renderer.raster.torch_autograd import project_torch, render_torch, scene_tensors

from .raster_helpers import (
    assert_close_to_reference,
    avatar_scene,
    front_camera,
    head_camera,
    one_gaussian,
    random_scene,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_projection_matches_numpy():
    scene, cam = random_scene(200, seed=3), front_camera()
    ref = project(scene, cam)
    out = project_torch(
        **{k: v.double() for k, v in _params(scene).items() if k != "colors"}, camera=cam
    )
    np.testing.assert_array_equal(out["index"].numpy(), ref.index)
    np.testing.assert_allclose(out["means2d"].detach().numpy(), ref.means2d, rtol=1e-9)
    np.testing.assert_allclose(out["conics"].detach().numpy(), ref.conics, rtol=1e-7)
    np.testing.assert_allclose(out["extents"].numpy(), ref.extents, rtol=1e-7)


def _params(scene: GaussianScene) -> dict[str, torch.Tensor]:
    return scene_tensors(scene)


def test_torch_matches_reference():
    cases = [(random_scene(300, seed), front_camera()) for seed in (0, 1)]
    cases.append((avatar_scene(), head_camera(width=100, height=90)))
    for scene, cam in cases:
        ref = render(scene, cam, backend="reference", with_depth=True)
        out = render(scene, cam, backend="torch", with_depth=True)
        assert_close_to_reference(out, ref, min_psnr=50.0)
        assert out.depth is not None and ref.depth is not None
        np.testing.assert_allclose(out.depth, ref.depth, atol=2e-4)


def test_torch_edge_cases():
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=24, height=20)
    empty = render(GaussianScene.empty(), cam, backend="torch", background=(0.2, 0.4, 0.6))
    np.testing.assert_allclose(empty.rgb, np.broadcast_to([0.2, 0.4, 0.6], (20, 24, 3)), atol=1e-7)
    assert np.all(empty.alpha == 0)
    behind = render(one_gaussian(mean=(0.0, 0.0, 3.0)), cam, backend="torch")
    assert np.all(behind.alpha == 0)
    degenerate = GaussianScene.concat([one_gaussian(scale=0.0), one_gaussian(scale=1e30)])
    out = render(degenerate, cam, backend="torch")
    assert np.isfinite(out.rgb).all() and out.alpha.max() > 0.4


def test_gradients_are_finite_and_reach_every_parameter():
    scene = avatar_scene(500, seed=2)
    cam = head_camera(width=48, height=48)
    p = _params(scene)
    means = p["means"].requires_grad_(True)
    colors = p["colors"].requires_grad_(True)
    opacities = p["opacities"].requires_grad_(True)
    quats = p["quats"].requires_grad_(True)
    log_scales = torch.log(p["scales"]).requires_grad_(True)
    rgb, alpha, depth = render_torch(
        means, quats, torch.exp(log_scales), opacities, colors, cam, torch.ones(3)
    )
    (rgb.sum() + alpha.sum() + 0.1 * depth.sum()).backward()
    for name, x in [
        ("means", means),
        ("colors", colors),
        ("opacities", opacities),
        ("quats", quats),
        ("log_scales", log_scales),
    ]:
        assert x.grad is not None, name
        assert torch.isfinite(x.grad).all(), name
        assert x.grad.abs().max() > 0, name


def test_gradient_matches_finite_differences():
    # Float64, a smooth neighbourhood: directional derivative of a loss vs the autograd one.
    scene = random_scene(40, seed=4)
    cam = front_camera(size=24)
    p = {k: v.double() for k, v in _params(scene).items()}
    target = torch.rand(24, 24, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(means: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
        rgb, _, _ = render_torch(means, p["quats"], p["scales"], p["opacities"], colors, cam)
        return ((rgb - target) ** 2).sum()

    means = p["means"].clone().requires_grad_(True)
    colors = p["colors"].clone().requires_grad_(True)
    loss(means, colors).backward()
    gen = torch.Generator().manual_seed(1)
    dm = torch.randn(means.shape, dtype=torch.float64, generator=gen) * 1e-6
    dc = torch.randn(colors.shape, dtype=torch.float64, generator=gen) * 1e-6
    with torch.no_grad():
        numeric = (loss(means + dm, colors + dc) - loss(means - dm, colors - dc)) / 2
    assert means.grad is not None and colors.grad is not None
    analytic = (means.grad * dm).sum() + (colors.grad * dc).sum()
    assert analytic.item() == pytest.approx(numeric.item(), rel=1e-3)


def test_adam_fits_colours_and_means_to_a_target():
    cam = front_camera(size=32, distance=3.0)
    target_scene = random_scene(60, seed=7)
    target = torch.as_tensor(render(target_scene, cam, backend="cpu").rgb)
    rng = np.random.default_rng(8)
    p = _params(target_scene)
    means = p["means"] + torch.as_tensor(rng.normal(0, 0.05, (60, 3)), dtype=torch.float32)
    means.requires_grad_(True)
    color_logits = torch.zeros(60, 3, requires_grad=True)  # start grey
    opt = torch.optim.Adam([means, color_logits], lr=0.03)
    losses = []
    for _ in range(12):
        rgb, _, _ = render_torch(
            means,
            p["quats"],
            p["scales"],
            p["opacities"],
            torch.sigmoid(color_logits),
            cam,
            torch.ones(3),
        )
        l1 = (rgb - target).abs().mean()
        opt.zero_grad()
        l1.backward()
        opt.step()
        losses.append(l1.item())
    assert losses[-1] < 0.7 * losses[0]
