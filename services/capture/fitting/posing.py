"""Differentiable posing of the human head, for per-frame motion refinement while fitting.

``HumanHead.pose`` (numpy) is linear in the face units up to two clamps (``limit_weights``)
and the head turn: ``v = neutral + Σ w_k Δ_k``, hair and other extras carried by their
bust vertices (``carriers``), then every vertex turned by ``euler_yxz(w_v · angles)`` about
the neck pivot (``w_v`` the neck falloff). ``TorchHumanPose`` is that in torch: the clamps
are applied to the rig motion in numpy first (they are not what a small correction should
learn through),
the rest carries gradients to the 52 weights and the 3 angles. ``test_fit_photometric``
holds it to ``HumanHead.pose``.

Other heads (procedural, FLAME) have no torch posing here: ``RigidPose`` poses them with
numpy and refines only a per-frame rigid turn about the neck pivot (differentiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dyad.services.renderer.heads.human.face_units import limit_weights
from dyad.services.renderer.heads.model import validated_clip

N_UNITS = 52  # arkit55: 52 face units then pitch, yaw, roll


def euler_yxz_torch(angles: torch.Tensor) -> torch.Tensor:
    """``[..., 3]`` (pitch, yaw, roll) → ``Ry(yaw)·Rx(pitch)·Rz(roll)`` ``[..., 3, 3]``
    (``heads.model.euler_yxz`` in torch)."""
    cp, sp = angles[..., 0].cos(), angles[..., 0].sin()
    cy, sy = angles[..., 1].cos(), angles[..., 1].sin()
    cr, sr = angles[..., 2].cos(), angles[..., 2].sin()
    rows = [
        torch.stack([cy * cr + sy * sp * sr, -cy * sr + sy * sp * cr, sy * cp], -1),
        torch.stack([cp * sr, cp * cr, -sp], -1),
        torch.stack([-sy * cr + cy * sp * sr, sy * sr + cy * sp * cr, cy * cp], -1),
    ]
    return torch.stack(rows, -2)


class TorchHumanPose:
    """``HumanHead`` posing in torch: ``pose(motion [T, 55], correction [T, 55]) → [T, V, 3]``.

    ``motion`` is the clip as given (numpy; clamped like ``HumanHead.pose``); ``correction``
    (torch, may require grad) is added after the clamps.
    """

    def __init__(self, head: Any, device: torch.device | str = "cpu") -> None:
        # The head's posing data (attributes of ``HumanHead``; read, never written).
        self.rig = head.rig
        self.device = torch.device(device)
        f32: dict[str, Any] = {"dtype": torch.float32, "device": self.device}
        self.neutral = torch.as_tensor(head.neutral(), **f32)  # [V, 3]
        self.num_bust = len(head._neutral)
        self.active = torch.as_tensor(head._active, dtype=torch.long, device=self.device)  # [A]
        self.deltas = torch.as_tensor(head._flat_deltas, **f32)  # [52, A·3]
        carriers = head._carriers  # extras move with weighted bust vertices (``carriers``)
        self.carrier_index = torch.as_tensor(carriers.index, dtype=torch.long, device=self.device)
        self.carrier_weight = torch.as_tensor(carriers.weight, **f32)  # [H, K]
        self.pivot = torch.as_tensor(head.neck_pivot, **f32)  # [3]
        self.weights = torch.as_tensor(head._pose_weights, **f32)  # [V]

    def base_clip(self, motion: np.ndarray) -> torch.Tensor:
        """``[T, 55]`` numpy → the clamped clip as the numpy pose sees it (torch)."""
        clip = limit_weights(validated_clip(self.rig, motion))
        return torch.as_tensor(np.asarray(clip, np.float32), device=self.device)

    def pose_clip(self, clip: torch.Tensor) -> torch.Tensor:
        """Clamped clip ``[T, 55]`` (torch, differentiable) → vertices ``[T, V, 3]``."""
        n_t = clip.shape[0]
        moved = (clip[:, :N_UNITS] @ self.deltas).reshape(n_t, -1, 3)  # [T, A, 3]
        verts = self.neutral.expand(n_t, -1, -1).index_add(1, self.active, moved)
        bust = verts[:, : self.num_bust]
        moved_bust = bust - self.neutral[: self.num_bust]  # [T, Vb, 3]
        carried = verts[:, self.num_bust :] + (
            moved_bust[:, self.carrier_index] * self.carrier_weight[..., None]
        ).sum(2)  # [T, H, K, 3] → [T, H, 3]
        verts = torch.cat([bust, carried], 1)  # hair, shells, cut points follow the bust
        angles = clip[:, N_UNITS:]  # [T, 3]
        rot = euler_yxz_torch(angles[:, None, :] * self.weights[None, :, None])  # [T, V, 3, 3]
        rel = verts - self.pivot
        return (rot @ rel[..., None]).squeeze(-1) + self.pivot

    def pose(self, motion: np.ndarray, correction: torch.Tensor | None = None) -> torch.Tensor:
        clip = self.base_clip(motion)
        return self.pose_clip(clip if correction is None else clip + correction)


class RigidPose:
    """Any head: numpy posing, then a differentiable per-frame turn about ``pivot``
    (``correction[:, -3:]`` read as pitch, yaw, roll; the other channels are ignored)."""

    def __init__(self, head: Any, device: torch.device | str = "cpu") -> None:
        self.head = head
        self.rig = head.rig
        self.device = torch.device(device)
        pivot = getattr(head, "neck_pivot", np.zeros(3, np.float32))
        self.pivot = torch.as_tensor(np.asarray(pivot, np.float32), device=self.device)

    def pose(self, motion: np.ndarray, correction: torch.Tensor | None = None) -> torch.Tensor:
        verts = torch.as_tensor(self.head.pose(motion), device=self.device)  # [T, V, 3]
        if correction is None:
            return verts
        rot = euler_yxz_torch(correction[:, -3:])[:, None]  # [T, 1, 3, 3]
        return (rot @ (verts - self.pivot)[..., None]).squeeze(-1) + self.pivot


def poser_for(head: Any, device: torch.device | str = "cpu") -> TorchHumanPose | RigidPose:
    """The full torch posing for the human head, the rigid refinement for the others."""
    from dyad.services.renderer.heads.human.model import HumanHead

    return TorchHumanPose(head, device) if isinstance(head, HumanHead) else RigidPose(head, device)
