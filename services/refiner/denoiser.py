"""The refiner's denoiser: a small transformer over one speaker's motion window ``[N, C]``.

``RefinerDenoiser(config)(x_t, t, cond) → x̂_0`` (x0-prediction) in standardised motion units
(``motion_mean``/``motion_std`` buffers, fitted on the training corpus and saved with the
weights). Per frame, the token is the sum of:

1. ``Linear([x_t ‖ hint ‖ hint_mask])``: the noisy motion and the speaker's own initial motion
   where it is known (SFBG's context, RFBG's input);
2. the speaker's own audio features (standardised mel) and own frame conditions (speaking,
   backchannel, emotion), gated by ``audio_on``;
3. **partner** (CHAT eq. 8–9): the partner's motion encoded per frame, average-pooled at the
   factors ``scale_factors`` (scale l = 1 is the finest, L the coarsest), each scale projected
   by its own layer and repeated back to frame rate; at timestep ``t`` only the scales
   ``l ≥ l(t) = max(1, ⌈L·t/T⌉)`` are added (coarse from the first step, finer ones later);
   plus the partner's audio and frame conditions. All of it is multiplied by ``partner_on``
   (0: the CFG null / SFBG, which sees no partner) and replaced by a learned null vector;
4. the identity token: own age band, and (partner group) partner age band and relation, plus
   a projection of the speaker's motion style (``[2C]``: mean and std of their own initial
   motion over the conversation; CHAT's ID image has no motion-space analogue);
5. the timestep embedding (sinusoidal → MLP).

Two depthwise temporal convolutions give the tokens their order (no absolute positions, so any
window length works), then a pre-LN ``TransformerEncoder`` with a key padding mask, and a
zero-initialised linear head. ``x̂_0 = head + hint · hint_mask``: the network predicts a
correction of the known input, so a fresh model is the identity on known frames.

With one identity vector per speaker, CHAT's cross-attention of the partner with the identity
(eq. 8) would attend over a single key, i.e. reduce to a projection; we add the projections.
CHAT injects the partner's audio and emotion at the first step only; we add them at every step.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dyad import checkpoint
from dyad.errors import InvalidInput
from dyad.rigs import RIGS, get_rig
from dyad.services.refiner.schedule import scale_gates
from dyad.services.refiner.turns import OWN_DIMS, PARTNER_DIMS

_POSITIVE = (
    "audio_dim",
    "d_model",
    "num_layers",
    "num_heads",
    "ff_dim",
    "num_train_steps",
    "conv_kernel",
)


@dataclass(frozen=True)
class DenoiserConfig:
    """Hyper-parameters; validated on construction (``InvalidInput("config.<field>")``)."""

    rig: str = "arkit55"
    audio_dim: int = 160
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    ff_dim: int = 256
    dropout: float = 0.0
    scale_factors: tuple[int, ...] = (1, 4, 8)  # l = 1 (finest) … L (coarsest)
    conv_kernel: int = 5
    num_train_steps: int = 1000

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> InvalidInput:
            return InvalidInput(f"config.{name}", why)

        if self.rig not in RIGS:
            raise bad("rig", f"{self.rig!r} is not one of {sorted(RIGS)}")
        for name in _POSITIVE:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise bad(name, f"expected a positive integer, got {v!r}")
        if self.d_model % self.num_heads:
            raise bad("d_model", "must divide by num_heads")
        if not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", "expected a number in [0, 1)")
        f = tuple(self.scale_factors)
        if not f or any(not isinstance(x, int) or x < 1 for x in f) or list(f) != sorted(f):
            raise bad("scale_factors", "positive integers, finest (smallest) first")
        object.__setattr__(self, "scale_factors", f)
        if self.conv_kernel % 2 == 0:
            raise bad("conv_kernel", "must be odd")

    @property
    def motion_dim(self) -> int:
        return get_rig(self.rig).num_channels

    @property
    def num_scales(self) -> int:
        return len(self.scale_factors)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scale_factors"] = list(self.scale_factors)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DenoiserConfig:
        if not isinstance(d, Mapping):
            raise InvalidInput("config", f"expected an object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in names:
                raise InvalidInput(f"config.{key}", "unknown field")
        kw = dict(d)
        if "scale_factors" in kw:
            kw["scale_factors"] = tuple(kw["scale_factors"])
        return cls(**kw)


@dataclass
class Cond:
    """The conditions of a batch of windows (standardised; ``B`` windows of ``N`` frames)."""

    hint: torch.Tensor  # [B, N, C] own initial motion (0 where unknown)
    hint_mask: torch.Tensor  # [B, N] 1 where the hint is known
    audio_self: torch.Tensor  # [B, N, A]
    audio_partner: torch.Tensor  # [B, N, A]
    frames: torch.Tensor  # [B, N, 20] frame conditions (turns.frame_conditions)
    partner: torch.Tensor  # [B, N, C] partner motion
    style: torch.Tensor  # [B, 2C] own motion mean and std over the conversation
    ids: torch.Tensor  # [B, 3] long: own age, partner age, relation
    partner_on: torch.Tensor  # [B] 1: partner conditions used, 0: dropped
    audio_on: torch.Tensor  # [B] 1: audio features present
    valid: torch.Tensor  # [B, N] bool, False on padding

    def with_partner(self, on: bool) -> Cond:
        return dataclasses.replace(self, partner_on=self.partner_on * float(on))

    def cat(self, other: Cond) -> Cond:
        return Cond(
            **{
                f.name: torch.cat([getattr(self, f.name), getattr(other, f.name)])
                for f in dataclasses.fields(self)
            }
        )


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal ``[B, dim]`` embedding of integer timesteps."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def masked_pool(x: torch.Tensor, valid: torch.Tensor, factor: int) -> torch.Tensor:
    """Mean over non-overlapping blocks of ``factor`` valid frames, repeated back to
    ``[B, N, D]``."""
    if factor == 1:
        return x
    b, n, d = x.shape
    pad = -n % factor
    m = valid.to(x.dtype)[..., None]
    xs = nn.functional.pad(x * m, (0, 0, 0, pad)).view(b, -1, factor, d).sum(2)
    ms = nn.functional.pad(m, (0, 0, 0, pad)).view(b, -1, factor, 1).sum(2)
    pooled = xs / ms.clamp(min=1.0)
    return pooled.repeat_interleave(factor, dim=1)[:, :n]


class RefinerDenoiser(nn.Module):
    """See the module docstring."""

    motion_mean: torch.Tensor
    motion_std: torch.Tensor
    audio_mean: torch.Tensor
    audio_std: torch.Tensor
    _own_idx: torch.Tensor
    _partner_idx: torch.Tensor

    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        c = self.config = config
        cdim, d = c.motion_dim, c.d_model
        self.register_buffer("motion_mean", torch.zeros(cdim))
        self.register_buffer("motion_std", torch.ones(cdim))
        self.register_buffer("audio_mean", torch.zeros(c.audio_dim))
        self.register_buffer("audio_std", torch.ones(c.audio_dim))
        self.motion_in = nn.Linear(2 * cdim + 1, d)
        self.audio_self_in = nn.Linear(c.audio_dim, d)
        self.audio_partner_in = nn.Linear(c.audio_dim, d)
        self.own_frames_in = nn.Linear(len(OWN_DIMS), d)
        self.partner_frames_in = nn.Linear(len(PARTNER_DIMS), d)
        self.partner_enc = nn.Sequential(nn.Linear(cdim, d), nn.SiLU(), nn.Linear(d, d))
        self.partner_scales = nn.ModuleList(nn.Linear(d, d) for _ in c.scale_factors)
        self.partner_null = nn.Parameter(torch.zeros(d))
        self.own_age = nn.Embedding(6, d)
        self.partner_age = nn.Embedding(6, d)
        self.relation = nn.Embedding(5, d)
        self.style_in = nn.Linear(2 * cdim, d)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        k = c.conv_kernel
        self.convs = nn.ModuleList(nn.Conv1d(d, d, k, padding=k // 2, groups=d) for _ in range(2))
        layer = nn.TransformerEncoderLayer(
            d,
            c.num_heads,
            c.ff_dim,
            c.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, c.num_layers, enable_nested_tensor=False)
        self.norm_out = nn.LayerNorm(d)
        self.head = nn.Linear(d, cdim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.register_buffer("_own_idx", torch.tensor(OWN_DIMS), persistent=False)
        self.register_buffer("_partner_idx", torch.tensor(PARTNER_DIMS), persistent=False)

    # -- standardisation ---------------------------------------------------------------------
    def norm_motion(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.motion_mean) / self.motion_std

    def denorm_motion(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.motion_std + self.motion_mean

    def norm_audio(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.audio_mean) / self.audio_std

    def set_statistics(self, stats: Mapping[str, torch.Tensor]) -> None:
        """Copy ``motion_mean/std`` and ``audio_mean/std`` (training-set statistics)."""
        with torch.no_grad():
            for name in ("motion_mean", "motion_std", "audio_mean", "audio_std"):
                getattr(self, name).copy_(stats[name])

    # -- forward -------------------------------------------------------------------------------
    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: Cond) -> torch.Tensor:
        """``x_t`` ``[B, N, C]``, ``t`` ``[B]`` integer timesteps → ``x̂_0`` ``[B, N, C]``
        (standardised units; padding frames are garbage)."""
        c = self.config
        b, _n, _ = x_t.shape
        if x_t.shape[-1] != c.motion_dim or cond.hint.shape != x_t.shape:
            raise InvalidInput("x_t", f"expected [B, N, {c.motion_dim}] like the hint")
        mask = cond.hint_mask[..., None].to(x_t.dtype)
        h = self.motion_in(torch.cat([x_t, cond.hint * mask, mask], dim=-1))
        audio_on = cond.audio_on.view(b, 1, 1).to(x_t.dtype)
        partner_on = cond.partner_on.view(b, 1, 1).to(x_t.dtype)
        h = h + audio_on * self.audio_self_in(cond.audio_self)
        h = h + self.own_frames_in(cond.frames.index_select(-1, self._own_idx))
        # partner: multi-scale motion gated by l(t) (CHAT eq. 9), audio, frame conditions
        gates = scale_gates(t, c.num_train_steps, c.num_scales).to(x_t.dtype)  # [B, L]
        enc = self.partner_enc(cond.partner)
        p = self.partner_frames_in(cond.frames.index_select(-1, self._partner_idx))
        p = p + audio_on * self.audio_partner_in(cond.audio_partner)
        for level, (factor, proj) in enumerate(
            zip(c.scale_factors, self.partner_scales, strict=True)
        ):
            p = p + gates[:, level].view(b, 1, 1) * proj(masked_pool(enc, cond.valid, factor))
        p = p + self.partner_age(cond.ids[:, 1])[:, None] + self.relation(cond.ids[:, 2])[:, None]
        h = h + partner_on * p + (1 - partner_on) * self.partner_null
        # identity and timestep (broadcast over frames)
        glob = self.own_age(cond.ids[:, 0]) + self.style_in(cond.style)
        glob = glob + self.time_mlp(timestep_embedding(t, c.d_model))
        h = h + glob[:, None]
        valid = cond.valid[..., None].to(h.dtype)
        for conv in self.convs:
            h = h + conv((h * valid).transpose(1, 2)).transpose(1, 2)
        pad = None if bool(cond.valid.all()) else ~cond.valid
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.head(self.norm_out(h)) + cond.hint * mask


def save_pretrained(model: RefinerDenoiser, directory: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (each atomically)."""
    return checkpoint.save_pretrained(model, model.config.to_dict(), directory)


def load_pretrained(
    directory: str | Path, *, setting: str = "DYAD_REFINER_MODEL_DIR", device: Any = "cpu"
) -> RefinerDenoiser:
    """Load a ``save_pretrained`` directory (eval mode); any problem is a ``ConfigError``
    naming ``setting`` (``dyad.checkpoint``)."""
    model: RefinerDenoiser = checkpoint.load_pretrained(
        directory,
        setting=setting,
        what="refiner model",
        config_from_dict=DenoiserConfig.from_dict,
        build=RefinerDenoiser,
        device=device,
    )
    return model
