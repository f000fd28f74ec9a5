"""Test signals for the audio encoder tests."""

from __future__ import annotations

import numpy as np

from dyad.timebase import SAMPLE_RATE as SR


def speechlike(seconds: float, seed: int = 0, *, rate: int = SR) -> np.ndarray:
    """A voiced, syllable-modulated signal: harmonics of a wandering f0 under a 4 Hz envelope,
    plus a little noise — enough spectral and temporal structure to expose misalignment."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * voiced * env + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def tone(seconds: float, freq: float = 220.0, *, rate: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
