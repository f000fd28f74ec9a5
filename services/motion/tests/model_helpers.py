"""Small DualTalk models and inputs shared by the motion model's test modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel
from dyad.testing.data import tiny_wav2vec2_config as tiny_config

#: Parameters of the release's head outside the wav2vec2 encoders: the sum of
#: ``test_manifest.EXPECTED_HEAD`` (models.md §1.1: "≈16.4 M in the head").
HEAD_PARAMS = 16_359_608


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """These models are tiny: one intra-op thread is as fast, and immune to OpenMP spin-waits
    when another process holds a core (measured 0.3 s vs 43 s for the training test).
    Test modules use it as ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_waveform(**kw: Any) -> MotionModelConfig:
    w2v = tiny_config().to_dict()
    return MotionModelConfig(
        rig="flame56",
        variant="released",
        audio_input="waveform",
        audio_dim=32,
        wav2vec2_config=w2v,
        **kw,
    )


def small(**kw: Any) -> MotionModelConfig:
    base: dict[str, Any] = dict(
        rig="flame56",
        audio_dim=20,
        feature_dim=32,
        lstm_hidden=16,
        num_heads=2,
        encoder_layers=1,
        max_len=64,
    )
    return MotionModelConfig(**{**base, **kw})


def make(config: MotionModelConfig, seed: int = 0) -> DualTalkModel:
    torch.manual_seed(seed)
    return DualTalkModel(config).eval()


def inputs(cfg: MotionModelConfig, b: int = 2, t: int = 30, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(b, t, cfg.audio_dim, generator=g),
        torch.randn(b, t, cfg.audio_dim, generator=g),
        0.3 * torch.randn(b, t, cfg.motion_dim, generator=g),
    ]


def conversation(cfg: MotionModelConfig, t: int, seed: int = 0) -> list[np.ndarray]:
    """Slowly varying features and motion, so that the output is smooth within a window."""
    rng = np.random.default_rng(seed)
    time = np.arange(t)[:, None] / 25.0

    def smooth(dim: int, scale: float) -> np.ndarray:
        freq, phase = rng.uniform(0.1, 0.6, dim), rng.uniform(0, 6.3, dim)
        return (scale * np.sin(2 * np.pi * freq * time + phase)).astype(np.float32)

    c = cfg.motion_dim
    return [smooth(cfg.audio_dim, 1.0), smooth(cfg.audio_dim, 1.0), smooth(c, 0.2), smooth(c, 0.2)]
