"""Diffusion schedules: the cosine noise schedule, DDIM / ancestral steps, CHAT's scale level.

Conventions (``T`` = ``num_train_steps``, 1000 by default):

- Timesteps are integers ``t ∈ {0, 1, …, T}``; ``ᾱ_0 = 1`` (clean data), ``ᾱ_T ≈ 0``.
  ``q(x_t | x_0) = N(√ᾱ_t · x_0, (1 − ᾱ_t) I)``. Training draws ``t`` uniformly from 1..T.
- ``ᾱ_t`` is the cosine schedule of Nichol & Dhariwal (2021), ``f(t) = cos²((t/T + s)/(1 + s)
  · π/2)``, ``s = 0.008``, ``ᾱ_t = f(t)/f(0)``, with per-step β clipped at 0.999 (as PerFRDiff's
  ``DDPM cosine, 1000 train steps``, reference/models.md §4).
- The denoiser predicts ``x_0`` (PerFRDiff, DiffSpeaker). A sampler step from ``t`` to
  ``t' < t`` is DDIM's (Song et al. 2021, eq. 12) with ``η``: ``η = 0`` is deterministic DDIM,
  ``η = 1`` the ancestral (DDPM posterior) step on the same sub-sequence of timesteps.
- ``sampling_timesteps(steps, t_start)``: ``steps`` network evaluations at timesteps evenly
  spaced from ``t_start`` down to 1, then 0 (the clean sample). ``t_start = T`` starts from
  pure noise; ``t_start = strength · T`` starts from a noised input (SDEdit).
- CHAT eq. 9: at denoising step ``t`` the partner conditions of scales ``l(t)..L`` are used,
  ``l(t) = max(1, ⌈L·t/T⌉)``; scale 1 is the finest (full frame rate), L the coarsest.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from dyad.errors import InvalidInput

MAX_STEPS = 1000


def cosine_alpha_bar(num_train_steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """``ᾱ_t`` for ``t = 0..T`` (``[T + 1]`` float64, ``ᾱ_0 = 1``), betas clipped at
    ``max_beta``."""
    if num_train_steps < 1:
        raise InvalidInput("num_train_steps", "must be positive")
    t = np.arange(num_train_steps + 1, dtype=np.float64) / num_train_steps
    f = np.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    raw = f / f[0]
    betas = np.clip(1.0 - raw[1:] / raw[:-1], 0.0, max_beta)
    return np.concatenate([[1.0], np.cumprod(1.0 - betas)])


def scale_level(t: int, num_train_steps: int, num_scales: int) -> int:
    """CHAT's ``l(t) = max(1, ⌈L·t/T⌉)`` (integer arithmetic: no float rounding at edges)."""
    return max(1, -(-num_scales * int(t) // num_train_steps))


def scale_gates(t: torch.Tensor, num_train_steps: int, num_scales: int) -> torch.Tensor:
    """``[B, L]`` float gates: 1 for scales ``l ≥ l(t)`` (1-based), else 0, per batch row."""
    level = torch.clamp(
        torch.div(-num_scales * t, num_train_steps, rounding_mode="floor").neg(), min=1
    )
    scales = torch.arange(1, num_scales + 1, device=t.device)
    return (scales[None, :] >= level[:, None]).to(torch.float32)


def check_steps(steps: object, field: str = "steps") -> int:
    """A number of denoising steps: an integer in 1..1000."""
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise InvalidInput(field, f"expected an integer, got {steps!r}")
    if not 1 <= int(steps) <= MAX_STEPS:
        raise InvalidInput(field, f"{steps} is outside 1..{MAX_STEPS}")
    return int(steps)


def check_strength(strength: object, field: str = "strength") -> float:
    if isinstance(strength, bool) or not isinstance(strength, int | float):
        raise InvalidInput(field, f"expected a number, got {strength!r}")
    if not (math.isfinite(strength) and 0.0 < strength <= 1.0):
        raise InvalidInput(field, f"{strength} is outside (0, 1]")
    return float(strength)


def sampling_timesteps(steps: int, t_start: int) -> list[int]:
    """``steps + 1`` strictly decreasing timesteps from ``t_start`` to 0 (fewer when
    ``t_start < steps``: one evaluation per distinct timestep)."""
    steps = check_steps(steps)
    if t_start < 1:
        raise InvalidInput("strength", "starts at timestep 0: nothing to denoise")
    ts = np.round(np.linspace(t_start, 1, min(steps, t_start))).astype(int).tolist()
    return [*dict.fromkeys(ts), 0]


class NoiseSchedule:
    """``ᾱ`` on a device, ``q_sample`` and the DDIM / ancestral update."""

    def __init__(self, num_train_steps: int = 1000) -> None:
        self.num_train_steps = num_train_steps
        self.alpha_bar = torch.from_numpy(cosine_alpha_bar(num_train_steps)).to(torch.float32)

    def abar(self, t: torch.Tensor) -> torch.Tensor:
        """``ᾱ_t`` for integer timesteps (any shape), on ``t``'s device."""
        return self.alpha_bar.to(t.device)[t]

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``; ``t`` is ``[B]`` for ``x0`` ``[B, N, C]``."""
        a = self.abar(t).view(-1, *([1] * (x0.dim() - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def step(
        self,
        x_t: torch.Tensor,
        x0: torch.Tensor,
        t: int,
        t_prev: int,
        eta: float,
        noise: torch.Tensor | None,
    ) -> torch.Tensor:
        """``x_{t_prev}`` from ``x_t`` and the predicted ``x_0`` (DDIM eq. 12 with ``η``).
        ``t_prev = 0`` returns ``x0``. ``noise`` is needed iff ``η > 0``."""
        if t_prev == 0:
            return x0
        a_t, a_p = float(self.alpha_bar[t]), float(self.alpha_bar[t_prev])
        eps = (x_t - math.sqrt(a_t) * x0) / math.sqrt(1.0 - a_t)
        sigma = eta * math.sqrt((1 - a_p) / (1 - a_t) * (1 - a_t / a_p))
        out = math.sqrt(a_p) * x0 + math.sqrt(max(1 - a_p - sigma**2, 0.0)) * eps
        if sigma > 0:
            if noise is None:
                raise ValueError("an ancestral step (eta > 0) needs noise")
            out = out + sigma * noise
        return out
