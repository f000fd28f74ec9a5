"""SFBG: masked infilling keeps known frames bit-exact and joins the gap continuously."""

from __future__ import annotations

import numpy as np

from dyad.domain import Timeline
from dyad.rigs import get_rig
from dyad.services.refiner.core import BUNDLED, RefineOptions, refine_conversation
from dyad.services.refiner.denoiser import RefinerDenoiser, load_pretrained
from dyad.services.refiner.sampler import WindowResult
from dyad.services.refiner.sfbg import Placement, apply_sfbg, join_weights, sfbg_jobs
from dyad.services.refiner.state import ConversationState, motion_style
from dyad.services.refiner.turns import frame_conditions, identity_ids, silent_gaps, turn_spans
from dyad.timebase import FPS

#: (channel, scale) of the lip channels that open with the jaw while a speaker talks.
LIPS = (
    ("mouthLowerDownLeft", 0.2),
    ("mouthLowerDownRight", 0.2),
    ("mouthUpperUpLeft", 0.12),
    ("mouthUpperUpRight", 0.12),
    ("mouthFunnel", 0.08),
)
#: (channel, amplitude, Hz) of the slow head sway that never stops.
SWAY = (("headPitch", 0.06, 0.4), ("headYaw", 0.1, 0.15), ("headRoll", 0.03, 0.25))


def talking_motion(timeline: Timeline, speaker: str, frames: int, seed: int) -> np.ndarray:
    """Speech-like arkit55 motion of ``speaker``: jaw and lips open and close at syllable rate
    (3 Hz) inside the speaker's own segments, phrase by phrase, and rest in the pauses between
    them; brows rise while talking; the head sways throughout."""
    rig = get_rig("arkit55")
    ch = rig.channels.index
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / FPS
    talking = np.zeros(frames)
    for s in timeline.segments:
        if s.speaker == speaker:  # 0.2 s ramps in and out of each segment
            ramp = np.clip(np.minimum(t - s.start_s, s.end_s - t) / 0.2, 0.0, 1.0)
            talking = np.maximum(talking, ramp)
    phrases = 0.6 + 0.4 * np.cos(2 * np.pi * 0.8 * t + rng.uniform(0, 2 * np.pi)) ** 2
    env = talking * phrases
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 2 * np.pi))
    m = np.zeros((frames, rig.num_channels))
    m[:, ch("jawOpen")] = 0.35 * env * syllables
    for name, scale in LIPS:
        m[:, ch(name)] = scale * env * syllables
    m[:, ch("mouthClose")] = 0.1 * env * (1.0 - syllables)
    m[:, ch("browInnerUp")] = 0.15 * env
    for name, amp, hz in SWAY:
        m[:, ch(name)] = amp * np.sin(2 * np.pi * hz * t + rng.uniform(0, 2 * np.pi))
    return rig.clip(m.astype(np.float32))


