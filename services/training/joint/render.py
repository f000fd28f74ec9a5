"""The differentiable avatar of joint training: rig motion → posed human head → bound Gaussians
(+ offsetnet corrections) → splatted image, every step in torch so that ``L_image`` reaches
the motion model, the Gaussians and the offsetnet.

- **Posing**: ``TorchHumanPose`` (the capture root's torch twin of ``HumanHead.pose``). The
  head's pose-time clamps (``limit_weights``, the rig ranges) are numpy; they are applied
  straight-through: the forward pass sees the clamped clip, the gradient passes as if the
  clamp were the identity, so a prediction outside a range is still pulled back by ``L_image``.
- **Binding**: ``avatars.binding.bind`` with the offsets ``c = GON(q, t)`` of the frame.
- **Colour**: the avatar's own lighting (``GaussianAvatar.shade``, numpy) of the posed normals,
  without grad, plus a learned per-Gaussian colour change (for an unshaded, fitted avatar the
  colour is the albedo and the change is exactly an albedo change).
- **Visibility**: Gaussians on triangles facing away from the camera are dropped per frame
  (no grad; the margin of ``GaussianAvatar.scenes``): the head is closed, they are hidden,
  and dropping them halves the rasteriser's work.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from dyad.services.capture.fitting.posing import TorchHumanPose
from dyad.services.renderer.avatars.avatar import BACKFACE_MARGIN, GaussianAvatar
from dyad.services.renderer.avatars.binding import bind, triangle_frames
from dyad.services.renderer.avatars.offsetnet import GaussianOffsetNet, OffsetNetConfig
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.torch_autograd import render_torch
from dyad.timebase import FPS

BACKGROUND = (0.5, 0.5, 0.5)  # the synthetic target's backdrop (a real video: its matte)
CAMERA_DISTANCE, CAMERA_RISE, FOV_Y = 0.6, 0.0, 30.0  # metres from the neck pivot, degrees


def face_camera(head: Any, size: int) -> Camera:
    """A ``size``² camera straight in front of the face (DESIGN §2: the head faces +z)."""
    target = np.asarray(head.neck_pivot, np.float64) + np.array([0.0, CAMERA_RISE, 0.0])
    eye = target + np.array([0.0, 0.0, CAMERA_DISTANCE])
    return Camera.look_at(eye, target, fov_y_deg=FOV_Y, width=size, height=size)


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-4, 0.99)
    return torch.log(p / (1 - p))


class AvatarRenderer(nn.Module):
    """The trainable renderer side: the avatar's Gaussians (local position ``xyz`` ``[N, 3]``,
    ``log_scale`` ``[N, 3]``, ``rot`` ``[N, 4]``, ``opacity_logit`` ``[N]``,
    ``colour_delta`` ``[N, 3]``) and its offsetnet; ``render`` draws rig frames."""

    def __init__(self, avatar: GaussianAvatar, size: int) -> None:
        super().__init__()
        self.avatar = avatar  # head, binding, albedo and lighting (read only)
        self.poser = TorchHumanPose(avatar.head)
        self.faces = torch.as_tensor(np.asarray(avatar.head.faces), dtype=torch.long)  # [F, 3]
        self.camera = face_camera(avatar.head, size)
        self.register_buffer("background", torch.tensor(BACKGROUND, dtype=torch.float32))
        self.xyz = nn.Parameter(avatar.xyz.detach().clone().float())
        self.log_scale = nn.Parameter(avatar.log_scale.detach().clone().float())
        self.rot = nn.Parameter(avatar.rot.detach().clone().float())
        self.opacity_logit = nn.Parameter(_logit(avatar.opacity.detach().float()))
        self.colour_delta = nn.Parameter(torch.zeros(avatar.num_gaussians, 3))
        n = avatar.num_gaussians
        anchors = n if avatar.anchor is None else int(avatar.anchor.max()) + 1
        net = avatar.offsetnet or GaussianOffsetNet(OffsetNetConfig(num_anchors=anchors))
        self.offsetnet = copy.deepcopy(net)  # trained here; the avatar's own stays as loaded

    def pose(self, motion: torch.Tensor) -> torch.Tensor:
        """Rig frames ``[T, 55]`` (differentiable) → vertices ``[T, V, 3]``; clamps applied
        straight-through (module docstring)."""
        clamped = self.poser.base_clip(motion.detach().cpu().numpy()).to(motion)
        return self.poser.pose_clip(motion + (clamped - motion).detach())

    def offsets(self, relation: tuple[bool, bool], seconds: torch.Tensor) -> torch.Tensor:
        """``c`` per Gaussian ``[T, N, 3]`` (metres) at times ``seconds`` ``[T]``."""
        c = self.offsetnet(relation[0], relation[1], seconds)  # [T, anchors, 3]
        return c if self.avatar.anchor is None else c[:, self.avatar.anchor]

    def render(
        self, motion: torch.Tensor, relation: tuple[bool, bool], frames: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rig frames ``motion`` ``[T, 55]`` at clip frame numbers ``frames`` ``[T]`` → images
        ``[T, H, W, 3]`` and the offsets in triangle units ``[T, N, 3]`` (``c / k`` of each
        Gaussian's triangle: what ``L_offset`` bounds, ``train.py``)."""
        verts = self.pose(motion)  # [T, V, 3]
        c = self.offsets(relation, frames.to(torch.float32) / FPS)  # [T, N, 3]
        binding = self.avatar.binding
        images, scaled = [], []
        for i in range(verts.shape[0]):
            means, quats, scales, normals = bind(
                verts[i], self.faces, binding, self.xyz, self.log_scale, self.rot, c[i]
            )
            with torch.no_grad():
                k = triangle_frames(verts[i], self.faces)[1][binding]  # [N] triangle size
                n = normals.detach()
                view = torch.as_tensor(self.camera.position, dtype=means.dtype) - means.detach()
                dist = view.norm(dim=-1, keepdim=True)
                keep = (n * view).sum(-1) > -BACKFACE_MARGIN * dist[:, 0]
                shaded = self.avatar.shade(n.numpy(), (view / dist).numpy())
            colour = (torch.from_numpy(shaded) + self.colour_delta).clamp(0.0, 1.0)
            rgb, _alpha, _depth = render_torch(
                means[keep],
                quats[keep],
                scales[keep],
                torch.sigmoid(self.opacity_logit)[keep],
                colour[keep],
                self.camera,
                self.background,
            )
            images.append(rgb)
            scaled.append(c[i] / k[:, None])
        return torch.stack(images), torch.stack(scaled)

    def to_avatar(self) -> GaussianAvatar:
        """The trained avatar: Gaussians, the colour change folded into the albedo, the
        offsetnet attached (``GaussianAvatar.save`` stores it)."""
        src = self.avatar
        return GaussianAvatar(
            head=src.head,
            head_config=src.head_config,
            binding=src.binding.clone(),
            xyz=self.xyz.detach().clone(),
            log_scale=self.log_scale.detach().clone(),
            rot=nn.functional.normalize(self.rot.detach(), dim=-1),
            opacity=torch.sigmoid(self.opacity_logit.detach()),
            albedo=(src.albedo + self.colour_delta.detach()).clamp(0.0, 1.0),
            soft=src.soft.clone(),
            shading=src.shading,
            offsetnet=copy.deepcopy(self.offsetnet).eval(),
            anchor=None if src.anchor is None else src.anchor.clone(),
        )
