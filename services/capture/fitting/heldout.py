"""Photometric tracking of held-out frames: their motion fitted with the avatar frozen.

Why: a held-out frame's motion is what MediaPipe read from it (expression) and what the
landmark fit made of its head angles — a few pixels and a few hundredths of a face unit off
what the frame shows. Scored with that motion, the fitted avatar is charged for the tracker's
error (a mouth a little less open than hers, a jaw line a pixel aside), not only for its own
appearance. GaussianAvatars and the avatars RSATalker compares with evaluate on test frames
whose expression and pose came from a photometric tracker that saw those frames; this is that
step: for each held-out frame, only its rig correction (51 face units + 3 head angles,
``FitParams.correction``) is optimised against the frame with the image loss (eq. 10) — the
Gaussians, trained on the other 90 %, never see it. ``metrics.json`` reports both scores
(``psnr``… after tracking, ``untracked`` before).

Frames are tracked in clip order, each starting from the previous one's correction (the first
from the last training frame's learned correction): neighbouring frames differ little, so a
few Adam steps per frame suffice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .losses import image_loss

#: Adam steps per held-out frame and their starting learning rates: face-unit weights (0–1
#: scale) and head angles (radians), decayed to 0 on a half cosine so the last steps settle
#: rather than overshoot. 20 steps move a unit by up to ~0.4 and the head by up to ~2°,
#: more than the tracker's errors on the real clip.
TRACK_STEPS = 20
LR_TRACK_UNITS = 3e-2
LR_TRACK_POSE = 3e-3

#: Renders frame ``t`` with the correction ``[1, C]`` for each camera → list of (rgb, target).
RenderPairs = Callable[[int, torch.Tensor], list[tuple[torch.Tensor, torch.Tensor]]]


def track_frames(
    frames: Sequence[int],
    start: torch.Tensor,  # [C] the correction to start from
    render_pairs: RenderPairs,
    steps: int = TRACK_STEPS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[int, torch.Tensor]:
    """Each frame of ``frames`` (in order) → its fitted correction ``[1, C]`` (detached).

    ``start [C]`` seeds the first frame; each later one starts where the previous ended.
    ``progress(done, total)`` after each frame."""
    if start.dim() != 1:
        raise ValueError(f"start must be [C], got {tuple(start.shape)}")
    current = start.detach().clone()[None]  # [1, C]
    tracked: dict[int, torch.Tensor] = {}
    for t in frames:
        units = current[:, :-3].clone().requires_grad_(True)  # [1, C − 3]
        turn = current[:, -3:].clone().requires_grad_(True)  # [1, 3]
        opt = torch.optim.Adam(
            [{"params": [units], "lr": LR_TRACK_UNITS}, {"params": [turn], "lr": LR_TRACK_POSE}]
        )
        for step in range(steps):
            for group, lr in zip(opt.param_groups, (LR_TRACK_UNITS, LR_TRACK_POSE), strict=True):
                group["lr"] = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            pairs = render_pairs(t, torch.cat([units, turn], dim=1))
            loss = torch.stack([image_loss(rgb, target) for rgb, target in pairs]).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        current = torch.cat([units, turn], dim=1).detach()
        tracked[int(t)] = current
        if progress is not None:
            progress(len(tracked), len(frames))
    return tracked
