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
4. ``social_module`` (``social=True``): RSATalker fusion (``parts.SocialFusion``).
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

The hyper-parameters are ``config.MotionModelConfig``; whole-clip inference of both speakers is
``generate.generate_pair``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from dyad import checkpoint
from dyad.errors import InvalidInput
from dyad.rigs import get_rig, num_frames
from dyad.services.motion.neural.config import MIN_SAMPLES, MotionModelConfig
from dyad.services.motion.neural.parts import (
    CrossModalTemporalEnhancer,
    DualSpeakerInteractionModule,
    DualSpeakerJointEncoder,
    ExpressiveSynthesisModule,
    MotionVariation,
    SocialFusion,
    alignment_mask,
    periodic_positional_encoding,
)
from dyad.timebase import SAMPLE_RATE


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
        return self.synthesise(
            self.context(audio_self, audio_partner, motion_partner, relation), latent
        )

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
        directory,
        setting=setting,
        what="motion model",
        config_from_dict=MotionModelConfig.from_dict,
        build=DualTalkModel,
        device=device,
        meta_init=True,  # no random init: every tensor comes from the file
    )
    return model


def state_dict_table(model: nn.Module) -> dict[str, list[int]]:
    """``{name: shape}`` of every state-dict entry (manifest checks, reports)."""
    return {k: list(v.shape) for k, v in model.state_dict().items()}
