"""Building blocks of the DualTalk motion model (``model.py``).

- DualTalk's four modules (paper §4.2–4.5), with the attribute names of the authors' release
  so that a ``released`` state dict lines up with their checkpoint key by key;
- FaceFormer's periodic positional encoding and alignment mask (as restated in
  ``shared/reference/models.md`` §1.6);
- RSATalker's socially-aware fusion (paper §3.3 eq. 5, §3.5);
- windowing with cross-fades (``generate_pair``) and atomic file writes (``save_pretrained``).

Shapes: ``B`` batch, ``T`` motion frames (25 fps), ``d`` feature dim, ``h`` LSTM hidden,
``D = d + 2h`` the interaction width (512 for the defaults), ``C`` rig channels.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import Wav2Vec2Config, Wav2Vec2Model

#: ``facebook/wav2vec2-large-960h-lv60-self`` sizes (the encoder the release loads); the rest
#: of ``Wav2Vec2Config``'s defaults are that checkpoint's too.
WAV2VEC2_LARGE: dict[str, Any] = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "feat_extract_norm": "layer",
    "do_stable_layer_norm": True,
    "conv_bias": True,
    "feat_extract_activation": "gelu",
}
Tensor = torch.Tensor


def periodic_positional_encoding(period: int, dim: int, length: int) -> torch.Tensor:
    """FaceFormer's PPE: a sinusoid table over ``period`` positions, tiled to ``length``.

    Row ``t`` is the standard encoding of position ``t mod period`` (sin on even, cos on odd
    columns); ``[length, dim]`` float32 on the current default device.
    """
    pos = torch.arange(period, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(period, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    reps = -(-length // period)
    return table.repeat(reps, 1)[:length]


def alignment_mask(num_frames: int, num_memory: int, device: torch.device | None = None) -> Tensor:
    """FaceFormer's alignment mask (VOCASET form): frame ``i`` attends memory frame ``i`` only.

    Boolean ``[T, S]``, ``True`` = blocked (``nn.MultiheadAttention`` convention). Memory and
    motion are both at 25 fps here, so ``S == T`` and the allowed set is the diagonal.
    """
    return ~torch.eye(num_frames, num_memory, dtype=torch.bool, device=device)


class DualSpeakerJointEncoder(nn.Module):
    """Audio encoders (waveform input only), one shared audio projection, motion encoder."""

    def __init__(
        self, motion_dim: int, feature_dim: int, audio_dim: int, wav2vec2: dict[str, Any] | None
    ) -> None:
        super().__init__()
        self.audio_encoder1: Wav2Vec2Model | None = None
        self.audio_encoder2: Wav2Vec2Model | None = None
        if wav2vec2 is not None:
            self.audio_encoder1 = Wav2Vec2Model(Wav2Vec2Config(**wav2vec2))
            self.audio_encoder2 = Wav2Vec2Model(Wav2Vec2Config(**wav2vec2))
            for enc in (self.audio_encoder1, self.audio_encoder2):
                enc.feature_extractor._freeze_parameters()  # CNN frozen, as released
        self.audio_projection = nn.Linear(audio_dim, feature_dim)
        self.blendshape_encoder = nn.Sequential(
            nn.Linear(motion_dim, feature_dim // 2),
            nn.ReLU(),
            nn.Linear(feature_dim // 2, feature_dim),
            nn.ReLU(),
        )

    @staticmethod
    def _wave_features(enc: Wav2Vec2Model, wave: Tensor, num_frames: int) -> Tensor:
        """The release's wav2vec2 forward: 50 Hz CNN features linearly interpolated
        (``align_corners=True``) to the motion frames, then projection and transformer.
        SpecAugment masking is not applied (inputs are used as given)."""
        cnn = enc.feature_extractor(wave)  # [B, C, L]
        cnn = F.interpolate(cnn, size=num_frames, mode="linear", align_corners=True)
        hidden, _ = enc.feature_projection(cnn.transpose(1, 2))
        return enc.encoder(hidden).last_hidden_state

    def forward(
        self, audio_self: Tensor, audio_partner: Tensor, motion_partner: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        if self.audio_encoder1 is not None and self.audio_encoder2 is not None:
            t = motion_partner.shape[1]
            audio_self = self._wave_features(self.audio_encoder1, audio_self, t)
            audio_partner = self._wave_features(self.audio_encoder2, audio_partner, t)
        return (
            self.audio_projection(audio_self),
            self.audio_projection(audio_partner),
            self.blendshape_encoder(motion_partner),
        )


class CrossModalTemporalEnhancer(nn.Module):
    """Cross-attention (Q = partner audio, K = V = partner motion), then a 2-layer BiLSTM."""

    def __init__(self, feature_dim: int, num_heads: int, lstm_hidden: int) -> None:
        super().__init__()
        self.cross_attention = nn.MultiheadAttention(feature_dim, num_heads, batch_first=True)
        self.temporal_lstm = nn.LSTM(
            feature_dim, lstm_hidden, num_layers=2, bidirectional=True, batch_first=True
        )

    def forward(self, audio_partner: Tensor, motion_partner: Tensor) -> Tensor:
        fused, _ = self.cross_attention(
            audio_partner, motion_partner, motion_partner, need_weights=False
        )
        out, _ = self.temporal_lstm(fused)
        return out


class DualSpeakerInteractionModule(nn.Module):
    """concat(own audio, temporal) → TransformerEncoder → self-attention → Dropout(0.5)."""

    def __init__(self, dim: int, num_heads: int, layers: int, dropout: float) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, dim_feedforward=4 * dim, dropout=dropout, batch_first=True
        )
        self.interaction_encoder = nn.TransformerEncoder(
            layer, num_layers=layers, enable_nested_tensor=False
        )
        self.self_attention = nn.MultiheadAttention(dim, num_heads, batch_first=True)
        self.dropout = nn.Dropout(0.5)

    def forward(self, audio_self: Tensor, temporal: Tensor) -> Tensor:
        x = self.interaction_encoder(torch.cat([audio_self, temporal], dim=-1))
        x, _ = self.self_attention(x, x, x, need_weights=False)
        return self.dropout(x)


class ExpressiveSynthesisModule(nn.Module):
    """TransformerDecoder (tgt, memory), modulation ``D + 0.1·Mod(D)``, linear head.

    ``Mod`` is the bare linear layer (``relu=False``, release) or ``ReLU(linear)`` (paper
    eq. 10–11).
    """

    def __init__(
        self, dim: int, num_heads: int, layers: int, motion_dim: int, dropout: float, relu: bool
    ) -> None:
        super().__init__()
        layer = nn.TransformerDecoderLayer(
            dim, num_heads, dim_feedforward=4 * dim, dropout=dropout, batch_first=True
        )
        self.synthesis_decoder = nn.TransformerDecoder(layer, num_layers=layers)
        self.blendshape_predictor = nn.Linear(dim, motion_dim)
        self.modulation_factor = 0.1
        self.modulation_layer = nn.Linear(dim, dim)
        self.relu = relu

    def decode(self, tgt: Tensor, memory: Tensor, memory_mask: Tensor | None = None) -> Tensor:
        """The decoder output ``D`` ``[B, T, dim]`` (before modulation)."""
        return self.synthesis_decoder(tgt, memory, memory_mask=memory_mask)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None = None,
        offset: Tensor | None = None,
    ) -> Tensor:
        """``offset`` ``[B, T, dim]`` (optional) is added to the decoder output ``D``."""
        d = self.decode(tgt, memory, memory_mask)
        if offset is not None:
            d = d + offset
        mod = self.modulation_layer(d)
        if self.relu:
            mod = F.relu(mod)
        return self.blendshape_predictor(d + self.modulation_factor * mod)


class SocialFusion(nn.Module):
    """RSATalker's socially-aware fusion (§3.3 eq. 5, §3.5), placed before the decoder.

    Two learnable sets of two embeddings (``blood_embedding`` rows: non-blood, blood;
    ``equal_embedding`` rows: unequal, equal), each set initialised orthogonal (rows of norm
    √dim). A relation ``[B, 2]`` in ``[0, 1]`` picks (for fractional values: linearly mixes)
    one row per set; the two are concatenated into the query ``q`` ``[B, 2·dim]`` and the
    ``motion_socialnet`` (2-layer MLP) maps it to the social feature ``s`` ``[B, dim]``.

    Eq. 5 has ``s`` as the query and the fused speaker features as keys and values. A single
    query vector would give one output for the whole clip, so (our reading) every frame's
    query is its own feature plus ``s``, in a standard post-LN cross-attention block whose
    residual stream is the query: ``q = f + s``, ``z = LayerNorm(q + CrossAttn(q, f, f))`` —
    the relation both steers where each frame attends and shifts the frame's features.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.blood_embedding = nn.Parameter(torch.empty(2, dim))
        self.equal_embedding = nn.Parameter(torch.empty(2, dim))
        # Orthonormal rows scaled to norm √dim: the size of a LayerNorm-ed feature row.
        nn.init.orthogonal_(self.blood_embedding, gain=math.sqrt(dim))
        nn.init.orthogonal_(self.equal_embedding, gain=math.sqrt(dim))
        self.motion_socialnet = nn.Sequential(
            nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim)
        )
        self.cross_attention = nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True
        )
        self.norm = nn.LayerNorm(dim)

    def social_feature(self, relation: Tensor) -> Tensor:
        """``[B, 2]`` (blood, equal) → ``s`` ``[B, dim]``."""
        r = relation.to(self.blood_embedding.dtype)
        blood = torch.lerp(self.blood_embedding[0], self.blood_embedding[1], r[:, 0:1])
        equal = torch.lerp(self.equal_embedding[0], self.equal_embedding[1], r[:, 1:2])
        return self.motion_socialnet(torch.cat([blood, equal], dim=-1))

    def forward(self, feats: Tensor, relation: Tensor) -> Tensor:
        q = feats + self.social_feature(relation)[:, None]
        z, _ = self.cross_attention(q, feats, feats, need_weights=False)
        return self.norm(q + z)


