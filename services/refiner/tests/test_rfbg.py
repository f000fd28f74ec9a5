"""RFBG windows: partner turns k−1..k+1 (capped), SDEdit from the current motion."""

from __future__ import annotations

import numpy as np

from dyad.domain import Timeline
from dyad.services.refiner.rfbg import apply_rfbg, rfbg_jobs
from dyad.services.refiner.sampler import WindowResult
from dyad.services.refiner.state import ConversationState, motion_style
from dyad.services.refiner.turns import frame_conditions, identity_ids, turn_spans


def state_of(timeline: Timeline, a: np.ndarray, b: np.ndarray) -> ConversationState:
    spans = turn_spans(timeline, 200, min_frames=20)  # [0,73) a, [73,143) b, [143,200) a
    return ConversationState(
        {"a": a.copy(), "b": b.copy()},
        frame_conditions(timeline, 200),
        {"a": np.ones((200, 160)), "b": np.zeros((200, 160))},
        {s: identity_ids(timeline, s) for s in "ab"},
        {"a": motion_style(a), "b": motion_style(b)},
        spans,
    )


def test_windows_cover_the_partner_turns_around_each_segment(
    timeline: Timeline, motions: tuple
) -> None:
    state = state_of(timeline, *motions)
    jobs, places = rfbg_jobs(state, context=30, strength=0.4, seed=0)
    assert [(p.speaker, p.lo, p.hi) for p in places] == [
        ("a", 0, 73),
        ("a", 73, 143),
        ("a", 143, 200),
        ("b", 0, 73),
        ("b", 73, 143),
        ("b", 143, 200),
    ]
    windows = [(p.w0, p.w0 + j.frames_n) for j, p in zip(jobs, places, strict=True)]
    assert windows[:3] == [(0, 103), (43, 173), (113, 200)]  # segment ± 30, inside k−1..k+1
    for j, p in zip(jobs, places, strict=True):
        other = "b" if p.speaker == "a" else "a"
        w1 = p.w0 + j.frames_n
        assert j.use_partner and not j.known and j.strength == 0.4 and j.hint_mask.all()
        assert np.array_equal(j.partner, state.motion[other][p.w0 : w1])
        assert np.array_equal(j.hint, state.motion[p.speaker][p.w0 : w1])
        assert j.audio_self is not None and float(j.audio_self.mean()) == (p.speaker == "a")
    wide, _ = rfbg_jobs(state, context=500, strength=0.4, seed=0)
    assert [j.frames_n for j in wide[:3]] == [143, 200, 127]  # exactly turns k−1..k+1


def test_only_segment_k_of_each_window_is_written(timeline: Timeline, motions: tuple) -> None:
    state = state_of(timeline, *motions)
    jobs, places = rfbg_jobs(state, context=30, strength=0.4, seed=0)
    results = [
        WindowResult(np.full((j.frames_n, 55), float(k), np.float32)) for k, j in enumerate(jobs)
    ]
    apply_rfbg(state, places, results)
    a = state.motion["a"]
    assert (a[:73] == 0).all() and (a[73:143] == 1).all() and (a[143:] == 2).all()
    assert (state.motion["b"][73:143] == 4).all()
