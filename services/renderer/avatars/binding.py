"""Gaussians bound to mesh triangles: the published GaussianAvatars construction.

Every Gaussian lives in the local frame of one triangle (its *binding*). Per frame, each
triangle of the posed mesh gives (models.md §2.1, RSATalker eq. 6–7):

- ``R`` — columns: axis0 = the unit edge v1−v0; axis1 = the unit normal, axis0 × (v2−v0);
  axis2 = −unit(axis1 × axis0) (= axis0 × axis1, so det R = +1);
- ``k`` — the mean of the edge length |v1−v0| and the triangle's height to that edge;
- ``T`` — the centroid.

and a Gaussian with local position ``μ``, log-scale ``s`` and rotation ``q`` lands at
``k·R·μ + T + c`` with scale ``k·exp(s)`` and rotation ``q_R ⊗ q`` (quaternions wxyz, DESIGN §2),
``c`` being the optional per-anchor offset (RSATalker eq. 8, ``offsetnet.py``).

Written from the formulas only (GaussianAvatars' code is non-commercial). Torch, so the same
code serves rendering (no grad) and avatar fitting (autograd).
"""

from __future__ import annotations

import torch

from dyad.errors import InvalidInput

# One torch rotation for the binding and the rasteriser; re-exported for the binding's users.
from dyad.services.renderer.raster.rotation import quat_to_rotmat as quat_to_rotmat

_EPS = 1e-12


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def triangle_frames(
    verts: torch.Tensor, faces: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-triangle rotation, scale and centre.

    verts: ``[..., V, 3]``; faces: ``[F, 3]`` long.
    Returns ``R [..., F, 3, 3]`` (columns axis0, axis1, axis2), ``k [..., F]``, ``T [..., F, 3]``.
    """
    v0, v1, v2 = (verts[..., faces[:, i], :] for i in range(3))  # [..., F, 3] each
    e0, e1 = v1 - v0, v2 - v0
    axis0 = _unit(e0)
    axis1 = _unit(torch.cross(axis0, e1, dim=-1))
    axis2 = -_unit(torch.cross(axis1, axis0, dim=-1))
    rot = torch.stack([axis0, axis1, axis2], dim=-1)  # columns
    k = 0.5 * (e0.norm(dim=-1) + (axis2 * e1).sum(-1).abs())
    centre = (v0 + v1 + v2) / 3.0
    return rot, k, centre


def rotmat_to_quat(rot: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` proper rotations → ``[..., 4]`` unit quaternions (wxyz, w ≥ 0).

    Picks, per matrix, the numerically best of the four standard candidates (the one whose
    diagonal-derived component is largest), so it is stable near 180° turns too.
    """
    m = rot
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    cands = torch.stack(
        [
            torch.stack(
                [
                    1 + m00 + m11 + m22,
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + m00 - m11 - m22,
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 - m00 + m11 - m22,
                    m[..., 1, 2] + m[..., 2, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 - m00 - m11 + m22,
                ],
                -1,
            ),
        ],
        dim=-2,
    )  # [..., 4 candidates, 4]
    trace_terms = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )  # [..., 4]
    best = trace_terms.argmax(-1, keepdim=True)  # [..., 1]
    q = torch.gather(cands, -2, best[..., None].expand(*best.shape, 4)).squeeze(-2)
    q = _unit(q)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a ⊗ b`` of ``[..., 4]`` wxyz quaternions."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def bind(
    verts: torch.Tensor,
    faces: torch.Tensor,
    binding: torch.Tensor,
    xyz: torch.Tensor,
    log_scale: torch.Tensor,
    rot: torch.Tensor,
    offset: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """World Gaussians from a posed mesh.

    verts ``[..., V, 3]``; faces ``[F, 3]``; binding ``[N]`` face index per Gaussian;
    xyz ``[N, 3]`` local positions; log_scale ``[N, 3]``; rot ``[N, 4]`` local wxyz;
    offset ``[..., N, 3]`` world-space corrections ``c`` or None.
    Returns means ``[..., N, 3]``, quats ``[..., N, 4]``, scales ``[..., N, 3]`` and the
    triangle normals per Gaussian ``[..., N, 3]`` (for shading).
    """
    n = binding.shape[0]
    for name, t, width in (("xyz", xyz, 3), ("log_scale", log_scale, 3), ("rot", rot, 4)):
        if tuple(t.shape) != (n, width):
            raise InvalidInput(name, f"expected [{n}, {width}], got {list(t.shape)}")
    if verts.shape[-1] != 3 or verts.dim() < 2:
        raise InvalidInput("verts", f"expected [..., V, 3], got {list(verts.shape)}")
    r_face, k_face, centre = triangle_frames(verts, faces)
    r = r_face[..., binding, :, :]  # [..., N, 3, 3]
    k = k_face[..., binding, None]  # [..., N, 1]
    means = k * (r @ xyz[..., None]).squeeze(-1) + centre[..., binding, :]
    if offset is not None:
        means = means + offset
    scales = k * log_scale.exp()
    quats = quat_mul(rotmat_to_quat(r), rot.expand(*r.shape[:-2], 4))
    return means, quats, scales, r[..., :, 1]
