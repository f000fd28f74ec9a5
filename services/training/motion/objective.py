"""What the motion model is trained on: standardised inputs and the DualTalk loss.

- **Loss.** The MSE of each channel group (``metrics.GROUPS``: flame56 exp / jaw / pose,
  arkit55 mouth / face / pose) plus the MSE of the first differences (velocity), weights 1;
  for a model with a variation latent, its KL and window-statistics terms (``dualtalk_loss``).
- **Standardisation** (ours): the network sees features and partner motion standardised
  with fixed train statistics and predicts standardised motion; the loss is on raw motion.
  The statistics are folded into its first and last linear layers for evaluation and
  ``save_pretrained``, so the saved model takes raw features and motion (exact).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from dyad.rigs import get_rig
from dyad.services.motion.neural.model import DualTalkModel
from dyad.services.training.metrics import GROUPS
from dyad.services.training.motion.data import Clip

# -- standardisation ---------------------------------------------------------------------------
STD_FLOOR = {"feats": 1e-3, "motion": 1e-2}  # constant channels: no blow-up of the folded weights


class Standardizer:
    """Per-channel train mean/std of the features and of the motion (both speakers)."""

    def __init__(self, stats: dict[str, torch.Tensor]) -> None:
        self.stats = {k: v.to(torch.float32) for k, v in stats.items()}

    @classmethod
    def fit(cls, clips: list[Clip]) -> Standardizer:
        out = {}
        for key, pair in (("feats", ("feats_a", "feats_b")), ("motion", ("motion_a", "motion_b"))):
            x = np.concatenate([getattr(c, a) for c in clips for a in pair]).astype(np.float64)
            out[f"{key}_mean"] = torch.from_numpy(x.mean(0))
            out[f"{key}_std"] = torch.from_numpy(np.maximum(x.std(0), STD_FLOOR[key]))
        return cls(out)

    def forward(
        self, model: DualTalkModel, batch: dict[str, Any], *, prior_sample: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """For a raw batch: the raw motion ``model`` (trained on standardised data) predicts,
        the variation latent's KL and (``prior_sample``) a second prediction from the same
        context with a prior draw of ``z`` — both None without a latent. The first uses a
        posterior sample given the standardised target (``parts.MotionVariation``)."""
        s = self.stats
        f = [(batch[k] - s["feats_mean"]) / s["feats_std"] for k in ("audio_self", "audio_partner")]
        m = (batch["motion_partner"] - s["motion_mean"]) / s["motion_std"]
        z = kl = from_prior = None
        feats = model.context(f[0], f[1], m, batch["relation"])
        var = model.variation
        if var is not None:
            y = (batch["target"] - s["motion_mean"]) / s["motion_std"]
            z, kl = var.sample_posterior(y[..., model.config.latent_channels])
            if prior_sample:
                noise = torch.randn(
                    z.shape[0], var.steps(z.shape[1]), var.latent_dim, dtype=z.dtype
                )
                from_prior = model.synthesise(feats, var.upsample(noise, z.shape[1]))
                from_prior = from_prior * s["motion_std"] + s["motion_mean"]
        out = model.synthesise(feats, z) * s["motion_std"] + s["motion_mean"]
        return out, kl, from_prior

    def folded(self, model: DualTalkModel) -> DualTalkModel:
        """A copy of ``model`` that takes and returns raw data: the statistics folded into
        ``audio_projection`` (W/σ, b − W·μ/σ), the motion encoder's first layer (same) and
        ``blendshape_predictor`` (σ·W, σ·b + μ); the variation posterior's first convolution
        like the input layers (over its channels and taps)."""
        s, out = self.stats, copy.deepcopy(model)
        first = out.joint_encoder.blendshape_encoder[0]
        assert isinstance(first, nn.Linear)
        layers: list[tuple[nn.Linear | nn.Conv1d, torch.Tensor, torch.Tensor]] = [
            (out.joint_encoder.audio_projection, s["feats_mean"], s["feats_std"]),
            (first, s["motion_mean"], s["motion_std"]),
        ]
        if out.variation is not None:
            conv = out.variation.posterior[0]
            assert isinstance(conv, nn.Conv1d)
            idx = model.config.latent_channels
            layers.append((conv, s["motion_mean"][idx], s["motion_std"][idx]))
        head = out.synthesis_module.blendshape_predictor
        with torch.no_grad():
            for layer, mu, sd in layers:
                w = layer.weight.view(layer.weight.shape[0], mu.shape[0], -1)  # [out, in, taps]
                assert layer.bias is not None
                layer.bias -= (w * (mu / sd)[None, :, None]).sum((1, 2))
                w /= sd[None, :, None]
            head.weight *= s["motion_std"][:, None]
            head.bias.mul_(s["motion_std"]).add_(s["motion_mean"])
        return out


# -- loss ----------------------------------------------------------------------------------------
def loss_groups(rig: str) -> dict[str, list[int]]:
    """Channel groups of the DualTalk loss: the metric groups (``metrics.GROUPS``) of the rig
    (flame56: exp / jaw / pose, DualTalk's; arkit55: mouth / face / pose)."""
    return {g.name: list(g.index) for g in GROUPS[get_rig(rig).name]}


def dualtalk_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    groups: dict[str, list[int]],
    kl: torch.Tensor | None = None,
    kl_weight: float = 0.0,
    free_bits: float = 0.0,
    from_prior: torch.Tensor | None = None,
    stat_weight: float = 0.0,
    pace_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum of the per-group MSEs and the velocity MSE, plus, for a model with a variation
    latent, ``kl_weight·Σ_l max(kl_l, free_bits)`` (``kl`` ``[L]`` nats per dimension; part
    ``kl``: the plain sum) and ``stat_weight·stats`` of a prior-sampled prediction
    (``window_stats_loss``); returns (loss, parts)."""
    mse = nn.functional.mse_loss
    parts = {g: mse(pred[..., idx], target[..., idx]) for g, idx in groups.items()}
    parts["velocity"] = mse(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1])
    total = torch.stack(list(parts.values())).sum()
    if kl is not None:
        total = total + kl_weight * kl.clamp(min=free_bits).sum()
        parts["kl"] = kl.sum()
    if from_prior is not None:
        parts["stats"] = window_stats_loss(from_prior, target, groups, pace_weight)
        total = total + stat_weight * parts["stats"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def window_stats_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    groups: dict[str, list[int]],
    pace_weight: float = 0.0,
) -> torch.Tensor:
    """Σ over groups of the mean over channels and samples of ``(μ̂ − μ)² + (σ̂ − σ)²`` — the
    moments taken over each window's frames: the Fréchet distance of diagonal Gaussians,
    i.e. the per-clip statistic that DualTalk's FD scores, without the cross-channel terms —
    plus ``(σ̂_v − σ_v)²`` of the first differences (velocity), so that the spread comes
    from motion rather than frame-to-frame noise, and (``pace_weight`` > 0) ``pace_weight·
    log²`` of the ratio of the group's mean |Δ| to the target's (clamped to ±3).

    Why (ours): a latent drawn from the prior gives the decoder noise it never saw in the
    posterior-trained pass, and it answers with its average — a listener whose blinks and
    glances are a third of their real size (measured after 3 epochs: eyeBlink std 0.042 vs
    0.139). This term asks the prior-sampled motion to have each window's spread. Without the
    velocity part the spread came as jitter: face velocity 4.5× the target's; with it, 2.5×
    (stride 4). A pace weight of 0.01 slowed the face but cost FD everywhere (face 0.024 →
    0.084 at epoch 5), so the bundled model trains with 0."""

    def sd(x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x.var(dim=1, unbiased=False) + 1e-8)

    out = []
    for idx in groups.values():
        p, y = pred[..., idx], target[..., idx]  # [B, T, c]
        vp, vy = p[:, 1:] - p[:, :-1], y[:, 1:] - y[:, :-1]
        terms = (p.mean(1) - y.mean(1)).square() + (sd(p) - sd(y)).square()
        part = (terms + (sd(vp) - sd(vy)).square()).mean()
        if pace_weight:
            ratio = (vp.abs().mean((1, 2)) + 1e-4) / (vy.abs().mean((1, 2)) + 1e-4)  # [B]
            part = part + pace_weight * torch.log(ratio).clamp(-3.0, 3.0).square().mean()
        out.append(part)
    return torch.stack(out).sum()
