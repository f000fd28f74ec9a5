"""Schedules: cosine ᾱ, DDIM steps, CHAT's scale level l(t) over the denoising steps."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.services.refiner.sampler import WindowJob, make_cond
from dyad.services.refiner.schedule import (
    NoiseSchedule,
    check_steps,
    cosine_alpha_bar,
    sampling_timesteps,
    scale_gates,
    scale_level,
)
from dyad.services.refiner.turns import FRAME_DIMS

from .conftest import tiny_model


def test_scale_level_is_max_1_ceil_lt_over_t() -> None:
    table = {1000: 3, 999: 3, 667: 3, 666: 2, 334: 2, 333: 1, 1: 1, 0: 1}
    assert {t: scale_level(t, 1000, 3) for t in table} == table
    for t in range(0, 1001, 7):  # the formula itself, in floating point away from the edges
        assert scale_level(t, 1000, 3) == max(1, int(np.ceil(3 * t / 1000 - 1e-12)))
    gates = scale_gates(torch.tensor([1000, 500, 100]), 1000, 3)
    assert gates.tolist() == [[0, 0, 1], [0, 1, 1], [1, 1, 1]]


def test_scale_schedule_over_the_steps() -> None:
    ts = sampling_timesteps(50, 1000)
    assert len(ts) == 51 and ts[0] == 1000 and ts[-1] == 0
    assert all(a > b for a, b in itertools.pairwise(ts))
    levels = [scale_level(t, 1000, 3) for t in ts[:-1]]
    assert levels[0] == 3 and levels[-1] == 1
    assert all(a >= b for a, b in itertools.pairwise(levels))  # coarse → fine
    gates = scale_gates(torch.tensor(ts[:-1]), 1000, 3)
    assert bool(gates[:, 2].all())  # the coarsest scale from the first step on
    assert gates[:, 0].tolist() == [float(t <= 333) for t in ts[:-1]]  # finest: last third
    assert sampling_timesteps(10, 500)[0] == 500 and len(sampling_timesteps(10, 500)) == 11
    assert sampling_timesteps(10, 3) == [3, 2, 1, 0]


def test_cosine_schedule_and_exact_ddim_step() -> None:
    ab = cosine_alpha_bar(1000)
    assert ab[0] == 1.0 and np.all(np.diff(ab) < 0) and ab[-1] < 1e-4
    sched = NoiseSchedule(1000)
    x0, eps = torch.randn(2, 7, 3), torch.randn(2, 7, 3)
    xt = sched.q_sample(x0, torch.tensor([800, 800]), eps)
    prev = sched.step(xt, x0, 800, 400, 0.0, None)  # the true x0: DDIM lands on q(x_400|x0, ε)
    a = float(sched.alpha_bar[400])
    torch.testing.assert_close(prev, a**0.5 * x0 + (1 - a) ** 0.5 * eps, atol=1e-5, rtol=1e-5)
    assert torch.equal(sched.step(xt, x0, 800, 0, 1.0, None), x0)
    with pytest.raises(ValueError):
        sched.step(xt, x0, 800, 400, 1.0, None)  # ancestral without noise


@pytest.mark.parametrize("bad", [0, -1, 1001, 2.5, True, "10"])
def test_bad_steps(bad: object) -> None:
    with pytest.raises(InvalidInput) as e:
        check_steps(bad)
    assert e.value.field == "steps"
    assert check_steps(1) == 1 and check_steps(1000) == 1000


def test_the_denoiser_gates_partner_scales_by_t() -> None:
    """Changing the finest scale's layer changes the output only where l(t) = 1 (t ≤ 333);
    the coarsest scale acts at every step."""
    model = tiny_model(3)
    rng = np.random.default_rng(0)
    job = WindowJob(
        hint=rng.random((40, 55), np.float32),
        hint_mask=np.ones(40, bool),
        partner=rng.random((40, 55), np.float32),
        frames=np.zeros((40, FRAME_DIMS), np.float32),
        style=np.zeros(110, np.float32),
        ids=np.array([3, 3, 1]),
    )
    cond = make_cond(model, [job], 40)
    x = torch.randn(1, 40, 55)

    def out(t: int) -> torch.Tensor:
        with torch.no_grad():
            return model(x, torch.tensor([t]), cond)

    before = {t: out(t) for t in (900, 500, 100)}
    with torch.no_grad():
        model.partner_scales[0].weight.add_(1.0)  # finest
    assert torch.equal(out(900), before[900]) and torch.equal(out(500), before[500])
    assert not torch.allclose(out(100), before[100])
    with torch.no_grad():
        model.partner_scales[2].weight.add_(1.0)  # coarsest
    assert not torch.allclose(out(900), before[900])
