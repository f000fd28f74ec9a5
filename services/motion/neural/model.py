"""The neural motion model: DualTalk (CVPR 2025) with optional RSATalker social fusion.

``DualTalkModel(audio_self, audio_partner, motion_partner, relation)`` predicts the motion of
the speaker whose audio is ``audio_self`` from the partner's audio and motion (DualTalk eq. 1
with B = self, A = partner; the release's ``model(audio1, audio2, blendshape2)``).

Pipeline (``shared/reference/models.md`` §1.1; ``d`` = ``feature_dim``, ``D = d + 2h``):

1. ``joint_encoder``: two wav2vec2 encoders (``audio_input="waveform"``, 16 kHz
   ``[B, N]``, ``T = ceil(N/16000·fps)`` from ``audio_self``) or precomputed 25 fps features
   (``"features"``, ``[B, T, audio_dim]``); one shared ``audio_projection`` → d; a motion
   encoder ``Linear(C→d/2)-ReLU-Linear(d/2→d)-ReLU``.
2. ``temporal_enhancer``: cross-attention Q = partner audio, K = V = partner motion; BiLSTM
   (2 layers, hidden h).
3. ``interaction_module``: concat(own audio, temporal) → D; TransformerEncoder; a further
   self-attention; Dropout(0.5).
4. ``social_module`` (``social=True``): RSATalker fusion (``model_parts.SocialFusion``).
5. ``synthesis_module``: TransformerDecoder with tgt = memory = interaction features;
   ``D + 0.1·Linear(D)`` (released) or ``D + 0.1·ReLU(Linear(D))`` (paper eq. 10–11); head
   ``Linear(D→C)``.

Variants: ``released`` is the authors' code (no masks, no PPE, no ReLU). ``paper`` adds
FaceFormer's periodic positional encoding (period ``period``) to the decoder's tgt and its
alignment mask (frame t sees memory frame t only) to the decoder cross-attention — where
FaceFormer has it; the paper's eq. 9 names an "M-A attention" instead. No temporal bias in
the decoder self-attention (not autoregressive), no length limit (``max_len`` only sizes the
cached PPE table).

State-dict names (``released``, waveform input, ``flame56``) are the release's:
``joint_encoder.{audio_encoder1,audio_encoder2,audio_projection,blendshape_encoder.{0,2}}``,
``temporal_enhancer.{cross_attention,temporal_lstm}``,
``interaction_module.{interaction_encoder.layers.N,self_attention}``,
``synthesis_module.{synthesis_decoder.layers.N,blendshape_predictor,modulation_layer}``.
Assumptions: the encoder/decoder feed-forward width is ``4·D`` (= PyTorch's default 2048 at
D = 512); the wav2vec2 encoders are transformers' current ``Wav2Vec2Model``, whose positional
convolution stores weight norm as ``parametrizations.weight.original0/1`` — a checkpoint
saved by the release (transformers 4.26) names them ``weight_g/weight_v``; torch's weight-norm
load hook maps them, and ``released.load_released`` renames them explicitly; SpecAugment is
not applied in training. Our additions:
``social_module.*`` (RSATalker), and the features-input mode (no wav2vec2 keys;
``audio_projection`` is ``audio_dim → d``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import Wav2Vec2Config

from dyad import checkpoint
from dyad.errors import InvalidInput
from dyad.rigs import CHANNEL_GROUPS, RIGS, get_rig, num_frames
from dyad.services.motion.neural.parts import (
    WAV2VEC2_LARGE,
    CrossModalTemporalEnhancer,
    DualSpeakerInteractionModule,
    DualSpeakerJointEncoder,
    ExpressiveSynthesisModule,
    MotionVariation,
    SocialFusion,
    alignment_mask,
    crossfade_weights,
    periodic_positional_encoding,
    window_starts,
)
from dyad.timebase import SAMPLE_RATE

MIN_SAMPLES = 400  # the wav2vec2 CNN's receptive field
_BATCH_WINDOWS = 8  # windows per generate_pair forward pass (× 2 roles)
_CHOICES = {"variant": ("paper", "released"), "audio_input": ("features", "waveform")}
_POSITIVE = (
    "audio_dim", "feature_dim", "num_heads", "encoder_layers", "decoder_layers",
    "lstm_hidden", "period", "max_len", "fps",
)  # fmt: skip


@dataclass(frozen=True)
class MotionModelConfig:
    """Hyper-parameters; validated on construction (``InvalidInput("config.<field>")``)."""

    rig: str = "arkit55"
    variant: str = "paper"
    social: bool = False
    audio_input: str = "features"
    audio_dim: int = 160
    feature_dim: int = 256
    num_heads: int = 4
    encoder_layers: int = 3
    decoder_layers: int = 1
    lstm_hidden: int = 128
    dropout: float = 0.1
    period: int = 25
    max_len: int = 600
    fps: int = 25
    wav2vec2_config: dict[str, Any] | None = None
    latent_dim: int = 0  # the variation latent (ours, model_parts.MotionVariation); 0: none
    latent_stride: int = 2  # frames per latent step
    latent_group: str = ""  # dyad.rigs.CHANNEL_GROUPS group the posterior sees; "": every channel

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> InvalidInput:
            return InvalidInput(f"config.{name}", why)

        if not isinstance(self.rig, str) or self.rig not in RIGS:
            raise bad("rig", f"{self.rig!r} is not one of {sorted(RIGS)}")
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"{getattr(self, name)!r} is not one of {list(allowed)}")
        if not isinstance(self.social, bool):
            raise bad("social", "expected a boolean")
        for name in _POSITIVE:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, f"expected a positive integer, got {v!r}")
        d = self.dropout
        if not isinstance(d, int | float) or isinstance(d, bool) or not 0.0 <= d < 1.0:
            raise bad("dropout", f"expected a number in [0, 1), got {d!r}")
        for name in ("latent_dim", "latent_stride"):
            v = getattr(self, name)
            least = 1 if name == "latent_stride" else 0
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise bad(name, f"expected an integer ≥ {least}, got {v!r}")
        groups = [g.name for g in CHANNEL_GROUPS[self.rig]]
        if self.latent_group not in ("", *groups):
            raise bad("latent_group", f"{self.latent_group!r} is not '' or one of {groups}")
        if self.feature_dim % 2 or self.feature_dim % self.num_heads:
            raise bad("feature_dim", "must be even and divisible by num_heads")
        if self.interaction_dim % self.num_heads:
            raise bad("lstm_hidden", "feature_dim + 2·lstm_hidden must divide by num_heads")
        w = self.wav2vec2_config
        if w is not None and (not isinstance(w, dict) or self.audio_input != "waveform"):
            raise bad("wav2vec2_config", "a dict, and only with audio_input='waveform'")
        object.__setattr__(self, "wav2vec2_config", copy.deepcopy(w))
        if self.audio_input == "waveform":
            try:
                hidden = Wav2Vec2Config(**self.wav2vec2()).hidden_size  # type: ignore[arg-type]
            except Exception as exc:  # transformers raises ValueError, TypeError, ...
                raise bad("wav2vec2_config", f"not a Wav2Vec2Config: {exc}") from None
            if hidden != self.audio_dim:
                raise bad("audio_dim", f"must equal the wav2vec2 hidden size {hidden}")

    @property
    def motion_dim(self) -> int:
        return get_rig(self.rig).num_channels

    @property
    def latent_channels(self) -> list[int]:
        """Channels the variation posterior sees (``latent_group``; all for "")."""
        for g in CHANNEL_GROUPS[self.rig]:
            if g.name == self.latent_group:
                return list(g.index)
        return list(range(self.motion_dim))

    @property
    def interaction_dim(self) -> int:
        """``D = feature_dim + 2·lstm_hidden`` (512 by default)."""
        return self.feature_dim + 2 * self.lstm_hidden

    def wav2vec2(self) -> dict[str, Any] | None:
        """The effective wav2vec2 config dict (large by default), None for features input."""
        if self.audio_input != "waveform":
            return None
        return dict(self.wav2vec2_config if self.wav2vec2_config is not None else WAV2VEC2_LARGE)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MotionModelConfig:
        if not isinstance(d, Mapping):
            raise InvalidInput("config", f"expected an object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in names:
                raise InvalidInput(f"config.{key}", "unknown field")
        return cls(**d)


class DualTalkModel(nn.Module):
    """DualTalk (+ optional social fusion); see the module docstring."""

    def __init__(self, config: MotionModelConfig) -> None:
        super().__init__()
        c = config
        self.config = c
        self.rig = get_rig(c.rig)
        dim = c.interaction_dim
        self.joint_encoder = DualSpeakerJointEncoder(
            c.motion_dim, c.feature_dim, c.audio_dim, c.wav2vec2()
        )
        self.temporal_enhancer = CrossModalTemporalEnhancer(
            c.feature_dim, c.num_heads, c.lstm_hidden
        )
        self.interaction_module = DualSpeakerInteractionModule(
            dim, c.num_heads, c.encoder_layers, c.dropout
        )
        self.social_module = SocialFusion(dim, c.num_heads, c.dropout) if c.social else None
        self.synthesis_module = ExpressiveSynthesisModule(
            dim, c.num_heads, c.decoder_layers, c.motion_dim, c.dropout, relu=c.variant == "paper"
        )
        self.variation = (
            MotionVariation(len(c.latent_channels), c.latent_dim, c.latent_stride, dim)
            if c.latent_dim
            else None
        )
        self.ppe_dropout = nn.Dropout(c.dropout)
        self._ppe: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}

    def memory_mask(self, num_frames: int, device: torch.device) -> torch.Tensor | None:
        """The decoder cross-attention mask: diagonal (paper), none (released)."""
        if self.config.variant != "paper":
            return None
        return alignment_mask(num_frames, num_frames, device)

    def ppe(self, num_frames: int, like: torch.Tensor) -> torch.Tensor:
        """``[T, D]`` periodic positional encoding (cached up to ``max(max_len, T)``)."""
        key = (like.device, like.dtype)
        table = self._ppe.get(key)
        if table is None or table.shape[0] < num_frames:
            n = max(self.config.max_len, num_frames)
            table = periodic_positional_encoding(self.config.period, like.shape[-1], n)
            table = self._ppe[key] = table.to(like.device, like.dtype)
        return table[:num_frames]

    def _check(self, audio_self: Any, audio_partner: Any, motion_partner: Any) -> int:
        c = self.config
        if c.audio_input == "features":
            want = f"[B, T, {c.audio_dim}]"
            if audio_self.ndim != 3 or audio_self.shape[-1] != c.audio_dim:
                raise InvalidInput("audio_self", f"expected {want}, got {tuple(audio_self.shape)}")
            if tuple(audio_partner.shape) != tuple(audio_self.shape):
                raise InvalidInput(
                    "audio_partner",
                    f"expected {tuple(audio_self.shape)} like audio_self, "
                    f"got {tuple(audio_partner.shape)}",
                )
            t = int(audio_self.shape[1])
        else:
            for name, wave in (("audio_self", audio_self), ("audio_partner", audio_partner)):
                if wave.ndim != 2 or wave.shape[1] < MIN_SAMPLES:
                    raise InvalidInput(name, f"expected [B, N ≥ {MIN_SAMPLES}] 16 kHz samples")
            if audio_partner.shape[0] != audio_self.shape[0]:
                raise InvalidInput("audio_partner", "batch size differs from audio_self")
            t = num_frames(audio_self.shape[1] / SAMPLE_RATE, c.fps)
        want_m = (int(audio_self.shape[0]), t, c.motion_dim)
        if t < 1 or tuple(motion_partner.shape) != want_m:
            raise InvalidInput(
                "motion_partner", f"expected {list(want_m)}, got {list(motion_partner.shape)}"
            )
        return t

    def _relation(self, relation: Any, batch: int, like: torch.Tensor) -> torch.Tensor:
        if relation is None:
            raise InvalidInput("relation", "[B, 2] (blood, equal) is required by a social model")
        r = torch.as_tensor(relation, device=like.device).to(like.dtype)
        if tuple(r.shape) != (batch, 2):
            raise InvalidInput("relation", f"expected [{batch}, 2], got {list(r.shape)}")
        if not bool(((r >= 0) & (r <= 1)).all()):
            raise InvalidInput("relation", "values must be in [0, 1] (0/1: no/yes)")
        return r

    def forward(
        self,
        audio_self: torch.Tensor,
        audio_partner: torch.Tensor,
        motion_partner: torch.Tensor,
        relation: torch.Tensor | None = None,
        latent: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """→ ``[B, T, C]`` motion of the ``audio_self`` speaker. ``relation`` ``[B, 2]``
        (blood, equal) is required iff ``config.social``, ignored otherwise. ``latent``
        ``[B, T, latent_dim]`` (a model with ``latent_dim``; None: zeros, the prior's mode):
        a prior draw at inference, a posterior sample in training (``MotionVariation``)."""
        t = self._check(audio_self, audio_partner, motion_partner)
        if latent is not None:
            want = [int(audio_self.shape[0]), t, self.config.latent_dim]
            if self.variation is None or list(latent.shape) != want:
                raise InvalidInput("latent", f"expected {want}, got {list(latent.shape)}")
        return self.synthesise(self.context(audio_self, audio_partner, motion_partner, relation),
                               latent)  # fmt: skip

    def context(
        self,
        audio_self: torch.Tensor,
        audio_partner: torch.Tensor,
        motion_partner: torch.Tensor,
        relation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Modules 1–3 (+ social fusion): the decoder's memory ``[B, T, D]``. Unchecked: for
        training, which decodes one context with several latents; callers use ``forward``."""
        a_self, a_partner, m_partner = self.joint_encoder(audio_self, audio_partner, motion_partner)
        feats = self.interaction_module(a_self, self.temporal_enhancer(a_partner, m_partner))
        if self.social_module is not None:
            feats = self.social_module(feats, self._relation(relation, feats.shape[0], feats))
        return feats

    def synthesise(self, feats: torch.Tensor, latent: torch.Tensor | None = None) -> torch.Tensor:
        """Module 4: context ``[B, T, D]`` (+ latent ``[B, T, L]``) → motion ``[B, T, C]``."""
        t = feats.shape[1]
        tgt, offset = feats, None
        if self.variation is not None:
            z = feats.new_zeros(*feats.shape[:2], self.config.latent_dim)
            z = z if latent is None else latent.to(feats.dtype)
            tgt, offset = feats + self.variation.projection(z), self.variation.output_projection(z)
        if self.config.variant == "paper":
            tgt = self.ppe_dropout(tgt + self.ppe(t, feats))
        return self.synthesis_module(tgt, feats, self.memory_mask(t, feats.device), offset)


def save_pretrained(model: DualTalkModel, directory: str | Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (each atomically)."""
    return checkpoint.save_pretrained(model, model.config.to_dict(), directory)


def load_pretrained(
    directory: str | Path, *, setting: str = "DYAD_MOTION_MODEL_DIR", device: Any = "cpu"
) -> DualTalkModel:
    """Load a ``save_pretrained`` directory (eval mode); any problem is a ``ConfigError``
    naming ``setting`` (``dyad.checkpoint``)."""
    model: DualTalkModel = checkpoint.load_pretrained(
        directory, setting=setting, what="motion model",
        config_from_dict=MotionModelConfig.from_dict, build=DualTalkModel, device=device,
        meta_init=True,  # no random init: every tensor comes from the file
    )  # fmt: skip
    return model


def state_dict_table(model: nn.Module) -> dict[str, list[int]]:
    """``{name: shape}`` of every state-dict entry (manifest checks, reports)."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def _audio(x: Any, name: str, cfg: MotionModelConfig) -> tuple[np.ndarray, int]:
    """Validated audio input for ``generate_pair`` and its frame count."""
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInput(name, f"expected a numeric array, got dtype {arr.dtype}")
    if cfg.audio_input == "features":
        if arr.ndim != 2 or arr.shape[1] != cfg.audio_dim:
            raise InvalidInput(name, f"expected [T, {cfg.audio_dim}], got {list(arr.shape)}")
        t = arr.shape[0]
    else:
        if arr.ndim != 1 or 0 < arr.size < MIN_SAMPLES:
            raise InvalidInput(name, f"expected [N] 16 kHz samples (N ≥ {MIN_SAMPLES})")
        t = num_frames(arr.size / SAMPLE_RATE, cfg.fps)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InvalidInput(name, f"non-finite value at index {np.argwhere(~np.isfinite(arr))[0]}")
    return arr, t


def generate_pair(
    model: DualTalkModel,
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    partner_a: np.ndarray,
    partner_b: np.ndarray,
    relation: tuple[bool, bool] | None,
    *,
    window: int = 200,
    overlap: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' motion ``([T, C], [T, C])``, clipped to the rig's range.

    ``feats_*``: ``[T, audio_dim]`` features (or ``[N]`` 16 kHz samples for a waveform model,
    equal lengths); ``partner_a``/``partner_b``: the given motion of A / B (``[T, C]``). A is
    predicted from ``(feats_a, feats_b, partner_b)`` and B from ``(feats_b, feats_a,
    partner_a)``, both in the same batch. Clips longer than ``window`` frames run in windows
    overlapping by ``overlap`` (the last one aligned to the end), blended with linear
    cross-fades. Eval mode (restored afterwards), no grad, deterministic. ``relation``
    (blood, equal) is required for a social model and ignored otherwise. A model with a
    variation latent draws one prior sequence per speaker for the whole clip from ``seed``
    (windows slice it, so overlaps agree); the same seed gives the same motion.
    """
    cfg, rig = model.config, model.rig
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidInput("window", f"expected a positive integer, got {window!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < window:
        raise InvalidInput("overlap", f"expected an integer in [0, window), got {overlap!r}")
    fa, t = _audio(feats_a, "feats_a", cfg)
    fb, tb = _audio(feats_b, "feats_b", cfg)
    if fb.shape != fa.shape or tb != t:
        raise InvalidInput("feats_b", f"shape {list(fb.shape)} differs from feats_a's")
    motions = []
    for name, m in (("partner_a", partner_a), ("partner_b", partner_b)):
        arr = rig.validate(m, field_name=name, check_range=False)
        if arr.shape[0] != t:
            raise InvalidInput(name, f"{arr.shape[0]} frames, the audio has {t}")
        motions.append(arr)
    pa, pb = motions
    rel: np.ndarray | None = None
    if cfg.social:
        vals = list(relation) if isinstance(relation, tuple | list) else []
        flags = [isinstance(v, bool | int | np.bool_) and v in (0, 1) for v in vals]
        if len(vals) != 2 or not all(flags):
            raise InvalidInput("relation", f"(blood, equal) booleans required, got {relation!r}")
        rel = np.array(vals, dtype=np.float32)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput("seed", f"expected a non-negative integer, got {seed!r}")
    if t == 0:
        return rig.neutral(0), rig.neutral(0)
    latents: list[np.ndarray] | None = None
    if model.variation is not None:
        rng = np.random.default_rng(seed)
        latents = [model.variation.prior(t, rng) for _ in range(2)]  # A's, then B's

    w = min(window, t)
    starts = window_starts(t, window, overlap)
    ramps = crossfade_weights(starts, w)
    hop = SAMPLE_RATE / cfg.fps

    def audio_slice(x: np.ndarray, s: int) -> np.ndarray:
        if cfg.audio_input == "features":
            return x[s : s + w]
        return x[round(s * hop) : round((s + w) * hop)]

    # Windows whose audio slices have equal lengths run together (only a waveform clip's last
    # window may be shorter), up to ``_BATCH_WINDOWS`` windows × 2 roles per pass.
    groups: dict[int, list[int]] = {}
    for k, s in enumerate(starts):
        groups.setdefault(len(audio_slice(fa, s)), []).append(k)
    batches = [
        g[i : i + _BATCH_WINDOWS] for g in groups.values() for i in range(0, len(g), _BATCH_WINDOWS)
    ]
    first = next(model.parameters())

    def tensor(xs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(xs)).to(first.device, first.dtype)

    acc, total = np.zeros((2, t, rig.num_channels)), np.zeros(t)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in batches:
                self_rows, part_rows, motion_rows, z_rows = [], [], [], []
                for s in (starts[k] for k in batch):  # rows: A's role, then B's
                    sa, sb = audio_slice(fa, s), audio_slice(fb, s)
                    self_rows += [sa, sb]
                    part_rows += [sb, sa]
                    motion_rows += [pb[s : s + w], pa[s : s + w]]
                    z_rows += [z[s : s + w] for z in latents or ()]
                r = None if rel is None else tensor([rel] * len(self_rows))
                z = tensor(z_rows) if latents else None
                out = model(tensor(self_rows), tensor(part_rows), tensor(motion_rows), r, z)
                pred = out.float().cpu().numpy().reshape(len(batch), 2, w, -1)
                for k, p in zip(batch, pred, strict=True):
                    s = starts[k]
                    acc[:, s : s + w] += ramps[k][None, :, None] * p
                    total[s : s + w] += ramps[k]
    finally:
        model.train(was_training)
    motion = acc / total[None, :, None]
    return rig.clip(motion[0]), rig.clip(motion[1])
