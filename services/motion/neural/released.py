"""The authors' released DualTalk checkpoint (``DualTalk.pth``) in our ``released`` variant.

The release trains ``DualTalk`` with two ``facebook/wav2vec2-large-960h-lv60-self`` encoders
under transformers 4.26 and saves ``model.state_dict()`` with ``torch.save``
(reference/models.md §1.1). Our ``DualTalkModel(released_config())`` has the same module
names and shapes; two things differ in the file and are converted here:

- **Weight norm.** transformers 4.26 stored the wav2vec2 positional convolution's weight norm
  as ``…pos_conv_embed.conv.weight_g`` / ``weight_v`` (``torch.nn.utils.weight_norm``);
  current transformers uses ``torch.nn.utils.parametrizations.weight_norm``, whose keys are
  ``…conv.parametrizations.weight.original0`` (g) / ``original1`` (v). Same tensors, renamed
  (torch's parametrized weight norm also has a load hook that accepts the old names; renaming
  first lets the key check below compare like with like).
- **Wrappers.** A state dict saved from ``nn.DataParallel`` has a ``module.`` prefix on every
  key, and some training scripts nest it under ``"state_dict"`` or ``"model"``; both are
  unwrapped.

Then ``load_state_dict(strict=True)``: any missing, unexpected or mis-shaped key is an error
that lists them. Loading uses ``torch.load(weights_only=True)`` (no pickled code runs) and
builds the model on the meta device first, so the 0.65 B parameters are held once.

Inputs to a released model are 16 kHz waveforms normalised per clip to zero mean and unit
variance — what the release's ``Wav2Vec2Processor`` does — see ``normalise_waveform``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyad.errors import InvalidInput
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel

_RENAMES = (
    ("weight_g", "parametrizations.weight.original0"),
    ("weight_v", "parametrizations.weight.original1"),
)
_NESTED = ("state_dict", "model")


def released_config(**overrides: Any) -> MotionModelConfig:
    """The release's hyper-parameters: flame56, waveform input through two wav2vec2-large
    encoders, d = 256, BiLSTM hidden 128, 3 encoder layers, 1 decoder layer, 4 heads."""
    fields: dict[str, Any] = {
        "rig": "flame56",
        "variant": "released",
        "audio_input": "waveform",
        "audio_dim": 1024,
        "feature_dim": 256,
        "lstm_hidden": 128,
        "encoder_layers": 3,
        "decoder_layers": 1,
        "num_heads": 4,
    }
    return MotionModelConfig(**{**fields, **overrides})


def convert_state_dict(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A release state dict (possibly nested or DataParallel-prefixed, old weight-norm names)
    → our key names. Non-tensor entries are an error naming the key."""
    for key in _NESTED:
        inner = state.get(key)
        if isinstance(inner, Mapping) and all(isinstance(k, str) for k in inner):
            state = inner
            break
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise InvalidInput(
                "checkpoint",
                f"entry {key!r} is a {type(value).__name__}, not a tensor: not a state dict",
            )
        name = key.removeprefix("module.")
        for old, new in _RENAMES:
            if name.endswith(f".{old}"):
                name = f"{name[: -len(old)]}{new}"
        out[name] = value
    return out


def load_released(
    path: str | Path, config: MotionModelConfig | None = None, *, device: Any = "cpu"
) -> DualTalkModel:
    """``DualTalk.pth`` → a ``DualTalkModel`` (eval mode), strictly: every key present, none
    left over, every shape equal. ``config`` defaults to ``released_config()``."""
    cfg = config or released_config()
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("checkpoint", f"{p} is not a file")
    try:
        raw = torch.load(p, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = (str(exc).strip().splitlines() or [""])[0][:160]  # torch's are many lines
        raise InvalidInput(
            "checkpoint", f"{p}: not a loadable torch state dict ({type(exc).__name__}: {first})"
        ) from None
    if not isinstance(raw, Mapping):
        raise InvalidInput("checkpoint", f"{p} holds a {type(raw).__name__}, not a state dict")
    state = convert_state_dict(raw)
    with torch.device("meta"):
        model = DualTalkModel(cfg)
    want = model.state_dict()
    missing = sorted(set(want) - set(state))
    unexpected = sorted(set(state) - set(want))
    shapes = sorted(k for k in set(want) & set(state) if want[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        parts = [
            f"{what} {len(keys)} ({', '.join(keys[:4])}{', …' if len(keys) > 4 else ''})"
            for what, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("mis-shaped", shapes),
            )
            if keys
        ]
        raise InvalidInput(
            "checkpoint", f"{p} does not match {cfg.variant}/{cfg.rig}: " + "; ".join(parts)
        )
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def normalise_waveform(wave: np.ndarray) -> np.ndarray:
    """``[N]`` → zero mean, unit variance (ε 1e-7), float32: the release's audio input."""
    x = np.asarray(wave, dtype=np.float64)
    return ((x - x.mean()) / np.sqrt(x.var() + 1e-7)).astype(np.float32)
