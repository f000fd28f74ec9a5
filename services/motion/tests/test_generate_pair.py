"""generate_pair: both roles batched, long clips in cross-faded windows, input checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.rigs import get_rig
from dyad.services.motion.neural.generate import generate_pair

from .model_helpers import (
    conversation,
    make,
    one_thread,  # noqa: F401 (the fixture)
    small,
    tiny_waveform,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("t", [120, 200, 460])
def test_generate_pair_lengths(t: int) -> None:
    cfg = small(social=True, rig="arkit55")
    model = make(cfg)
    fa, fb, pa, pb = conversation(cfg, t)
    out_a, out_b = generate_pair(model, fa, fb, pa, pb, (True, False), window=200, overlap=50)
    rig = get_rig("arkit55")
    for out in (out_a, out_b):
        assert out.shape == (t, 55) and out.dtype == np.float32
        assert np.array_equal(out, rig.clip(out))
    if t <= 200:  # one window: exactly the model's two roles in one batch
        with torch.no_grad():
            ref = model(
                torch.from_numpy(np.stack([fa, fb])),
                torch.from_numpy(np.stack([fb, fa])),
                torch.from_numpy(np.stack([pb, pa])),
                torch.tensor([[1.0, 0.0]] * 2),
            ).numpy()
        np.testing.assert_allclose(out_a, rig.clip(ref[0]), atol=1e-5)
        np.testing.assert_allclose(out_b, rig.clip(ref[1]), atol=1e-5)
    # Swapping the speakers swaps the outputs; repeated calls are identical.
    swapped = generate_pair(model, fb, fa, pb, pa, (True, False), window=200, overlap=50)
    np.testing.assert_allclose(swapped[0], out_b, atol=1e-5)
    np.testing.assert_allclose(swapped[1], out_a, atol=1e-5)
    again = generate_pair(model, fa, fb, pa, pb, (True, False), window=200, overlap=50)
    assert np.array_equal(again[0], out_a) and np.array_equal(again[1], out_b)


def test_generate_pair_has_no_jumps_at_window_seams() -> None:
    # released: no PPE, whose period-25 signal would dominate a random model's frame steps;
    # flame56: a wide valid range, so nothing is clipped.
    cfg = small(rig="flame56", variant="released")
    model = make(cfg, seed=4)
    window, overlap, t = 100, 30, 230  # windows [0, 100) [70, 170) [130, 230)
    fa, fb, pa, pb = conversation(cfg, t, seed=2)
    zone = np.zeros(t - 1, dtype=bool)  # steps i → i + 1 inside or touching an overlap
    for a, b in ((70, 100), (130, 170)):
        zone[a - 1 : b] = True
    for out in generate_pair(model, fa, fb, pa, pb, None, window=window, overlap=overlap):
        step = np.abs(np.diff(out, axis=0)).max(axis=1)
        # Hard cuts at the overlap midpoints would jump by ~35× the in-window step here.
        assert step[zone].max() <= 2.0 * step[~zone].max(), (step[zone].max(), step[~zone].max())


def test_generate_pair_waveform_model() -> None:
    model = make(tiny_waveform())
    rng = np.random.default_rng(0)
    n = 46 * 640 - 100  # T = 46 frames, the last one partial
    wa, wb = rng.standard_normal((2, n)).astype(np.float32)
    zeros = np.zeros((46, 56), np.float32)
    out_a, out_b = generate_pair(model, wa, wb, zeros, zeros, None, window=20, overlap=5)
    assert out_a.shape == out_b.shape == (46, 56)
    assert np.isfinite(out_a).all() and not np.allclose(out_a, out_b)


def test_generate_pair_rejects_bad_inputs() -> None:
    cfg = small(social=True)
    model = make(cfg).train()
    fa, fb, pa, pb = conversation(cfg, 30)
    nan = fb.copy()
    nan[3, 2] = np.nan
    rel = (False, True)
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("feats_a", (fa[:, :5], fb, pa, pb, rel), {}),
        ("feats_a", (fa.astype(str), fb, pa, pb, rel), {}),
        ("feats_b", (fa, nan, pa, pb, rel), {}),
        ("feats_b", (fa, fb[:29], pa, pb, rel), {}),
        ("partner_a", (fa, fb, pa[:29], pb, rel), {}),
        ("partner_b", (fa, fb, pa, pb[:, :55], rel), {}),
        ("partner_b", (fa, fb, pa, np.where(pb > 0, np.inf, pb), rel), {}),
        ("relation", (fa, fb, pa, pb, None), {}),
        ("relation", (fa, fb, pa, pb, (True,)), {}),
        ("relation", (fa, fb, pa, pb, (2, 0)), {}),
        ("window", (fa, fb, pa, pb, rel), {"window": 0}),
        ("overlap", (fa, fb, pa, pb, rel), {"window": 10, "overlap": 10}),
    ]
    for field, args, kw in cases:
        with pytest.raises(InvalidInput) as e:
            generate_pair(model, *args, **kw)
        assert e.value.field == field, (field, e.value)
    assert model.training  # the caller's mode is restored
    out_a, _ = generate_pair(model, fa[:0], fb[:0], pa[:0], pb[:0], rel)
    assert out_a.shape == (0, 56) and model.training
