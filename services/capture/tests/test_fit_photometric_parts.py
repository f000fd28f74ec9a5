"""The pieces of photometric fitting: torch posing parity, SSIM parity, density control."""

from __future__ import annotations

import numpy as np
import torch

from dyad.services.capture.fitting.density import densify_and_prune, keep_one_per_face
from dyad.services.capture.fitting.losses import image_loss, position_loss, ssim_torch
from dyad.services.capture.fitting.photometric import head_matte
from dyad.services.capture.fitting.posing import TorchHumanPose, poser_for
from dyad.services.capture.fitting.synth import orbit_cameras, talking_motion
from dyad.services.renderer import image_metrics
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.raster import render


def test_torch_pose_matches_numpy_pose() -> None:
    head = create_avatar("a bearded man with glasses in a blue shirt", head="human").head
    poser = poser_for(head)
    assert isinstance(poser, TorchHumanPose)
    assert head.neckline_cut and head._carriers.index.shape[1] >= 2  # cut points: two ends
    rng = np.random.default_rng(0)
    motion = np.zeros((3, 55), np.float32)
    motion[:, :52] = rng.uniform(0.0, 0.7, (3, 52))
    motion[:, 52:] = rng.uniform(-0.3, 0.3, (3, 3))
    want = head.pose(motion)
    got = poser.pose(motion).numpy()
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5
    # the correction is differentiable and moves the mesh
    corr = torch.zeros(3, 55, requires_grad=True)
    poser.pose(motion, corr).sum().backward()
    assert corr.grad is not None and corr.grad[:, :52].abs().sum() > 0
    assert corr.grad[:, 52:].abs().sum() > 0


def test_ssim_matches_image_metrics_in_the_interior() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, (40, 48, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    want = image_metrics.ssim(a, b)
    got = float(ssim_torch(torch.tensor(a), torch.tensor(b)))
    # image_metrics trims the 5-px border, this averages over all pixels (zero padded)
    assert abs(got - want) < 0.03
    assert float(ssim_torch(torch.tensor(a), torch.tensor(a))) > 0.999
    assert float(image_loss(torch.tensor(a), torch.tensor(a))) < 1e-3


def test_position_loss_is_a_hinge_at_one() -> None:
    assert float(position_loss(torch.tensor([[0.5, 0.0, 0.0]]))) == 0.0
    assert abs(float(position_loss(torch.tensor([[0.0, 3.0, 0.0]]))) - 2.0) < 1e-6


def _params(n: int) -> dict[str, torch.Tensor]:
    return {
        "xyz": torch.zeros(n, 3),
        "log_scale": torch.full((n, 3), -1.0),
        "rot": torch.tensor([[1.0, 0, 0, 0]]).repeat(n, 1),
        "opacity_logit": torch.zeros(n),
        "colour": torch.rand(n, 3),
    }


def test_densify_keeps_bindings_and_every_face() -> None:
    n = 8
    binding = torch.tensor([0, 0, 1, 2, 3, 3, 4, 5])
    params = _params(n)
    params["opacity_logit"][[0, 1, 2]] = -10.0  # faces 0 and 1 would lose every Gaussian
    grad = torch.zeros(n)
    grad[[3, 6]] = 1.0  # 3 splits (large), 6 clones (small)
    world = torch.tensor([0, 0, 0, 1.0, 0, 0, 1e-6, 0])
    new, nb, source, fresh = densify_and_prune(
        params, binding, grad, world, extent=1.0, generator=torch.Generator().manual_seed(0)
    )
    counts = np.bincount(nb.numpy(), minlength=6)
    assert counts.min() >= 1  # every face keeps a Gaussian
    assert counts[0] == 1 and counts[1] == 1  # the pruned faces keep exactly one
    assert counts[2] == 2 and counts[4] == 2  # split (2 children, parent gone) and clone
    assert torch.equal(nb, binding[source])  # children inherit the parent's face
    assert int(fresh.sum()) == 3
    children = (source == 3).nonzero().squeeze(1)
    assert torch.allclose(new["log_scale"][children], torch.full((2, 3), -1.0 - np.log(1.6)))
    assert new["xyz"].shape[0] == nb.shape[0] == len(source)


def test_keep_one_per_face_spares_the_most_opaque() -> None:
    binding = torch.tensor([0, 0, 0, 1])
    opacity = torch.tensor([0.001, 0.003, 0.002, 0.5])
    kept = ~keep_one_per_face(torch.tensor([True, True, True, False]), binding, opacity)
    assert kept.tolist() == [False, True, False, True]


def test_head_matte_covers_the_rendered_head() -> None:
    """Without masks the matte comes from the posed head: it must hold the whole rendered
    head (a cut-off face would be trained towards the backdrop) and not much more."""
    avatar = create_avatar("a woman with short hair", head="human")
    camera = orbit_cameras(1, 96)["cam00"]
    motion = talking_motion(1)
    alpha = render(next(avatar.scenes(motion)), camera, backend="cpu").alpha  # [H, W]
    verts = torch.from_numpy(avatar.head.pose(motion)[0])
    matte = head_matte(verts, camera, radius=2).numpy()
    head = alpha > 0.5
    assert matte[head].mean() > 0.99
    assert matte.sum() < 1.3 * head.sum()


def test_head_matte_has_no_holes_at_512() -> None:
    """At 512² the forehead, neck and clothing triangles span tens of pixels: a matte from
    vertices alone had holes there (white dashes on the target); points on the triangles
    close them."""
    avatar = create_avatar("a woman with short hair", head="human")
    camera = orbit_cameras(1, 512)["cam00"]
    motion = talking_motion(1)
    alpha = render(next(avatar.scenes(motion)), camera, backend="cpu").alpha  # [H, W]
    verts = torch.from_numpy(avatar.head.pose(motion)[0])
    faces = torch.as_tensor(np.asarray(avatar.head.faces, np.int64))
    matte = head_matte(verts, camera, radius=8, faces=faces).numpy()
    head = alpha > 0.5
    assert matte[head].mean() > 0.999
    assert matte.sum() < 1.3 * head.sum()
