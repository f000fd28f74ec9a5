"""SFBG — silent facial behaviour generation (CHAT eq. 7) as masked infilling.

For each speaker, every stretch of frames where they do not hold the turn (``turns.
silent_gaps``) is generated from the speaker's own preceding and following segments (up to
``context`` frames each side) and identity, with the partner conditions off — eq. 7 conditions
on ``v(k−1)``, ``v(k+1)`` and ``ID`` only. The speaker's own audio and activity stay on: a
listener's backchannels ("uh-huh") are their own speech.

Infilling: the window's context frames are the hint (``hint_mask`` = 1) and are kept fixed
during sampling (``WindowJob.known``), so they come back bit-exact; the gap starts from pure
noise (strength 1). **Joins** (ours): the sample's own trajectory, extrapolated linearly one
frame out of the gap, misses the known neighbour by a residual ``r`` (measured on the bundled
model: ~0.04 on some blendshapes, where the gap's inner steps are ~0.006 — the network's
output has a seam where the hint mask switches); the gap is shifted by ``r·exp(−j²/(2σ²))`` at
distance ``j`` from the join (σ = ``JOIN_SIGMA`` frames), so the first gap frame continues the
known frame with the gap's own first velocity and the rest of the sample keeps its shape.

``interpolate_gaps`` is CHAT's ablation "w/o SFBG (replaced by interpolation)": each gap is the
linear interpolation between its known neighbours (held when only one side exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.services.refiner.sampler import WindowJob, WindowResult
from dyad.services.refiner.state import PARTNER, SPEAKERS, ConversationState, window_seed
from dyad.services.refiner.turns import silent_gaps

JOIN_SIGMA = 3.0


@dataclass(frozen=True)
class Placement:
    """Where a window's result goes: ``speaker``'s frames ``[lo, hi)``, window starts at ``w0``."""

    speaker: str
    lo: int
    hi: int
    w0: int


def sfbg_jobs(
    state: ConversationState, *, context: int, seed: int
) -> tuple[list[WindowJob], list[Placement]]:
    """One infilling job per silent gap of each speaker."""
    jobs, places = [], []
    t = state.num_frames
    for spk in SPEAKERS:
        for k, (g0, g1) in enumerate(silent_gaps(state.spans, spk)):
            w0, w1 = max(0, g0 - context), min(t, g1 + context)
            mask = np.ones(w1 - w0, bool)
            mask[g0 - w0 : g1 - w0] = False
            other = PARTNER[spk]
            jobs.append(
                WindowJob(
                    hint=state.motion[spk][w0:w1].copy(),
                    hint_mask=mask,
                    partner=state.motion[other][w0:w1].copy(),
                    frames=state.frames[spk][w0:w1],
                    style=state.style[spk],
                    ids=state.ids[spk],
                    audio_self=state.audio_of(spk, w0, w1),
                    audio_partner=state.audio_of(other, w0, w1),
                    use_partner=False,
                    known=True,
                    strength=1.0,
                    seed=window_seed(seed, "sfbg", spk, k),
                )
            )
            places.append(Placement(spk, g0, g1, w0))
    return jobs, places


def join_weights(length: int, sigma: float = JOIN_SIGMA) -> np.ndarray:
    """``exp(−j²/(2σ²))`` for ``j = 0..length−1`` (``[length]``)."""
    j = np.arange(length, dtype=np.float64)
    return np.exp(-(j**2) / (2.0 * sigma**2))


def apply_sfbg(
    state: ConversationState, places: list[Placement], results: list[WindowResult]
) -> None:
    """Write each gap's sample into ``state.motion`` with the join correction."""
    for p, r in zip(places, results, strict=True):
        motion = state.motion[p.speaker]
        sample = r.motion[p.lo - p.w0 : p.hi - p.w0].astype(np.float64)
        n = sample.shape[0]
        gap = sample.copy()
        if p.lo > 0:  # a known frame before the gap
            outside = 2 * sample[0] - sample[1] if n > 1 else sample[0]
            gap += join_weights(n)[:, None] * (motion[p.lo - 1] - outside)
        if p.hi < motion.shape[0]:  # a known frame after the gap
            outside = 2 * sample[-1] - sample[-2] if n > 1 else sample[-1]
            gap += join_weights(n)[::-1, None] * (motion[p.hi] - outside)
        motion[p.lo : p.hi] = gap.astype(np.float32)


def interpolate_gaps(state: ConversationState) -> None:
    """CHAT's "w/o SFBG" ablation: every silent gap linearly interpolated (module doc)."""
    t = state.num_frames
    for spk in SPEAKERS:
        m = state.motion[spk]
        for g0, g1 in silent_gaps(state.spans, spk):
            left = m[g0 - 1] if g0 > 0 else None
            right = m[g1] if g1 < t else None
            if left is None and right is None:
                continue
            left = right if left is None else left
            right = left if right is None else right
            w = (np.arange(g0, g1) - (g0 - 1)) / (g1 - g0 + 1)
            m[g0:g1] = ((1 - w)[:, None] * left + w[:, None] * right).astype(np.float32)