def sfbg(
    model: RefinerDenoiser, a: np.ndarray, b: np.ndarray, tl: Timeline, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    opts = RefineOptions(blocks=("sfbg",), steps=10, seed=seed)
    return refine_conversation(model, a, b, tl, rig="arkit55", options=opts)


def test_known_frames_stay_bit_exact(
    model: RefinerDenoiser, timeline: Timeline, motions: tuple
) -> None:
    a, b = motions
    ra, rb = sfbg(model, a, b, timeline)
    spans = turn_spans(timeline, 200, min_frames=20)
    for src, out, spk in ((a, ra, "a"), (b, rb, "b")):
        gap = np.zeros(200, bool)
        for g0, g1 in silent_gaps(spans, spk):
            gap[g0:g1] = True
        assert np.array_equal(out[~gap], src[~gap])  # bit for bit
        assert not np.allclose(out[gap], src[gap])  # the gaps were generated


def test_bundled_model_fills_a_gap_continuously(timeline: Timeline) -> None:
    """Speaker A's listening gap is zeroed (no behaviour at all); SFBG with the bundled model
    fills it with behaviour and meets the known frames without a jump."""
    model = load_pretrained(BUNDLED)
    a, b = talking_motion(timeline, "a", 200, 1), talking_motion(timeline, "b", 200, 2)
    spans = turn_spans(timeline, 200, min_frames=20)
    ((g0, g1),) = silent_gaps(spans, "a")
    holed = a.copy()
    holed[g0:g1] = 0.0
    ra, _ = sfbg(model, holed, b, timeline, seed=3)
    assert np.array_equal(ra[:g0], a[:g0]) and np.array_equal(ra[g1:], a[g1:])
    gap = ra[g0:g1]
    assert np.abs(gap).mean() > 0.005 and gap.std(0).max() > 0.01  # behaviour, not a hole
    # continuous: each join is no rougher than the motion on either side of it
    step = np.abs(np.diff(a, axis=0)).max(0)  # per channel, the known motion's fastest change
    inner = np.abs(np.diff(gap, axis=0)).max(0)  # … and the generated gap's
    for i in (g0, g1):
        jump = np.abs(ra[i] - ra[i - 1])
        assert np.all(jump <= np.maximum(2 * step, inner) + 0.01), (i, jump.max())


def test_join_correction_removes_the_offset() -> None:
    """A sampled gap that misses its known neighbours moves, at each join, by the residual of
    its own linear extrapolation one frame out, decaying with join_weights."""
    motion = np.zeros((50, 2), np.float32)
    state = ConversationState({"a": motion, "b": motion.copy()}, {}, None, {}, {}, [])
    sample = np.full((50, 2), 0.5, np.float32)
    sample[10:40, 1] = 0.5 + 0.01 * np.arange(30)  # a ramp: continued with its own slope
    apply_sfbg(state, [Placement("a", 10, 40, 0)], [WindowResult(sample)])
    out = state.motion["a"]
    w = join_weights(30)
    np.testing.assert_allclose(out[10:40, 0], 0.5 - 0.5 * w - 0.5 * w[::-1], atol=1e-6)
    ramp = sample[10:40, 1]
    expect = ramp + w * (0 - (ramp[0] - 0.01)) + w[::-1] * (0 - (ramp[-1] + 0.01))
    np.testing.assert_allclose(out[10:40, 1], expect, atol=1e-6)
    assert abs(out[10, 1] - 0.01) < 1e-4 and abs(out[39, 1] + 0.01) < 1e-4  # known ± one step
    assert not out[:10].any() and not out[40:].any()  # known frames untouched


def test_sfbg_windows_follow_eq7(timeline: Timeline, motions: tuple) -> None:
    """One infilling job per silent gap: context from the speaker's own neighbouring segments
    (≤ context frames), kept fixed, the gap from pure noise, the partner off."""
    a, b = motions
    spans = turn_spans(timeline, 200, min_frames=20)
    state = ConversationState(
        {"a": a, "b": b},
        frame_conditions(timeline, 200),
        None,
        {s: identity_ids(timeline, s) for s in "ab"},
        {"a": motion_style(a), "b": motion_style(b)},
        spans,
    )
    jobs, places = sfbg_jobs(state, context=20, seed=0)
    gaps = [("a", g) for g in silent_gaps(spans, "a")] + [("b", g) for g in silent_gaps(spans, "b")]
    assert [(p.speaker, (p.lo, p.hi)) for p in places] == gaps
    for j, p in zip(jobs, places, strict=True):
        assert j.known and not j.use_partner and j.strength == 1.0
        w0, w1 = p.w0, p.w0 + j.frames_n
        assert w0 == max(0, p.lo - 20) and w1 == min(200, p.hi + 20)
        mask = np.ones(w1 - w0, bool)
        mask[p.lo - w0 : p.hi - w0] = False
        assert np.array_equal(j.hint_mask, mask)
        assert np.array_equal(j.hint, state.motion[p.speaker][w0:w1])
    assert len({j.seed for j in jobs}) == len(jobs)
