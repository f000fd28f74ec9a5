"""Training a stage-1 motion checkpoint further in standardised units (``stage1_norm``)."""

from __future__ import annotations

import torch
from torch import nn

from dyad.services.motion.neural.model import DualTalkModel
from dyad.services.training.motion.data import Clip
from dyad.services.training.motion.objective import Standardizer


def stage1_norm(model: DualTalkModel, clips: list[Clip]) -> Standardizer:
    """A stage-1 checkpoint takes raw inputs (its statistics folded in). Training its raw-unit
    weights went nowhere (measured: probe L_mesh 0.01471 → 0.01468 in 20 steps, against
    0.0184 → 0.0145 for a fresh model), so its motion layers are unfolded in place with this
    corpus' motion statistics — ``Standardizer.folded`` inverted, the same function of the
    inputs — and folded back on saving. The features' statistics stay the identity: the
    frozen speech projection is never rewritten, so it is saved bit for bit."""
    fitted = Standardizer.fit(clips).stats
    d = model.config.audio_dim
    norm = Standardizer(
        {
            "feats_mean": torch.zeros(d),
            "feats_std": torch.ones(d),
            "motion_mean": fitted["motion_mean"],
            "motion_std": fitted["motion_std"],
        }
    )
    mu, sd = norm.stats["motion_mean"], norm.stats["motion_std"]
    first = model.joint_encoder.blendshape_encoder[0]
    assert isinstance(first, nn.Linear)
    layers: list[tuple[nn.Linear | nn.Conv1d, torch.Tensor, torch.Tensor]] = [(first, mu, sd)]
    if model.variation is not None:
        conv = model.variation.posterior[0]
        assert isinstance(conv, nn.Conv1d)
        idx = model.config.latent_channels
        layers.append((conv, mu[idx], sd[idx]))
    head = model.synthesis_module.blendshape_predictor
    with torch.no_grad():
        for layer, m, s in layers:  # folded: W' = W/σ, b' = b − Σ W'·μ
            w = layer.weight.view(layer.weight.shape[0], m.shape[0], -1)  # [out, in, taps]
            assert layer.bias is not None
            layer.bias += (w * m[None, :, None]).sum((1, 2))
            w *= s[None, :, None]
        head.bias.sub_(mu).div_(sd)  # folded: W' = σ·W, b' = σ·b + μ
        head.weight /= sd[:, None]
    return norm
