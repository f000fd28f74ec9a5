"""The CPU rasteriser's fast paths against their slow references: the compiled pixel boxes
against ``pixel_boxes`` (numpy), the fused uint8 frame (``render_frame``) against the same
frame in numpy (``render`` over black, ``surface.close_surface``, the plate or colour), and a
frame drawn on one thread (``parallel=False``, each head's thread in a conversation) against
the parallel kernel."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dyad.services.renderer.raster import render, render_frame, to_uint8
from dyad.services.renderer.raster.cpu import pixel_boxes, project_compiled, render_cpu
from dyad.services.renderer.raster.cpu_kernels import _EX, _EY, _MX, _MY, _boxes
from dyad.services.renderer.raster.surface import close_surface

from .raster_helpers import (
    assert_close_to_reference,
    avatar_scene,
    front_camera,
    head_camera,
    random_scene,
)


def test_compiled_pixel_boxes_equal_the_numpy_ones() -> None:
    rng = np.random.default_rng(4)
    proj = np.zeros((4000, 9))
    proj[:, [_MX, _MY]] = rng.uniform(-80.0, 180.0, (4000, 2))  # inside and outside 100×90
    proj[:, [_EX, _EY]] = np.exp(rng.uniform(-4.0, 9.0, (4000, 2)))  # sub-pixel to huge
    proj[:5, [_MX, _MY]] = [[0.5, 0.5], [99.5, 89.5], [-0.2, 3.0], [100.0, 90.0], [50.0, 45.0]]
    proj[:5, [_EX, _EY]] = [[0.0, 0.0], [0.5, 0.5], [0.7, 0.1], [1e6, 1e6], [0.49, 0.51]]
    for scene, cam in ((None, None), (avatar_scene(), head_camera(width=100, height=90))):
        if scene is not None:  # and the rows of a real projection
            proj = project_compiled(scene, cam)[1]
        rect = np.empty((proj.shape[0], 4), np.int32)
        _boxes(proj, 100, 90, rect)
        expected = pixel_boxes(proj[:, _MX : _MY + 1], proj[:, _EX : _EY + 1], 100, 90)
        np.testing.assert_array_equal(rect, expected)


def slow_frame(scene: Any, cam: Any, back: Any, backend: str = "cpu") -> np.ndarray:
    """``render_frame``'s numpy path written out: over black, the surface closed, then the
    plate or colour ``back`` behind."""
    over_black = render(scene, cam, background=(0.0, 0.0, 0.0), backend=backend)
    closed, alpha = close_surface(over_black.rgb, over_black.alpha, np.zeros(3))
    behind = np.broadcast_to(np.asarray(back, np.float32), closed.shape)
    return to_uint8(closed + (1.0 - alpha)[..., None] * behind)


@pytest.mark.parametrize("size", [(64, 64), (100, 90)])
def test_fused_frame_equals_the_numpy_frame(size: tuple[int, int]) -> None:
    cam = head_camera(width=size[0], height=size[1])
    plate = np.random.default_rng(1).uniform(0.0, 1.0, (size[1], size[0], 3)).astype(np.float32)
    for scene in (avatar_scene(), random_scene(300, 2)):
        for colour in ((0.91, 0.93, 0.95), (0.0, 0.2, 0.4), (1.0, 1.0, 1.0)):
            fused = render_frame(scene, cam, background=colour, backend="cpu")
            np.testing.assert_array_equal(fused, slow_frame(scene, cam, colour))
        fused = render_frame(scene, cam, plate=plate, backend="cpu")
        np.testing.assert_array_equal(fused, slow_frame(scene, cam, plate))
        assert (fused != render_frame(scene, cam, backend="cpu")).any()  # the plate shows


def test_other_backends_take_the_reference_path() -> None:
    scene, cam = avatar_scene(400), front_camera(size=24)
    plate = np.full((24, 24, 3), 0.5, np.float32)
    np.testing.assert_array_equal(
        render_frame(scene, cam, plate=plate, backend="reference"),
        slow_frame(scene, cam, plate, backend="reference"),
    )
    with pytest.raises(Exception, match="plate"):
        render_frame(scene, cam, plate=np.zeros((8, 8, 3), np.float32), backend="cpu")


def test_a_frame_drawn_alone_equals_the_parallel_one() -> None:
    for scene, cam in (
        (avatar_scene(), head_camera(width=100, height=90)),
        (random_scene(300, 0), front_camera()),
    ):
        bg = np.array([0.1, 0.2, 0.3])
        par = render_cpu(scene, cam, bg, parallel=True)
        alone = render_cpu(scene, cam, bg, parallel=False)
        for a, b in zip(par, alone, strict=True):
            np.testing.assert_array_equal(a, b)


def test_gaussians_across_tile_edges_match_the_reference() -> None:
    """A frame several tiles wide and high (512 × 16 each; the last column and row partial):
    Gaussians crossing tile edges are cut there and resumed in the next tile."""
    from dyad.services.renderer.raster.camera import Camera
    from dyad.services.renderer.raster.cpu_kernels import TILE_H, TILE_W

    width, height = 2 * TILE_W + 76, 2 * TILE_H + 8
    cam = Camera.look_at(
        (0.0, 0.0, 2.2), (0.0, 0.0, 0.0), fov_y_deg=8.0, width=width, height=height
    )
    scene = random_scene(400, 5)
    ref = render(scene, cam, backend="reference", with_depth=True)
    out = render(scene, cam, backend="cpu", with_depth=True)
    assert ref.alpha[:, TILE_W - 8 : TILE_W + 8].mean() > 0.3  # something on the tile edges
    assert_close_to_reference(out, ref, min_psnr=50.0)
    assert out.depth is not None and ref.depth is not None
    # A pixel whose stop decision flips in float32 moves its alpha ≤ 1e-3, its depth a little
    np.testing.assert_allclose(out.depth, ref.depth, atol=5e-3)
