"""The differentiable view of an avatar being fitted: parameters, posing, binding, splatting.

``FitParams`` holds what stage 2 optimises (RSATalker §3.6): per-Gaussian local position,
log-scale, rotation, opacity (as a logit) and colour — fitted avatars are unshaded, the
lighting of the video is baked into the colour as GaussianAvatars does — plus a per-frame
correction of the rig motion (``posing``). ``render_view`` poses the head for one frame,
binds the Gaussians (``avatars.binding.bind``) and splats them: the torch rasteriser
(``raster.torch_autograd``) on CPU, gsplat's differentiable ``rasterization`` on CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dyad.services.renderer.avatars.avatar import BACKFACE_MARGIN, GaussianAvatar
from dyad.services.renderer.avatars.binding import bind, triangle_frames
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.projection import EPS2D, NEAR_PLANE
from dyad.services.renderer.raster.torch_autograd import render_torch

OPACITY_CAP = 0.99  # the rasteriser's α cap: a logit beyond it only slows learning


def logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-4, OPACITY_CAP)
    return torch.log(p / (1 - p))


@dataclass
class FitParams:
    gaussians: dict[str, torch.Tensor]  # xyz [N,3], log_scale [N,3], rot [N,4],
    #                                     opacity_logit [N], colour [N,3]; leaves with grad
    binding: torch.Tensor  # [N] long
    units: torch.Tensor  # [T, C − 3] per-frame correction of the rig's other channels (leaf)
    turn: torch.Tensor  # [T, 3] per-frame correction of the head turn, radians (leaf)

    def correction(self, rows: slice | None = None) -> torch.Tensor:
        """The per-frame rig correction ``[T, C]`` (rows ``rows``)."""
        r = slice(None) if rows is None else rows
        return torch.cat([self.units[r], self.turn[r]], dim=1)

    @staticmethod
    def from_avatar(
        avatar: GaussianAvatar, num_frames: int, channels: int, device: torch.device
    ) -> FitParams:
        f32: dict[str, Any] = {"dtype": torch.float32, "device": device}
        g = {
            "xyz": avatar.xyz.to(**f32),
            "log_scale": avatar.log_scale.to(**f32),
            "rot": avatar.rot.to(**f32),
            "opacity_logit": logit(avatar.opacity.to(**f32)),
            "colour": avatar.albedo.to(**f32),
        }
        return FitParams(
            {k: v.clone().requires_grad_(True) for k, v in g.items()},
            avatar.binding.to(device=device, dtype=torch.long).clone(),
            torch.zeros(num_frames, channels - 3, **f32).requires_grad_(True),
            torch.zeros(num_frames, 3, **f32).requires_grad_(True),
        )

    def to_avatar(self, template: GaussianAvatar) -> GaussianAvatar:
        """An unshaded ``GaussianAvatar`` on ``template``'s head (CPU tensors)."""
        g = {k: v.detach().cpu() for k, v in self.gaussians.items()}
        n = self.binding.shape[0]
        return GaussianAvatar(
            head=template.head,
            head_config=template.head_config,
            binding=self.binding.cpu().clone(),
            xyz=g["xyz"].clone(),
            log_scale=g["log_scale"].clone(),
            rot=torch.nn.functional.normalize(g["rot"], dim=-1),
            opacity=torch.sigmoid(g["opacity_logit"]),
            albedo=g["colour"].clamp(0.0, 1.0),
            soft=torch.zeros(n),
            shading=False,
        )


def rasterise(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colours: torch.Tensor,
    camera: Camera,
    background: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """RGB ``[H, W, 3]`` over ``background`` and alpha ``[H, W]``, differentiable."""
    if means.device.type != "cuda":
        rgb, alpha, _ = render_torch(means, quats, scales, opacities, colours, camera, background)
        return rgb, alpha
    from gsplat import rasterization  # CUDA only; imported when fitting on a GPU

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=means.device)

    out, alphas, _meta = rasterization(
        means=means,
        quats=quats,
        scales=scales,
        opacities=opacities,
        colors=colours,
        viewmats=t(camera.viewmat)[None],
        Ks=t(camera.K)[None],
        width=camera.width,
        height=camera.height,
        near_plane=NEAR_PLANE,
        eps2d=EPS2D,
        rasterize_mode="classic",
        backgrounds=background[None],
    )
    return out[0], alphas[0, ..., 0]


