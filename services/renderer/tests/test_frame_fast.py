"""The compiled shade + back-face cull of a frame (``binding_fast.shade_cull``, what
``GaussianAvatar.scenes`` runs by default) against the numpy reference (``scenes(compiled=
False)``: ``GaussianAvatar.shade`` and a mask): the same Gaussians kept, in the same order,
the same geometry and colours to float32 rounding, and the same video frames."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.raster import render_frame
from dyad.services.renderer.video import head_camera

RIG = get_rig("arkit55")


def _clip(**weights: float) -> np.ndarray:
    m = np.zeros((1, len(RIG.channels)), np.float32)
    for name, w in weights.items():
        m[0, RIG.channels.index(name)] = w
    return m


POSES = np.concatenate(
    [
        _clip(),
        _clip(jawOpen=1.0, headYaw=0.5),
        _clip(headPitch=-0.4, headRoll=0.3, mouthSmileLeft=1.0, eyeBlinkRight=1.0),
    ]
)


@pytest.fixture(scope="module", params=["procedural", "human"])
def avatar(request):
    return create_avatar("an older man, short grey hair, a full beard, glasses", head=request.param)


def _assert_same_scenes(av, cull_from) -> None:
    fast = list(av.scenes(POSES, cull_from=cull_from))
    slow = list(av.scenes(POSES, cull_from=cull_from, compiled=False))
    for f, s in zip(fast, slow, strict=True):
        assert f.n == s.n and (cull_from is None or f.n < 0.8 * av.num_gaussians)
        for name in ("means", "quats", "scales", "opacities"):
            np.testing.assert_array_equal(getattr(f, name), getattr(s, name), err_msg=name)
        np.testing.assert_allclose(f.colors, s.colors, rtol=0, atol=1e-5)  # pow, sums: f4 rounding


@pytest.mark.parametrize("speaker", ["a", "b", None])
def test_compiled_shade_and_cull_equal_the_numpy_reference(avatar, speaker) -> None:
    cull_from = None if speaker is None else head_camera(speaker, 64).position
    _assert_same_scenes(avatar, cull_from)


def test_unshaded_and_offset_avatars_too(avatar) -> None:
    _assert_same_scenes(replace(avatar, shading=False), head_camera("a", 64).position)
    social = create_avatar("bald", offsetnet=True)
    assert social.offsetnet is not None
    with torch.no_grad():
        social.offsetnet.fc2.bias.copy_(torch.arange(3 * social.num_gaussians) % 3 * 1e-3)
    _assert_same_scenes(social, head_camera("b", 64).position)


def test_new_albedo_is_picked_up(avatar) -> None:
    """The compiled path caches the avatar's arrays: a new albedo must not see stale ones."""
    cam = head_camera("a", 64).position
    next(avatar.scenes(POSES[:1], cull_from=cam))
    green = replace(avatar, albedo=torch.zeros_like(avatar.albedo) + torch.tensor([0, 1.0, 0]))
    _assert_same_scenes(green, cam)


def test_the_video_frames_are_the_same(avatar) -> None:
    cam = head_camera("a", 96)
    fast = avatar.scenes(POSES, cull_from=cam.position)
    slow = avatar.scenes(POSES, cull_from=cam.position, compiled=False)
    for f, s in zip(fast, slow, strict=True):
        a = render_frame(f, cam, backend="cpu").astype(int)
        b = render_frame(s, cam, backend="cpu").astype(int)
        assert np.abs(a - b).max() <= 1
