"""Shared by the refiner tests: a hand-made conversation, smooth motion, a tiny denoiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.domain import Emotion, Identity, Relation, Segment, Timeline
from dyad.rigs import get_rig
from dyad.services.refiner.denoiser import DenoiserConfig, RefinerDenoiser

TURNS = [("a", 0.2, 2.8, "happy"), ("b", 3.1, 5.6, "sad"), ("a", 5.9, 7.6, "neutral")]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def make_timeline(duration: float = 8.0, turns: list | None = None) -> Timeline:
    segs = [Segment(s, "sentence", "words", a, b, Emotion(e, 0.5), i)
            for i, (s, a, b, e) in enumerate(TURNS if turns is None else turns)]  # fmt: skip
    segs.append(Segment("b", "backchannel", "uh-huh", 1.0, 1.4))
    segs.sort(key=lambda s: s.start_s)
    return Timeline(16_000, duration, {"a": Identity("Ana", "adult"), "b": Identity("Ben", "teen")},
                    Relation(True, False), "studio", tuple(segs))  # fmt: skip


def smooth_motion(frames: int, seed: int, rig: str = "arkit55") -> np.ndarray:
    """A smooth, in-range clip ``[T, C]`` (sums of slow sines)."""
    r = get_rig(rig)
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / 25.0
    freq = rng.uniform(0.1, 1.0, (1, r.num_channels))
    phase = rng.uniform(0, 2 * np.pi, (1, r.num_channels))
    x = 0.5 + 0.3 * np.sin(2 * np.pi * freq * t + phase)
    if rig == "arkit55":
        x[:, -3:] = 0.2 * np.sin(2 * np.pi * freq[:, -3:] * t + phase[:, -3:])
    else:
        x = x - 0.5
    return r.clip(x.astype(np.float32))


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