def pose_frame(
    poser: Any,
    motion: np.ndarray,
    params: FitParams,
    t: int,
    refine: bool,
    correction: torch.Tensor | None = None,
) -> torch.Tensor:
    """Posed vertices ``[V, 3]`` of frame ``t``: with ``correction [1, C]`` when given, else
    with the frame's learned correction when ``refine``."""
    corr = correction
    if corr is None and refine:
        corr = params.correction(slice(t, t + 1))
    return poser.pose(motion[t : t + 1], corr)[0]


def render_view(
    poser: Any,
    faces: torch.Tensor,  # [F, 3] long
    motion: np.ndarray,  # [T, C]
    params: FitParams,
    t: int,
    camera: Camera,
    background: torch.Tensor,  # [3]
    *,
    refine: bool = True,
    correction: torch.Tensor | None = None,  # [1, C] overrides the frame's own
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """rgb ``[H, W, 3]``, alpha ``[H, W]`` and the world means ``[N, 3]`` (whose gradient
    feeds densification) of frame ``t`` seen by ``camera``."""
    g = params.gaussians
    verts = pose_frame(poser, motion, params, t, refine, correction)
    means, quats, scales, normals = bind(
        verts, faces, params.binding, g["xyz"], g["log_scale"], g["rot"]
    )
    if means.requires_grad:
        means.retain_grad()
    keep = front_facing(means.detach(), normals.detach(), camera)  # [M] about half of N
    rgb, alpha = rasterise(
        means[keep],
        quats[keep],
        scales[keep],
        torch.sigmoid(g["opacity_logit"][keep]),
        g["colour"][keep],
        camera,
        background,
    )
    return rgb, alpha, means


def front_facing(means: torch.Tensor, normals: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Indices of the Gaussians whose triangle faces ``camera`` (with the renderer's margin,
    ``avatar.BACKFACE_MARGIN``): the head is a closed outward-oriented surface, so the others
    are hidden behind the front; leaving them out halves the rasteriser's work."""
    eye = torch.as_tensor(np.array(camera.position), dtype=means.dtype, device=means.device)
    view = eye - means  # [N, 3]
    facing = (normals * view).sum(-1)
    return torch.nonzero(facing > -BACKFACE_MARGIN * view.norm(dim=-1)).squeeze(1)


#: Barycentric points sampled on every triangle for the matte (a 6-step grid, 28 points): the
#: hair and clothing triangles span up to ~40 px at 512², far more than the closing bridges.
_MATTE_STEPS = 6
_MATTE_BARY = (
    np.array(
        [
            (i, j, _MATTE_STEPS - i - j)
            for i in range(_MATTE_STEPS + 1)
            for j in range(_MATTE_STEPS + 1 - i)
        ],
        np.float64,
    )
    / _MATTE_STEPS
)  # [S, 3]


def head_matte(
    verts: torch.Tensor, camera: Camera, radius: int, faces: torch.Tensor | None = None
) -> torch.Tensor:
    """A foreground matte ``[H, W]`` in 0–1 from the posed head ``verts [V, 3]``: points on
    its triangles ``faces [F, 3]`` (or only its vertices) projected to pixels, the gaps between
    them closed and the result grown by ``radius`` px. Used when the capture folder has no
    masks (far cheaper than rendering the initial avatar per view)."""
    from .data import dilate

    points = verts.detach().cpu().numpy().astype(np.float64)  # [V, 3]
    if faces is not None:
        tri = points[faces.detach().cpu().numpy()]  # [F, 3, 3]
        points = np.einsum("sk,fkc->fsc", _MATTE_BARY, tri).reshape(-1, 3)  # [F·S, 3]
    uv, z = camera.project_points(points)
    ok = (z > NEAR_PLANE) & np.all(np.isfinite(uv), axis=1)
    px = np.floor(uv[ok]).astype(np.int64)
    inside = (px[:, 0] >= 0) & (px[:, 0] < camera.width) & (px[:, 1] >= 0)
    inside &= px[:, 1] < camera.height
    grid = torch.zeros(camera.height, camera.width)
    grid[px[inside, 1], px[inside, 0]] = 1.0
    gap = max(2, radius)
    closed = 1.0 - dilate(1.0 - dilate(grid, gap), gap)  # closing: fill between points
    return dilate(closed, radius)


def face_scale(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Each face's binding scale ``k`` ``[F]`` at ``verts`` (for world-space sizes)."""
    _rot, k, _centre = triangle_frames(verts, faces)
    return k
