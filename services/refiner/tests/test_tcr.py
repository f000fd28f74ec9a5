"""TCR against CHAT eq. 10 on hand-made segments."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.services.refiner.tcr import blend, half_gaussian, tcr


def eq10_reference(v: np.ndarray, bounds: list[int], w: int) -> np.ndarray:
    """Eq. 10 written out literally, segment by segment (1-based τ, F frames per segment)."""
    edges = [0, *bounds, len(v)]
    segs = [v[a:b].astype(np.float64) for a, b in itertools.pairwise(edges)]
    out = [s.copy() for s in segs]
    sigma = w / 3
    for k in range(1, len(segs)):
        prev, cur = segs[k - 1], segs[k]
        f = len(prev)
        for tau in range(1, min(w, f, len(cur)) + 1):
            alpha = 0.5 * np.exp(-((tau - 1) ** 2) / (2 * sigma**2))
            out[k - 1][f - tau] = (1 - alpha) * prev[f - tau] + alpha * cur[tau - 1]
            out[k][tau - 1] = alpha * prev[f - tau] + (1 - alpha) * cur[tau - 1]
    return np.concatenate(out)


def test_half_gaussian_weights() -> None:
    a = half_gaussian(10)
    tau = np.arange(1, 11)
    np.testing.assert_allclose(a, 0.5 * np.exp(-((tau - 1) ** 2) / (2 * (10 / 3) ** 2)))
    assert a[0] == 0.5 and np.all(np.diff(a) < 0) and a[-1] < 0.02
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidInput):
            half_gaussian(bad)


def test_matches_eq10_on_hand_made_segments() -> None:
    # A: three constant segments (0, 1, 3) on 2 channels; B: ramps with other slopes.
    a = np.concatenate([np.full((30, 2), 0.0), np.full((30, 2), 1.0), np.full((30, 2), 3.0)])
    b = np.stack([np.arange(90) * 0.1, np.where(np.arange(90) < 30, 2.0, -1.0)], 1)
    a, b = a.astype(np.float32), b.astype(np.float32)
    bounds = [30, 60]
    out_a, out_b = tcr(a, b, bounds, 10)
    np.testing.assert_allclose(out_a, eq10_reference(a, bounds, 10), atol=1e-6)
    np.testing.assert_allclose(out_b, eq10_reference(b, bounds, 10), atol=1e-6)
    # weight ½ at the boundary: both frames next to it become the mean of the pair
    for bd in bounds:
        np.testing.assert_allclose(out_a[bd - 1], (a[bd - 1] + a[bd]) / 2, atol=1e-6)
        np.testing.assert_allclose(out_a[bd], (a[bd - 1] + a[bd]) / 2, atol=1e-6)
    # τ = 2 on the constant segments: α(2) of the other side
    np.testing.assert_allclose(out_a[28], half_gaussian(10)[1] * 1.0, atol=1e-6)
    # frames W or more away from every boundary are untouched, bit for bit
    far = [i for i in range(90) if all(i < bd - 10 or i >= bd + 10 for bd in bounds)]
    assert far == [*range(0, 20), *range(40, 50), *range(70, 90)]
    assert np.array_equal(out_a[far], a[far]) and np.array_equal(out_b[far], b[far])
    assert not np.array_equal(out_a[20:40], a[20:40])


def test_identical_transform_for_both_speakers() -> None:
    t, bounds = 60, [25, 41]
    # The operator as a matrix: blend the identity (each column a unit impulse).
    m = blend(np.eye(t, dtype=np.float32), bounds, 10).astype(np.float64)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((t, 5)).astype(np.float32)
    b = rng.standard_normal((t, 5)).astype(np.float32)
    out_a, out_b = tcr(a, b, bounds, 10)
    np.testing.assert_allclose(out_a, m @ a, atol=1e-5)
    np.testing.assert_allclose(out_b, m @ b, atol=1e-5)
    np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-6)  # a convex blend: constants stay


def test_short_segments_and_bad_bounds() -> None:
    v = np.arange(24, dtype=np.float32)[:, None]
    out = blend(v, [4, 20], 10)  # first and last segments are 4 frames: windows cut to 4
    np.testing.assert_allclose(out, eq10_reference(v, [4, 20], 10), atol=1e-6)
    assert np.array_equal(blend(v, [], 10), v)
    for bad in ([0], [24], [-3]):
        with pytest.raises(InvalidInput):
            blend(v, bad, 10)
    with pytest.raises(InvalidInput):
        tcr(v, v[:10], [4], 10)
