"""Adaptive density control that keeps every Gaussian bound to its triangle.

3DGS' clone/split/prune, as GaussianAvatars adapts it to bound Gaussians (models.md §2.1):
children copy their parent's face index; a split samples the children from the parent's
Gaussian in the triangle's local frame and divides its local scale by 0.8·2; pruning by
opacity never removes a face's last Gaussian (the one left is the face's most opaque).

The statistic is the view-space positional gradient, averaged over the iterations a Gaussian
was seen: ``view_space_grad`` turns the gradient of the world means into the gradient with
respect to the projected centre in NDC units (3DGS' threshold 2e-4 is in those units).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dyad.services.renderer.raster.rotation import quat_to_rotmat

# 3DGS / GaussianAvatars (models.md §2.2): grad threshold 2e-4; the split shrink 0.8·N, N = 2.
GRAD_THRESHOLD = 2e-4
SPLIT_CHILDREN = 2
SPLIT_SHRINK = 0.8 * SPLIT_CHILDREN
MIN_OPACITY = 0.005  # 3DGS' prune threshold
# Split rather than clone when the world-space scale exceeds this share of the head's extent
# (3DGS' percent_dense = 0.01 of the scene extent).
PERCENT_DENSE = 0.01
PER_GAUSSIAN = ("xyz", "log_scale", "rot", "opacity_logit", "colour")


def view_space_grad(
    means_grad: torch.Tensor,  # [N, 3] dL/d(world mean)
    means: torch.Tensor,  # [N, 3] world means (no grad needed)
    viewmat: np.ndarray,  # [4, 4]
    focal: float,
    width: int,
) -> torch.Tensor:
    """‖dL/d(projected centre)‖ in NDC units ``[N]`` (first-order: the depth's effect on the
    projection is left out). Pixel u = f·x/z + c ⇒ dL/dx = dL/du · f/z, so dL/du = dL/dx · z/f;
    NDC spans the image width in 2 units, so dL/dndc = dL/du · W/2."""
    rot = torch.as_tensor(np.array(viewmat[:3, :3]), dtype=means.dtype, device=means.device)
    trans = torch.as_tensor(np.array(viewmat[:3, 3]), dtype=means.dtype, device=means.device)
    z = (means @ rot[2] + trans[2]).clamp_min(1e-6)  # [N]
    g_cam = means_grad @ rot.T  # [N, 3]
    return g_cam[:, :2].norm(dim=-1) * z / focal * (0.5 * width)


def keep_one_per_face(
    prune: torch.Tensor, binding: torch.Tensor, score: torch.Tensor
) -> torch.Tensor:
    """``prune [N]`` bool with, for every face it would empty, its best-``score`` Gaussian
    spared."""
    b = binding.cpu().numpy()
    p = prune.cpu().numpy().copy()
    kept = np.bincount(b[~p], minlength=int(b.max()) + 1)
    emptied = np.flatnonzero(kept[b] == 0)  # Gaussians on faces that would lose all
    if emptied.size:
        s = score.detach().cpu().numpy()[emptied]
        order = np.lexsort((-s, b[emptied]))  # by face, most opaque first
        _faces, first = np.unique(b[emptied][order], return_index=True)
        p[emptied[order][first]] = False
    return torch.from_numpy(p).to(prune.device)


@torch.no_grad()
def densify_and_prune(
    params: dict[str, torch.Tensor],
    binding: torch.Tensor,  # [N] long
    mean_grad: torch.Tensor,  # [N] averaged view-space gradient
    world_scale: torch.Tensor,  # [N] largest world-space std of each Gaussian
    extent: float,
    generator: torch.Generator,
    *,
    grad_threshold: float = GRAD_THRESHOLD,
    min_opacity: float = MIN_OPACITY,
    max_gaussians: int | None = None,
    max_growth: float = 1.0,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """One densify-and-prune step.

    ``params``: per-Gaussian tensors (``PER_GAUSSIAN``; ``opacity_logit`` [N], the rest
    [N, D]). Returns the new params, the new binding, ``source`` [N'] (the old index each new
    Gaussian derives from) and ``fresh`` [N'] (True for the clone/split children, whose
    optimiser moments start at zero as in 3DGS).
    """
    n = binding.shape[0]
    grown = mean_grad >= grad_threshold
    room = int(n * max_growth)
    if max_gaussians is not None:
        room = min(room, max(0, (max_gaussians - n) // SPLIT_CHILDREN))
    if int(grown.sum()) > room:  # grow the steepest first
        top = torch.topk(torch.where(grown, mean_grad, -1.0), room).indices
        grown = torch.zeros_like(grown)
        grown[top] = True
    split = grown & (world_scale > PERCENT_DENSE * extent)
    clone = grown & ~split
    split_idx, clone_idx = split.nonzero().squeeze(1), clone.nonzero().squeeze(1)

    # Split children: sampled from the parent's local Gaussian, scales shrunk.
    parent = split_idx.repeat(SPLIT_CHILDREN)
    std = params["log_scale"][parent].exp()  # [S·2, 3] local
    sample = torch.randn(std.shape, generator=generator, dtype=std.dtype).to(std.device) * std
    local_rot = quat_to_rotmat(params["rot"][parent])  # [S·2, 3, 3]
    children = {k: v[parent].clone() for k, v in params.items()}
    children["xyz"] = params["xyz"][parent] + (local_rot @ sample[..., None]).squeeze(-1)
    children["log_scale"] = params["log_scale"][parent] - math.log(SPLIT_SHRINK)

    keep = (~split).nonzero().squeeze(1)
    source = torch.cat([keep, clone_idx, parent])
    fresh = torch.cat(
        [
            torch.zeros(len(keep), dtype=torch.bool),
            torch.ones(len(clone_idx) + len(parent), dtype=torch.bool),
        ]
    ).to(binding.device)
    out = {k: torch.cat([v[keep], v[clone_idx], children[k]]) for k, v in params.items()}
    new_binding = binding[source]

    opacity = torch.sigmoid(out["opacity_logit"])
    prune = keep_one_per_face(opacity < min_opacity, new_binding, opacity)
    alive = (~prune).nonzero().squeeze(1)
    return (
        {k: v[alive].contiguous() for k, v in out.items()},
        new_binding[alive],
        source[alive],
        fresh[alive],
    )


def remap_adam(
    optimizer: torch.optim.Optimizer,
    old: dict[str, torch.Tensor],
    new: dict[str, torch.Tensor],
    source: torch.Tensor,
    fresh: torch.Tensor,
) -> None:
    """Point ``optimizer``'s per-Gaussian groups at the ``new`` leaves, carrying each
    Gaussian's Adam moments from its ``source`` (zero for ``fresh`` ones)."""
    by_id = {id(t): name for name, t in old.items()}
    for group in optimizer.param_groups:
        p = group["params"][0]
        name = by_id.get(id(p))
        if name is None:
            continue
        state = optimizer.state.pop(p, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in state:
                moved = state[key][source].clone()
                moved[fresh] = 0.0
                state[key] = moved
        group["params"][0] = new[name]
        if state:
            optimizer.state[new[name]] = state
