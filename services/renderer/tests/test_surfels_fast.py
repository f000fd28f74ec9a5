"""The compiled surfel covariances (``surfels_fast.covers``, what ``fit_to_triangles`` runs by
default) against the numpy reference (``fit_to_triangles(compiled=False)``), on the human
bust and the procedural head at their stretch poses, and on degenerate triangles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.services.renderer.avatars.avatar import build_head, create_avatar
from dyad.services.renderer.avatars.surfels import fit_to_triangles, stretch_poses


@pytest.mark.parametrize("head", ["procedural", "human"])
def test_compiled_covariances_equal_the_numpy_reference(head: str) -> None:
    model = build_head(create_avatar("a young woman with long hair", head=head).head_config)
    rest = torch.from_numpy(model.neutral())
    posed = torch.from_numpy(np.asarray(model.pose(stretch_poses(model.rig)), np.float32))
    fast = fit_to_triangles(rest, model.faces, posed)
    slow = fit_to_triangles(rest, model.faces, posed, compiled=False)
    for a, b in zip(fast, slow, strict=True):  # log-scales, rotations: float32
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=2e-6)
    none = fit_to_triangles(rest, model.faces)
    np.testing.assert_allclose(
        none[0].numpy(), fit_to_triangles(rest, model.faces, compiled=False)[0].numpy(), atol=2e-6
    )
    assert not torch.allclose(none[0], fast[0])  # the poses did grow some


def test_degenerate_triangles_too() -> None:
    rng = np.random.default_rng(3)
    verts = rng.normal(size=(40, 3))
    verts[5] = verts[4] = verts[3]  # a point
    verts[8] = verts[6] + 2.0 * (verts[7] - verts[6])  # a line
    faces = np.concatenate([rng.integers(0, 40, (200, 3)), [[3, 4, 5], [6, 7, 8]]])
    rest = torch.from_numpy(verts).float()
    posed = rest[None] + torch.from_numpy(rng.normal(0, 0.1, (5, 40, 3))).float()
    fast = fit_to_triangles(rest, faces, posed)
    slow = fit_to_triangles(rest, faces, posed, compiled=False)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=2e-6)
