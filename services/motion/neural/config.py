"""The motion model's hyper-parameters (``MotionModelConfig``), validated on construction and
stored as ``config.json`` beside the weights (``model.save_pretrained``)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transformers import Wav2Vec2Config

from dyad.errors import InvalidInput
from dyad.rigs import CHANNEL_GROUPS, RIGS, get_rig
from dyad.services.motion.neural.parts import WAV2VEC2_LARGE

MIN_SAMPLES = 400  # the wav2vec2 CNN's receptive field
_CHOICES = {"variant": ("paper", "released"), "audio_input": ("features", "waveform")}
_POSITIVE = (
    "audio_dim",
    "feature_dim",
    "num_heads",
    "encoder_layers",
    "decoder_layers",
    "lstm_hidden",
    "period",
    "max_len",
    "fps",
)


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
    latent_dim: int = 0  # the variation latent (ours, parts.MotionVariation); 0: none
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
