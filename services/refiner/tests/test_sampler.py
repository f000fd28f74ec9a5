"""Sampling: determinism per seed, independence from batch company, options, guidance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.services.refiner.denoiser import RefinerDenoiser
from dyad.services.refiner.sampler import SampleOptions, WindowJob, make_cond, run_windows
from dyad.services.refiner.schedule import NoiseSchedule
from dyad.services.refiner.turns import FRAME_DIMS


def job(n: int, seed: int, *, known: bool = False, strength: float = 1.0) -> WindowJob:
    rng = np.random.default_rng(n)
    mask = np.ones(n, bool)
    if known:
        mask[n // 3 : 2 * n // 3] = False
    return WindowJob(
        hint=rng.random((n, 55), np.float32),
        hint_mask=mask,
        partner=rng.random((n, 55), np.float32),
        frames=np.zeros((n, FRAME_DIMS), np.float32),
        style=np.zeros(110, np.float32),
        ids=np.array([3, 3, 1]),
        audio_self=rng.standard_normal((n, 160)).astype(np.float32),
        audio_partner=rng.standard_normal((n, 160)).astype(np.float32),
        known=known,
        strength=strength,
        seed=seed,
    )


@pytest.mark.parametrize("sampler", ["ddim", "ancestral"])
def test_deterministic_per_seed(model: RefinerDenoiser, sampler: str) -> None:
    opts = SampleOptions(steps=5, sampler=sampler)
    first = run_windows(model, [job(50, 7), job(30, 8, known=True)], opts)
    again = run_windows(model, [job(50, 7), job(30, 8, known=True)], opts)
    other = run_windows(model, [job(50, 9), job(30, 10, known=True)], opts)
    for x, y, z in zip(first, again, other, strict=True):
        assert np.array_equal(x.motion, y.motion)
        assert not np.allclose(x.motion, z.motion)


def test_a_window_does_not_depend_on_its_batch(model: RefinerDenoiser) -> None:
    opts = SampleOptions(steps=4, sampler="ancestral")
    alone = run_windows(model, [job(40, 3, known=True)], opts)[0]
    shared = run_windows(model, [job(70, 1), job(40, 3, known=True), job(55, 2)], opts)[1]
    np.testing.assert_allclose(alone.motion, shared.motion, atol=1e-4)


def test_known_frames_come_back_bit_exact(model: RefinerDenoiser) -> None:
    j = job(60, 5, known=True)
    res = run_windows(model, [j], SampleOptions(steps=3))[0]
    assert np.array_equal(res.motion[j.hint_mask], j.hint[j.hint_mask])
    assert not np.allclose(res.motion[~j.hint_mask], j.hint[~j.hint_mask])


def test_strength_and_guidance(model: RefinerDenoiser) -> None:
    low = run_windows(model, [job(40, 1, strength=0.1)], SampleOptions(steps=5))[0]
    high = run_windows(model, [job(40, 1, strength=1.0)], SampleOptions(steps=5))[0]
    hint = job(40, 1).hint
    assert np.abs(low.motion - hint).mean() < np.abs(high.motion - hint).mean()
    g1 = run_windows(model, [job(40, 1)], SampleOptions(steps=3, guidance=1.0))[0]
    g3 = run_windows(model, [job(40, 1)], SampleOptions(steps=3, guidance=3.0))[0]
    assert g3.motion.shape == (40, 55) and not np.allclose(g1.motion, g3.motion)


def test_bad_options() -> None:
    cases = [
        ({"steps": 0}, "steps"),
        ({"steps": 1001}, "steps"),
        ({"sampler": "euler"}, "sampler"),
        ({"guidance": -1.0}, "guidance"),
    ]
    for kw, field in cases:
        with pytest.raises(InvalidInput) as e:
            SampleOptions(**kw)  # type: ignore[arg-type]
        assert e.value.field == field


def test_known_frames_are_clamped_at_every_step(model: RefinerDenoiser) -> None:
    """Infilling: at every step the known frames of x_t are the hint noised to t (RePaint's
    replacement), i.e. (x_t − √ᾱ_t·hint) / √(1 − ᾱ_t) is unit noise there."""
    j = job(60, 4, known=True)
    hint = make_cond(model, [j], 60).hint[0]
    seen: list[tuple[torch.Tensor, int]] = []
    forward = model.forward

    def spy(x: torch.Tensor, t: torch.Tensor, cond: object) -> torch.Tensor:
        seen.append((x[0].clone(), int(t[0])))
        return forward(x, t, cond)

    model.forward = spy
    try:
        run_windows(model, [j], SampleOptions(steps=10))
    finally:
        del model.forward
    abar = NoiseSchedule().alpha_bar
    assert [t for _, t in seen][-1] == 1
    for x, t in seen:
        z = (x[j.hint_mask] - abar[t].sqrt() * hint[j.hint_mask]) / (1 - abar[t]).sqrt()
        assert 0.8 < float(z.std()) < 1.2 and abs(float(z.mean())) < 0.1, t
