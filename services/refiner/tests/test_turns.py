"""Segments and frame conditions from the timeline."""

from __future__ import annotations

import itertools

import numpy as np

from dyad.domain import EMOTIONS
from dyad.services.refiner.turns import (
    Span,
    boundaries,
    frame_conditions,
    identity_ids,
    silent_gaps,
    turn_spans,
)
from dyad.testing.data import make_timeline


def test_spans_tile_the_conversation_at_pause_midpoints() -> None:
    tl = make_timeline()  # a 0.2–2.8, b 3.1–5.6, a 5.9–7.6 (+ b's backchannel at 1.0)
    spans = turn_spans(tl, 200)
    assert spans == [Span(0, 73, "a"), Span(73, 143, "b"), Span(143, 200, "a")]
    assert boundaries(spans) == [73, 143]  # floor(2.95·25), floor(5.75·25)
    assert silent_gaps(spans, "a") == [(73, 143)]
    assert silent_gaps(spans, "b") == [(0, 73), (143, 200)]


def test_short_turns_merge_and_long_ones_split() -> None:
    tl = make_timeline(
        20.0, [("a", 0.0, 3.0, "happy"), ("b", 3.0, 3.4, "sad"), ("a", 3.5, 19.0, "neutral")]
    )
    spans = turn_spans(tl, 500, min_frames=20, max_frames=250)
    assert spans[0].start == 0 and spans[-1].end == 500
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))
    assert all(s.frames <= 250 for s in spans) and all(s.frames >= 20 for s in spans)
    assert "b" not in {s.speaker for s in spans}  # b's 0.4 s turn joined a's
    assert turn_spans(make_timeline(4.0, []), 100) == [Span(0, 100, None)]
    assert turn_spans(tl, 0) == []


def test_frame_conditions() -> None:
    tl = make_timeline()
    cond = frame_conditions(tl, 200)
    a, b = cond["a"], cond["b"]
    assert a.shape == (200, 20) and a.dtype == np.float32
    assert a[10, 0] == 1 and a[100, 0] == 0 and a[100, 2] == 1  # own / partner sentence
    assert b[30, 1] == 1 and a[30, 3] == 1  # b's backchannel: own for b, partner's for a
    happy, sad = EMOTIONS.index("happy"), EMOTIONS.index("sad")
    assert a[10, 4 + happy] == 0.5 and a[100, 4 + happy] == 0.5  # held until a's next sentence
    assert a[100, 12 + sad] == 0.5 and b[100, 4 + sad] == 0.5
    assert np.array_equal(a[:, :2], b[:, 2:4])
    assert identity_ids(tl, "a").tolist() == [3, 1, 2]  # adult, teen, blood & unequal
    assert identity_ids(tl, "b", relation_known=False).tolist() == [1, 3, 4]
