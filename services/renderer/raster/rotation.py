"""Unit-quaternion rotations in torch, shared by the differentiable rasteriser and the avatar
binding (``projection.quat_to_rotmat`` is the numpy reference of the same formula)."""

from __future__ import annotations

import torch

_EPS = 1e-12


def quat_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` wxyz (any norm) → ``[..., 3, 3]``."""
    w, x, y, z = (q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)
