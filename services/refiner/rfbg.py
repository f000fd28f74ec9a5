"""RFBG — responsive facial behaviour generation (CHAT eq. 8–9), segment by segment.

For every segment ``k`` and both speakers, one window covers the partner's behaviour in
turns ``k − 1 .. k + 1`` — at most ``context`` frames beyond segment ``k`` on each side, so a
long neighbouring turn does not blow up the window. The speaker's current motion in the
window (after SFBG) is both the start of sampling — noised to ``strength · T`` (SDEdit), so
what was good survives — and the hint; the partner's current motion, audio and activity are
the conditions, the partner motion at L temporal scales injected coarse-first by ``l(t)``
(``denoiser``). Only segment ``k``'s frames of each window are kept: segment-level
processing, whose boundaries TCR then blends.

All windows of both speakers are independent (each is conditioned on the partner's motion
*before* this block, as CHAT conditions on the initial ``v̄^j``), so one batch runs them all.
"""

from __future__ import annotations

import numpy as np

from dyad.services.refiner.sampler import WindowJob, WindowResult
from dyad.services.refiner.sfbg import Placement
from dyad.services.refiner.state import PARTNER, SPEAKERS, ConversationState, window_seed


def rfbg_jobs(
    state: ConversationState, *, context: int, strength: float, seed: int
) -> tuple[list[WindowJob], list[Placement]]:
    """One refinement job per (speaker, segment)."""
    jobs, places = [], []
    spans, t = state.spans, state.num_frames
    for spk in SPEAKERS:
        other = PARTNER[spk]
        for k, sp in enumerate(spans):
            lo = spans[k - 1].start if k > 0 else 0
            hi = spans[k + 1].end if k + 1 < len(spans) else t
            w0, w1 = max(lo, sp.start - context), min(hi, sp.end + context)
            jobs.append(
                WindowJob(
                    hint=state.motion[spk][w0:w1].copy(),
                    hint_mask=np.ones(w1 - w0, bool),
                    partner=state.motion[other][w0:w1].copy(),
                    frames=state.frames[spk][w0:w1],
                    style=state.style[spk],
                    ids=state.ids[spk],
                    audio_self=state.audio_of(spk, w0, w1),
                    audio_partner=state.audio_of(other, w0, w1),
                    use_partner=True,
                    known=False,
                    strength=strength,
                    seed=window_seed(seed, "rfbg", spk, k),
                )
            )
            places.append(Placement(spk, sp.start, sp.end, w0))
    return jobs, places


def apply_rfbg(
    state: ConversationState, places: list[Placement], results: list[WindowResult]
) -> None:
    """Write segment ``k`` of each window (all windows read the state before this call)."""
    for p, r in zip(places, results, strict=True):
        state.motion[p.speaker][p.lo : p.hi] = r.motion[p.lo - p.w0 : p.hi - p.w0]
