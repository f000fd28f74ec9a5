"""Shared by the refiner tests: a hand-made conversation, smooth motion (``dyad.testing.data``),
a tiny denoiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.domain import Timeline
from dyad.services.refiner.denoiser import DenoiserConfig, RefinerDenoiser
from dyad.testing.data import make_timeline, smooth_motion


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def timeline() -> Timeline:
    return make_timeline()


@pytest.fixture
def motions() -> tuple[np.ndarray, np.ndarray]:
    return smooth_motion(200, 1), smooth_motion(200, 2)


def tiny_model(seed: int = 0, **kw: object) -> RefinerDenoiser:
    """A small random denoiser whose head is not zero (so its output depends on its input)."""
    torch.manual_seed(seed)
    cfg = DenoiserConfig(**{"d_model": 32, "num_layers": 1, "num_heads": 2, "ff_dim": 64, **kw})
    model = RefinerDenoiser(cfg)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.05)
        model.motion_std.fill_(0.37)
        model.motion_mean.fill_(0.123)
    return model.eval()


@pytest.fixture
def model() -> RefinerDenoiser:
    return tiny_model()
