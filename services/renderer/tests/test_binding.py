"""Binding math against hand-computed triangles (models.md §2.1, RSATalker eq. 6–7)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.services.renderer.avatars.binding import (
    bind,
    quat_mul,
    quat_to_rotmat,
    rotmat_to_quat,
    triangle_frames,
)
from dyad.services.renderer.avatars.binding_fast import bind_frame
from dyad.services.renderer.avatars.offsetnet import GaussianOffsetNet, OffsetNetConfig, offset_loss

TRI = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


@pytest.fixture(autouse=True)
def _float64() -> Iterator[None]:
    """Hand-computed values in float64, without leaking the default to other test modules."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


FACES = torch.tensor([[0, 1, 2]])


def _rot(axis: list[float], angle: float) -> torch.Tensor:
    a = torch.tensor(axis, dtype=torch.float64)
    a = a / a.norm()
    q = torch.cat([torch.tensor([math.cos(angle / 2)]), math.sin(angle / 2) * a])
    return quat_to_rotmat(q)


def test_triangle_frame_by_hand() -> None:
    r, k, centre = triangle_frames(TRI, FACES)
    # axis0 = edge, axis1 = normal (0,0,1), axis2 = −(axis1 × axis0) = (0,−1,0).
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    torch.testing.assert_close(r[0], expected)
    assert torch.det(r[0]).item() == pytest.approx(1.0)
    assert k[0].item() == pytest.approx(1.0)  # (edge 1 + height 1) / 2
    torch.testing.assert_close(centre[0], torch.tensor([1 / 3, 1 / 3, 0.0]))


def test_scale_is_mean_of_edge_and_height() -> None:
    tri = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.5, 3.0, 0.0]])
    _, k, _ = triangle_frames(tri, FACES)
    assert k[0].item() == pytest.approx((2.0 + 3.0) / 2)


def test_local_position_maps_through_frame() -> None:
    xyz = torch.tensor([[0.1, 0.2, 0.3]])
    means, quats, scales, normals = bind(
        TRI,
        FACES,
        torch.tensor([0]),
        xyz,
        torch.log(torch.tensor([[0.5, 0.1, 0.5]])),
        torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
    )
    # k·R·μ + T = 0.1·(1,0,0) + 0.2·(0,0,1) + 0.3·(0,−1,0) + (1/3, 1/3, 0)
    torch.testing.assert_close(means[0], torch.tensor([0.1 + 1 / 3, 1 / 3 - 0.3, 0.2]))
    torch.testing.assert_close(scales[0], torch.tensor([0.5, 0.1, 0.5]))
    torch.testing.assert_close(normals[0], torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(quat_to_rotmat(quats[0]), triangle_frames(TRI, FACES)[0][0])


@pytest.mark.parametrize("scale", [1.0, 0.25, 3.0])
def test_rigid_similarity_moves_gaussians_rigidly(scale: float) -> None:
    g = torch.Generator().manual_seed(0)
    xyz = torch.randn(5, 3, generator=g) * 0.3
    log_s = torch.randn(5, 3, generator=g) * 0.2
    rot = torch.randn(5, 4, generator=g)
    binding = torch.zeros(5, dtype=torch.long)
    m0, q0, s0, _ = bind(TRI, FACES, binding, xyz, log_s, rot)
    q_world = _rot([0.3, -1.0, 0.5], 2.1)
    t = torch.tensor([0.4, -2.0, 7.0])
    moved = scale * TRI @ q_world.T + t
    m1, q1, s1, _ = bind(moved, FACES, binding, xyz, log_s, rot)
    torch.testing.assert_close(m1, scale * m0 @ q_world.T + t)
    torch.testing.assert_close(s1, scale * s0)
    torch.testing.assert_close(quat_to_rotmat(q1), q_world @ quat_to_rotmat(q0))


def test_batched_frames_equal_one_by_one() -> None:
    verts = torch.stack([TRI, TRI * 2 + 1, TRI @ _rot([0, 0, 1], 0.7).T])  # [T, V, 3]
    xyz, log_s, rot = torch.zeros(1, 3), torch.zeros(1, 3), torch.tensor([[1.0, 0, 0, 0]])
    batched = bind(verts, FACES, torch.tensor([0]), xyz, log_s, rot)
    for i in range(3):
        single = bind(verts[i], FACES, torch.tensor([0]), xyz, log_s, rot)
        for b, s in zip(batched, single, strict=True):
            torch.testing.assert_close(b[i], s)


def test_quaternion_round_trip_including_half_turns() -> None:
    g = torch.Generator().manual_seed(1)
    q = torch.randn(200, 4, generator=g)
    q = torch.cat(
        [q, torch.tensor([[0.0, 1, 0, 0], [0.0, 0, 1, 0], [0.0, 0, 0, 1], [1e-9, 1, 1, 0]])]
    )
    r = quat_to_rotmat(q)
    back = rotmat_to_quat(r)
    torch.testing.assert_close(quat_to_rotmat(back), r, atol=1e-9, rtol=0)
    assert (back[:, 0] >= 0).all()


def test_quat_mul_is_matrix_product() -> None:
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    torch.testing.assert_close(
        quat_to_rotmat(quat_mul(a, b)), quat_to_rotmat(a) @ quat_to_rotmat(b)
    )


def test_bind_rejects_mismatched_shapes() -> None:
    with pytest.raises(InvalidInput) as e:
        bind(
            TRI,
            FACES,
            torch.tensor([0, 0]),
            torch.zeros(1, 3),
            torch.zeros(2, 3),
            torch.zeros(2, 4),
        )
    assert e.value.field == "xyz"


def test_offset_net_starts_at_zero_and_is_social() -> None:
    net = GaussianOffsetNet(OffsetNetConfig(num_anchors=7))
    t = torch.linspace(0, 2, 5, dtype=torch.float32)
    c = net(True, False, t)
    assert c.shape == (5, 7, 3) and c.abs().max().item() == 0.0
    # The four relationship queries are distinct (orthogonal pairs per axis).
    qs = torch.stack([net.query(b, e) for b in (0, 1) for e in (0, 1)])
    assert torch.cdist(qs, qs).fill_diagonal_(1.0).min().item() > 0.5
    assert offset_loss(torch.tensor([[0.5, 0.0, 0.0], [0.0, 2.0, 0.0]]), eps=1.0).item() == 0.5


def test_compiled_binding_matches_the_torch_reference() -> None:
    g = torch.Generator().manual_seed(5)
    verts = torch.randn(40, 3, generator=g, dtype=torch.float64)
    faces = torch.randint(0, 40, (60, 3), generator=g)
    faces = faces[
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    ]
    binding = torch.randint(0, faces.shape[0], (200,), generator=g)
    xyz = torch.randn(200, 3, generator=g) * 0.3
    log_s = torch.randn(200, 3, generator=g) * 0.3
    rot = torch.randn(200, 4, generator=g)
    rot = rot / rot.norm(dim=1, keepdim=True)
    ref = bind(verts, faces, binding, xyz, log_s, rot)
    fast = bind_frame(
        verts.float().numpy(),
        faces.numpy(),
        binding.numpy(),
        xyz.float().numpy(),
        log_s.float().numpy(),
        rot.float().numpy(),
    )
    for name, r, f in zip(("means", "quats", "scales", "normals"), ref, fast, strict=True):
        r = r.numpy()
        if name == "quats":  # q and −q are the same rotation
            f = f * np.sign((f * r).sum(1, keepdims=True))
        np.testing.assert_allclose(f, r, atol=2e-5, rtol=1e-4, err_msg=name)
