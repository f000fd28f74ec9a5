"""The pipeline over a conversation: blocks, determinism, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.services.refiner.core import RefineOptions, parse_blocks, refine_conversation
from dyad.services.refiner.denoiser import RefinerDenoiser
from dyad.services.refiner.turns import boundaries, silent_gaps, turn_spans
from dyad.testing.data import smooth_motion


def run(
    model: RefinerDenoiser | None, a: np.ndarray, b: np.ndarray, tl: Timeline, **kw: object
) -> tuple[np.ndarray, np.ndarray]:
    return refine_conversation(
        model, a, b, tl, rig="arkit55", options=RefineOptions(**{"steps": 3, **kw})
    )


def test_full_pipeline(model: RefinerDenoiser, timeline: Timeline, motions: tuple) -> None:
    a, b = motions
    ra, rb = run(model, a, b, timeline, seed=1)
    assert ra.shape == a.shape and rb.shape == b.shape and ra.dtype == np.float32
    assert ra[:, :52].min() >= 0.0 and ra[:, :52].max() <= 1.0  # clipped to the rig's ranges
    again = run(model, a, b, timeline, seed=1)
    other = run(model, a, b, timeline, seed=2)
    assert np.array_equal(again[0], ra) and np.array_equal(again[1], rb)
    assert not np.allclose(other[0], ra)
    fa = np.random.default_rng(0).standard_normal((200, 160)).astype(np.float32)
    opts = RefineOptions(steps=3, seed=1)
    with_audio = refine_conversation(
        model, a, b, timeline, rig="arkit55", features_a=fa, features_b=fa, options=opts
    )
    assert not np.allclose(with_audio[0], ra)


def test_blocks_act_where_they_should(
    model: RefinerDenoiser, timeline: Timeline, motions: tuple
) -> None:
    a, b = motions
    spans = turn_spans(timeline, 200, min_frames=20)
    # TCR only: no model needed; only frames within W of a boundary change
    ta, _tb = run(None, a, b, timeline, blocks=("tcr",))
    near = np.zeros(200, bool)
    for bd in boundaries(spans):
        near[bd - 10 : bd + 10] = True
    assert np.array_equal(ta[~near], a[~near]) and not np.array_equal(ta[near], a[near])
    # RFBG changes every segment of both speakers
    ra, _rb = run(model, a, b, timeline, blocks=("rfbg",))
    assert all(not np.allclose(ra[s.start : s.end], a[s.start : s.end]) for s in spans)
    # without SFBG, "interpolate" fills silent gaps linearly (CHAT's ablation)
    ia, _ = run(None, a, b, timeline, blocks=("tcr",), silent_fallback="interpolate", tcr_window=1)
    g0, g1 = silent_gaps(spans, "a")[0]
    w = (np.arange(g0, g1) - (g0 - 1)) / (g1 - g0 + 1)
    expect = (1 - w)[:, None] * a[g0 - 1] + w[:, None] * a[g1]
    np.testing.assert_allclose(ia[g0 + 1 : g1 - 1], expect[1:-1], atol=1e-6)


def test_bad_input(model: RefinerDenoiser, timeline: Timeline, motions: tuple) -> None:
    a, b = motions
    cases = {
        "motion_b": lambda: run(model, a, smooth_motion(200, 3, "flame56"), timeline),
        "motion_a": lambda: run(model, a[:, :10], b, timeline),
        "motion_a.rig": lambda: refine_conversation(
            model,
            smooth_motion(200, 1, "flame56"),
            smooth_motion(200, 2, "flame56"),
            timeline,
            rig="flame56",
        ),
        "timeline.duration_s": lambda: run(model, a[:100], b[:100], timeline),
        "steps": lambda: run(model, a, b, timeline, steps=0),
        "blocks": lambda: run(model, a, b, timeline, blocks=("sfbg", "magic")),
        "strength": lambda: run(model, a, b, timeline, strength=0.0),
        "features_b": lambda: refine_conversation(
            model, a, b, timeline, rig="arkit55", features_a=np.zeros((200, 160))
        ),
        "features_a": lambda: refine_conversation(
            model,
            a,
            b,
            timeline,
            rig="arkit55",
            features_a=np.zeros((200, 7)),
            features_b=np.zeros((200, 7)),
        ),
    }
    for field, call in cases.items():
        with pytest.raises(InvalidInput) as e:
            call()
        assert e.value.field == field, (field, e.value)
    with pytest.raises(InvalidInput) as e:
        run(model, a, b[:150], timeline)
    assert e.value.field == "motion_b" and "150 frames" in e.value.reason
    for steps in (-1, 1001):
        with pytest.raises(InvalidInput):
            run(model, a, b, timeline, steps=steps)
    with pytest.raises(InvalidInput):
        run(None, a, b, timeline)  # SFBG/RFBG need a model
    assert parse_blocks("TCR, sfbg") == ("sfbg", "tcr") and parse_blocks("") == parse_blocks(None)
