"""Rasterisers: the fast CPU path (and gsplat on GPU) against the brute-force reference, and
the edge cases every backend must survive."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.services.renderer.raster import cpu as raster_cpu
from dyad.services.renderer.raster import cuda_available, render
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.projection import covariance_3d, project, quat_to_rotmat
from dyad.services.renderer.raster.scene import GaussianScene

from .raster_helpers import (
    assert_close_to_reference,
    avatar_scene,
    front_camera,
    head_camera,
    one_gaussian,
    random_scene,
)

# ---------------------------------------------------------------- parity with the reference


def test_cpu_matches_reference_on_random_scenes():
    for seed in range(3):
        scene, cam = random_scene(300, seed), front_camera()
        ref = render(scene, cam, backend="reference")
        out = render(scene, cam, backend="cpu")
        assert 0.2 < ref.alpha.mean() < 0.95  # something to compare: not empty, not flat
        assert_close_to_reference(out, ref)


def test_cpu_matches_reference_on_avatar_like_scene_with_odd_size():
    scene, cam = avatar_scene(), head_camera(width=100, height=90)  # partial edge tiles
    ref = render(scene, cam, backend="reference", background=(0.0, 0.2, 0.4), with_depth=True)
    out = render(scene, cam, backend="cpu", background=(0.0, 0.2, 0.4), with_depth=True)
    assert ref.alpha.max() > 0.999 and ref.alpha.min() == 0.0  # opaque head, empty corners
    assert_close_to_reference(out, ref, min_psnr=50.0)
    assert out.depth is not None and ref.depth is not None
    np.testing.assert_allclose(out.depth, ref.depth, atol=1e-4)


def test_cpu_matches_reference_on_needles_and_wide_splats():
    # Very thin ellipses (aspect ratio > 1000 on screen) and splats larger than the image.
    rng = np.random.default_rng(11)
    n = 40
    scales = np.tile([30.0, 1e-4, 1e-4], (n, 1))
    scales[n // 2 :] = rng.uniform(0.5, 2.0, (n // 2, 3))
    scene = GaussianScene(
        means=rng.uniform(-0.5, 0.5, (n, 3)),
        quats=rng.normal(size=(n, 4)),
        scales=scales,
        opacities=np.concatenate([np.full(n // 2, 1.0), np.full(n // 2, 0.05)]),
        colors=rng.uniform(0, 1, (n, 3)),
    )
    cam = front_camera(size=48, distance=3.0)
    ref = render(scene, cam, backend="reference")
    assert_close_to_reference(render(scene, cam, backend="cpu"), ref, min_psnr=50.0)


def test_compiled_projection_equals_the_numpy_one():
    scene = GaussianScene.concat([random_scene(300, seed=9), avatar_scene(500)])
    for cam in (front_camera(), head_camera(width=70, height=50)):
        ref = project(scene, cam)
        idx, rows = raster_cpu.project_compiled(scene, cam)
        np.testing.assert_array_equal(idx, ref.index)
        np.testing.assert_allclose(rows[:, 0:2], ref.means2d, rtol=1e-12)
        np.testing.assert_allclose(rows[:, 2:5], ref.conics, rtol=1e-9)
        np.testing.assert_allclose(rows[:, 5], ref.q_max, rtol=1e-12)
        np.testing.assert_allclose(rows[:, 6:8], ref.extents, rtol=1e-9)
        np.testing.assert_allclose(rows[:, 8], ref.depths, rtol=1e-12)


def test_ties_in_depth_keep_scene_order_in_every_backend():
    a = one_gaussian(mean=(0.0, 0.0, 0.0), color=(1.0, 0.0, 0.0), opacity=0.6)
    b = one_gaussian(mean=(0.05, 0.0, 0.0), color=(0.0, 0.0, 1.0), opacity=0.6)
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=32, height=32)
    ab = GaussianScene.concat([a, b])
    ref = render(ab, cam, backend="reference")
    np.testing.assert_allclose(render(ab, cam, backend="cpu").rgb, ref.rgb, atol=1e-5)
    # The first of two equally deep Gaussians is composited first (in front).
    ba = GaussianScene.concat([b, a])
    assert not np.allclose(render(ba, cam, backend="reference").rgb, ref.rgb, atol=1e-3)


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_empty_scene_shows_the_background(backend):
    cam = front_camera(size=40)
    out = render(GaussianScene.empty(), cam, background=(0.1, 0.2, 0.3), backend=backend)
    assert out.rgb.shape == (40, 40, 3) and out.alpha.shape == (40, 40)
    np.testing.assert_allclose(out.rgb, np.broadcast_to([0.1, 0.2, 0.3], (40, 40, 3)), atol=1e-6)
    assert np.all(out.alpha == 0.0)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_gaussians_behind_the_camera_are_culled(backend):
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=32, height=32)
    behind = GaussianScene.concat(
        [one_gaussian(mean=(0.0, 0.0, z), scale=0.5) for z in (2.5, 4.0, 2.0 - 1e-3)]
    )
    assert len(project(behind, cam)) == 0  # behind, and one just inside the near plane
    out = render(behind, cam, backend=backend)
    np.testing.assert_array_equal(out.rgb, np.ones((32, 32, 3), np.float32))
    assert np.all(out.alpha == 0.0)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_huge_and_degenerate_gaussians_give_finite_images(backend):
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=32, height=32)
    edge_on = GaussianScene(  # one non-zero axis, seen edge-on: a line
        means=np.zeros((1, 3)),
        quats=np.array([[1.0, 0.0, 0.0, 0.0]]),
        scales=np.array([[0.0, 0.0, 0.2]]),
        opacities=np.ones(1),
        colors=np.array([[1.0, 0.0, 0.0]]),
    )
    scene = GaussianScene.concat(
        [
            one_gaussian(scale=1e30, color=(0.0, 1.0, 0.0)),  # absurd: culled
            one_gaussian(mean=(0.0, 0.0, 1.98), scale=0.5, opacity=0.2),  # fills the view
            one_gaussian(scale=0.0, color=(0.0, 0.0, 1.0)),  # a point
            edge_on,
        ]
    )
    out = render(scene, cam, backend=backend)
    assert np.all(np.isfinite(out.rgb)) and np.all(np.isfinite(out.alpha))
    assert project(scene, cam).index.tolist() == [1, 2, 3]  # front to back; 0 culled
    assert out.alpha.min() > 0.19  # the near one covers the whole frame
    # A zero-scale point still covers its pixels: ε = 0.3 px² makes it a ≈1 px blob.
    for degenerate in (scene.subset(slice(2, 3)), edge_on):
        dot = render(degenerate, cam, backend=backend, background=(0.0, 0.0, 0.0))
        assert dot.alpha[15:17, 15:17].min() > 0.4  # e^(−½·0.5/0.3) at ½ px in x and y
        assert dot.alpha[:12].max() == 0.0 and np.isfinite(dot.rgb).all()


def test_one_opaque_gaussian_centred():
    cam = Camera.look_at((0.0, 0.0, 3.0), (0.0, 0.0, 0.0), width=64, height=64)
    scene = one_gaussian(scale=0.2, color=(0.9, 0.1, 0.2))
    for backend in ("cpu", "reference"):
        out = render(scene, cam, backend=backend, background=(0.0, 0.0, 0.0), with_depth=True)
        # The mean projects to (32, 32): the four pixels around it are nearly its colour.
        np.testing.assert_allclose(
            out.rgb[31:33, 31:33], np.full((2, 2, 3), [0.9, 0.1, 0.2]) * 0.99, atol=0.01
        )
        for corner in (out.rgb[0, 0], out.rgb[0, -1], out.rgb[-1, 0], out.rgb[-1, -1]):
            np.testing.assert_array_equal(corner, [0.0, 0.0, 0.0])
        assert out.depth is not None
        assert out.depth[32, 32] == pytest.approx(3.0, abs=1e-4)
        # Symmetric about the centre (pixel centres at +0.5).
        np.testing.assert_allclose(out.rgb, out.rgb[::-1, ::-1], atol=1e-5)


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_nearer_gaussian_is_in_front(backend):
    cam = Camera.look_at((0.0, 0.0, 3.0), (0.0, 0.0, 0.0), width=32, height=32)
    red_front = one_gaussian(mean=(0.0, 0.0, 0.5), scale=0.2, color=(1.0, 0.0, 0.0))
    blue_back = one_gaussian(mean=(0.0, 0.0, -0.5), scale=0.3, color=(0.0, 0.0, 1.0))
    for scene in (
        GaussianScene.concat([red_front, blue_back]),
        GaussianScene.concat([blue_back, red_front]),
    ):
        centre = render(scene, cam, backend=backend).rgb[16, 16]
        assert centre[0] > 0.95 and centre[2] < 0.05


def test_unnormalised_quaternions_give_the_same_image():
    scene, cam = random_scene(100, seed=5), front_camera(size=32)
    scaled = GaussianScene(
        means=scene.means,
        quats=scene.quats * np.linspace(0.1, 10.0, scene.n)[:, None],
        scales=scene.scales,
        opacities=scene.opacities,
        colors=scene.colors,
    )
    np.testing.assert_allclose(
        render(scaled, cam, backend="cpu").rgb, render(scene, cam, backend="cpu").rgb, atol=1e-5
    )


def test_covariance_is_r_s_st_rt():
    angle = 0.7  # rotation about z
    quat = np.array([[np.cos(angle / 2), 0.0, 0.0, np.sin(angle / 2)]])
    rot = quat_to_rotmat(quat)[0]
    np.testing.assert_allclose(
        rot[:2, :2], [[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]]
    )
    cov = covariance_3d(quat, np.array([[2.0, 0.5, 1.0]]))[0]
    np.testing.assert_allclose(cov, rot @ np.diag([4.0, 0.25, 1.0]) @ rot.T, atol=1e-12)


def test_projected_covariance_of_an_isotropic_gaussian_on_the_axis():
    # Σ' = J W Σ Wᵀ Jᵀ + ε: on the optical axis J = diag(f/z), so Σ' = (f s / z)² + 0.3.
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), width=64, height=64)
    proj = project(one_gaussian(scale=0.1), cam)
    f = cam.K[0, 0]
    np.testing.assert_allclose(
        proj.cov2d[0], [(f * 0.1 / 2) ** 2 + 0.3, 0.0, (f * 0.1 / 2) ** 2 + 0.3]
    )
    np.testing.assert_allclose(proj.means2d[0], [32.0, 32.0])
    # Support half-width: √(2 ln(255 o) · Σ'_xx), about 3.33σ for o = 1.
    sigma = np.sqrt(proj.cov2d[0, 0])
    assert proj.extents[0, 0] == pytest.approx(np.sqrt(2 * np.log(255.0)) * sigma)


def test_jacobian_is_clamped_for_splats_outside_the_view():
    cam = Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), fov_y_deg=40, width=64, height=64)
    f, s, z = cam.K[0, 0], 0.5, 2.0
    # Camera-space x/z = 0.8, beyond 1.3 · tan(20°) ≈ 0.473: J uses the clamped tangent,
    # Σ'_xx = (f s / z)² (1 + u²) + ε with u = 0.473 rather than 0.8.
    proj = project(one_gaussian(mean=(1.6, 0.0, 0.0), scale=s), cam)
    u = 1.3 * 32.0 / f
    assert proj.cov2d[0, 0] == pytest.approx((f * s / z) ** 2 * (1 + u * u) + 0.3)
    assert proj.means2d[0, 0] == pytest.approx(f * 0.8 + 32.0)  # the mean is not clamped


# ---------------------------------------------------------------- GPU


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs CUDA")
def test_gsplat_matches_reference():
    for scene, cam in ((random_scene(300), front_camera()), (avatar_scene(), head_camera())):
        ref = render(scene, cam, backend="reference")
        out = render(scene, cam, backend="gsplat")
        assert_close_to_reference(out, ref)
