"""Issue 17: video frames hold nothing of a head beyond 2 px outside its mesh (``raster.matte``).

- the compiled coverage (``frame_kernels``, a scanline fill) against the numpy edge-function
  reference, and inside the silhouette judge's mask (all triangles, ``silhouette_helpers``);
- the fused frame with a matte against ``render_frame``'s numpy path, byte for byte;
- real avatars (the human bust with hair, beard, glasses and clothing; the procedural head)
  at rest, with the jaw open and turned 25°, from the front and speaker A's camera: video
  frames have α 0 outside the mesh silhouette dilated by 2 px, where without the matte
  hundreds of pixels stray, and inside the silhouette grown by 1 px the frame is the
  unmatted one, byte for byte (the matte only cuts the fringe);
- a scene's surface is checked like its Gaussians.
"""

from __future__ import annotations

import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.raster import render, render_frame, to_uint8
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.cpu import render_cpu, to_uint8_cpu
from dyad.services.renderer.raster.frame_kernels import frame_coverage
from dyad.services.renderer.raster.matte import (
    apply_matte,
    coverage_reference,
    grow,
    matte_reference,
)
from dyad.services.renderer.raster.scene import GaussianScene
from dyad.services.renderer.raster.surface import close_surface
from dyad.services.renderer.video import head_camera

from .silhouette_helpers import (
    MARGIN_PX,
    POSES,
    WALTER,
    frame_alpha,
    mesh_mask,
    silhouette_stats,
)

PX = 128


@pytest.fixture(scope="module", params=["human", "procedural"])
def avatar(request: pytest.FixtureRequest) -> GaussianAvatar:
    return create_avatar(WALTER, head=request.param)


def posed_scene(
    avatar: GaussianAvatar, pose: str, view: str, px: int = PX
) -> tuple[GaussianScene, Camera]:
    rig = get_rig("arkit55")
    motion = np.zeros((1, len(rig.channels)), np.float32)
    for name, value in POSES[pose].items():
        motion[0, rig.channels.index(name)] = value
    cam = head_camera(view, px)
    return next(avatar.scenes(motion, cull_from=cam.position)), cam


@pytest.mark.parametrize("view", ["front", "a"])
@pytest.mark.parametrize("pose", list(POSES))
def test_video_frames_hold_nothing_outside_the_silhouette(
    avatar: GaussianAvatar, pose: str, view: str
) -> None:
    scene, cam = posed_scene(avatar, pose, view)
    assert scene.surface is not None
    verts, faces = scene.surface
    judge = mesh_mask(verts, faces, cam)  # every triangle, its own rasteriser
    cover = frame_coverage(cam, verts, faces).astype(bool)
    np.testing.assert_array_equal(cover, coverage_reference(cam, verts, faces))
    assert not (cover & ~judge).any()  # the matte never reaches past the judge's outline
    matted = silhouette_stats(frame_alpha(scene, cam), judge)
    raw = silhouette_stats(frame_alpha(scene, cam, False), judge)
    assert matted.stray_px == 0 and matted.max_alpha_outside == 0.0, matted
    assert raw.stray_px > 40, raw  # what the matte removes: the overhang of big triangles
    assert matted.interior_opaque == raw.interior_opaque >= 0.999
    inner = grow(cover, 1)  # inside the first ring the matte is 1: the frame is untouched
    kept = render_frame(scene, cam, background=(0.2, 0.4, 0.6), backend="cpu")
    plain = render_frame(scene, cam, background=(0.2, 0.4, 0.6), backend="cpu", matte=False)
    np.testing.assert_array_equal(kept[inner], plain[inner])
    assert (kept[~grow(cover, MARGIN_PX)] == np.array([51, 102, 153], np.uint8)).all()


def test_the_fused_matted_frame_equals_the_numpy_one(avatar: GaussianAvatar) -> None:
    scene, cam = posed_scene(avatar, "yaw25", "a", px=96)
    assert scene.surface is not None
    verts, faces = scene.surface
    plate = np.random.default_rng(3).uniform(0.0, 1.0, (96, 96, 3)).astype(np.float32)
    rgb, alpha, _ = render_cpu(scene, cam, np.zeros(3))
    cover = frame_coverage(cam, verts, faces)
    for back, colour in ((None, (0.91, 0.93, 0.95)), (plate, (0.0, 0.0, 0.0))):
        fused = to_uint8_cpu(rgb, alpha, back, np.asarray(colour), cover)
        cut_rgb, cut_alpha = apply_matte(rgb, alpha, matte_reference(cover.astype(bool)))
        closed, a = close_surface(cut_rgb, cut_alpha, np.zeros(3))
        behind = np.broadcast_to(
            np.asarray(colour if back is None else back, np.float32), closed.shape
        )
        np.testing.assert_array_equal(fused, to_uint8(closed + (1.0 - a)[..., None] * behind))
    # The other backends take the numpy path: the same matte on their own render.
    slow = render_frame(scene, cam, plate=plate, backend="torch")
    over_black = render(scene, cam, background=(0, 0, 0), backend="torch")
    cut_rgb, cut_alpha = apply_matte(
        over_black.rgb, over_black.alpha, matte_reference(coverage_reference(cam, verts, faces))
    )
    closed, a = close_surface(cut_rgb, cut_alpha, np.zeros(3))
    np.testing.assert_array_equal(slow, to_uint8(closed + (1.0 - a)[..., None] * plate))


def test_the_matte_rings() -> None:
    cover = np.zeros((7, 7), bool)
    cover[3, 3] = True
    m = matte_reference(cover)
    assert m[3, 3] == m[2, 3] == m[3, 4] == 1.0  # the coverage and its first ring
    assert m[1, 3] == m[2, 2] == m[4, 4] == 0.5  # the second ring, at half weight
    assert m[0, 3] == m[1, 2] == m[3, 6] == 0.0  # nothing beyond
    assert int((m > 0).sum()) == 1 + 4 + 8


def test_a_scene_surface_is_checked() -> None:
    scene = GaussianScene.empty()
    scene.surface = (np.zeros((3, 3)), np.array([[0, 1, 3]]))
    with pytest.raises(InvalidInput, match="surface"):
        scene.validate()
    scene.surface = (np.zeros((3, 2)), np.array([[0, 1, 2]]))
    with pytest.raises(InvalidInput, match="surface"):
        scene.validate()


def test_a_frame_checks_its_surface_before_drawing() -> None:
    scene = GaussianScene.empty()
    scene.surface = (np.zeros((3, 3)), np.array([[0, 1, 7]]))
    cam = head_camera("front", 32)
    with pytest.raises(InvalidInput, match="surface"):
        render_frame(scene, cam, backend="cpu")