class MotionVariation(nn.Module):
    """The variation latent (ours): what the audio and the partner cannot explain.

    Blinks, saccades and gaze shifts happen at random times; a model trained by MSE alone
    predicts their conditional mean — a face that never blinks — whose per-clip statistics
    are far from real motion (FD). A conditional VAE fixes that (Kingma & Welling 2014):

    - ``posterior``: own target motion ``[B, T, C_l]`` (the ``latent_group`` channels) → two
      convolutions → a strided one → ``(mu, logvar)`` ``[B, ceil(T/s), L]`` at ``1/s`` of the
      frame rate (``s`` = ``stride``);
    - ``z`` upsampled to ``[B, T, L]`` by linear interpolation between the steps' centres
      (held beyond the first and last; a held, staircase ``z`` made i.i.d. prior draws jump
      every ``s`` frames — a face flickering at 12.5 Hz) and projected (``projection``,
      ``L → D``) onto the decoder's input and (``output_projection``) onto its output — the
      direct path keeps the decoder from learning to ignore ``z`` early on (posterior
      collapse: with the input path alone the KL fell to 3e-4 nats within two epochs);
    - training adds ``β·Σ_l max(KL_l, free_bits)`` (KL per latent dimension, mean over batch
      and steps, vs the prior ``N(0, I)``): below ``free_bits`` nats a dimension is not
      pushed towards the prior (Kingma et al. 2016's free bits), the other guard against
      collapse;
    - inference draws ``z ~ N(0, I)`` (seeded), so a seed gives one plausible motion and
      another seed another.
    """

    def __init__(self, channels: int, latent_dim: int, stride: int, dim: int) -> None:
        super().__init__()
        hidden = 64
        self.latent_dim, self.stride = latent_dim, stride
        self.posterior = nn.Sequential(
            nn.Conv1d(channels, hidden, 5),
            nn.GELU(),  # input edge-padded in encode()
            nn.Conv1d(hidden, hidden, 5, padding=2),
            nn.GELU(),
            nn.Conv1d(hidden, 2 * latent_dim, stride, stride=stride),
        )
        self.projection = nn.Linear(latent_dim, dim)
        self.output_projection = nn.Linear(latent_dim, dim)

    def encode(self, target: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, T, C_l]`` → ``(mu, logvar)`` each ``[B, ceil(T/s), L]``."""
        t = target.shape[1]
        # Edge padding, not zeros: it commutes with the standardisation folded into the first
        # convolution (train.Standardizer.folded), so the fold stays exact at the clip ends.
        x = F.pad(target.transpose(1, 2), (2, 2 + -t % self.stride), mode="replicate")
        mu, logvar = self.posterior(x).transpose(1, 2).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 5.0)

    def steps(self, num_frames: int) -> int:
        """Latent steps covering ``num_frames`` frames: ``ceil(T/s)``."""
        return -(-num_frames // self.stride)

    def upsample(self, z: Tensor, num_frames: int) -> Tensor:
        """``[B, ceil(T/s), L]`` → ``[B, T, L]``: step ``k`` sits at frame ``k·s + (s−1)/2``,
        frames between two steps interpolate linearly."""
        up = F.interpolate(z.transpose(1, 2), scale_factor=float(self.stride), mode="linear")
        return up.transpose(1, 2)[:, :num_frames]

    def sample_posterior(self, target: Tensor) -> tuple[Tensor, Tensor]:
        """A reparameterised ``z`` ``[B, T, L]`` from ``q(z | target)`` and the KL to the
        prior per latent dimension ``[L]`` (nats per latent step, mean over batch and steps)."""
        mu, logvar = self.encode(target)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).mean((0, 1))
        return self.upsample(z, target.shape[1]), kl

    def prior(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
        """``[T, L]`` float32: ``z ~ N(0, I)`` per latent step, upsampled (``upsample``)."""
        draw = rng.standard_normal((1, self.steps(num_frames), self.latent_dim))
        z = torch.from_numpy(draw.astype(np.float32))
        return self.upsample(z, num_frames)[0].numpy()


def window_starts(t: int, window: int, overlap: int) -> list[int]:
    """Starts of ``window``-frame windows over ``t`` frames, ``overlap`` frames apart; the
    last one ends at ``t`` (one window ``[0, t)`` when ``t <= window``)."""
    if t <= window:
        return [0]
    return [*range(0, t - window, window - overlap), t - window]


def crossfade_weights(starts: list[int], w: int) -> list[np.ndarray]:
    """Per-window cross-fade weights: linear in/out over each overlap; they sum to 1 where
    two windows overlap (a convex mix anywhere)."""
    out = []
    for k, s in enumerate(starts):
        left = starts[k - 1] + w - s if k > 0 else 0
        right = s + w - starts[k + 1] if k + 1 < len(starts) else 0
        i = np.arange(w, dtype=np.float64)
        out.append(np.minimum(1, (i + 1) / (left + 1)) * np.minimum(1, (w - i) / (right + 1)))
    return out
