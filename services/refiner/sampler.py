"""Sampling windows with the denoiser: DDIM (``η = 0``) or ancestral (``η = 1``), seeded.

A ``WindowJob`` is one speaker's window (raw rig units, numpy) with its conditions, its start
strength (1: from pure noise; ``s < 1``: SDEdit from the hint noised to ``t = s·T``) and its
own noise seed. ``run_windows`` samples any list of jobs in batches (padded, key-masked) and
returns each job's result; the noise of a job comes only from its own seed, so the result does
not depend on which other windows share its batch (up to float rounding of batched kernels).

**Known frames** (``known=True``, SFBG's masked infilling): after every step the known frames
of ``x_{t'}`` are replaced by the hint noised to ``t'`` (RePaint's replacement, without
resampling), and at the end by the hint itself, copied from the input array (bit-exact).

**Guidance** ``w``: ``x̂_0 = x̂_0(∅) + w · (x̂_0(c) − x̂_0(∅))`` with ``∅`` = partner conditions
dropped (classifier-free guidance; trained with the partner dropped at p = 0.1). ``w = 1``
runs one pass.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dyad.errors import InvalidInput
from dyad.services.refiner.denoiser import Cond, RefinerDenoiser
from dyad.services.refiner.schedule import NoiseSchedule, check_steps, sampling_timesteps

SAMPLERS = {"ddim": 0.0, "ancestral": 1.0}
MAX_BATCH_FRAMES = 16_384  # frames per forward pass (memory bound)


@dataclass
class WindowJob:
    """One window of one speaker (raw units). ``N`` frames, ``C`` channels, ``A`` audio dims."""

    hint: np.ndarray  # [N, C] own initial motion (any value where hint_mask is False)
    hint_mask: np.ndarray  # [N] bool
    partner: np.ndarray  # [N, C]
    frames: np.ndarray  # [N, 20] turns.frame_conditions
    style: np.ndarray  # [2C] mean and std of the speaker's initial motion
    ids: np.ndarray  # [3] own age, partner age, relation
    audio_self: np.ndarray | None = None  # [N, A]
    audio_partner: np.ndarray | None = None  # [N, A]
    use_partner: bool = True
    known: bool = False  # keep the hint frames fixed (infilling)
    strength: float = 1.0
    seed: int = 0

    @property
    def frames_n(self) -> int:
        return int(self.hint.shape[0])


@dataclass
class WindowResult:
    motion: np.ndarray  # [N, C] the sample (known frames = the hint, bit-exact)


@dataclass(frozen=True)
class SampleOptions:
    steps: int = 50
    sampler: str = "ddim"
    guidance: float = 1.0

    def __post_init__(self) -> None:
        check_steps(self.steps)
        if self.sampler not in SAMPLERS:
            raise InvalidInput("sampler", f"{self.sampler!r} is not one of {list(SAMPLERS)}")
        g = self.guidance
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0.0 <= g <= 20.0:
            raise InvalidInput("guidance", f"expected a number in [0, 20], got {g!r}")


def make_cond(model: RefinerDenoiser, jobs: list[WindowJob], n: int) -> Cond:
    """Standardised, padded conditions of ``jobs`` (padding to ``n`` frames)."""
    cfg = model.config
    dev = model.motion_mean.device

    def pad(x: np.ndarray | None, width: int) -> np.ndarray:
        out = np.zeros((n, width), np.float32)
        if x is not None:
            out[: x.shape[0]] = x
        return out

    def stack(xs: list[np.ndarray], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.from_numpy(np.stack(xs)).to(dev, dtype)

    c, a = cfg.motion_dim, cfg.audio_dim
    mean, std = model.motion_mean.cpu().numpy(), model.motion_std.cpu().numpy()
    amean, astd = model.audio_mean.cpu().numpy(), model.audio_std.cpu().numpy()

    def nm(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    def na(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else ((x - amean) / astd).astype(np.float32)

    mask = [np.pad(j.hint_mask.astype(np.float32), (0, n - j.frames_n)) for j in jobs]
    hint = [
        pad(nm(np.where(j.hint_mask[:, None], j.hint, mean)), c) * m[:, None]
        for j, m in zip(jobs, mask, strict=True)
    ]
    style = [np.concatenate([(j.style[:c] - mean) / std, j.style[c:] / std]) for j in jobs]
    return Cond(
        hint=stack(hint),
        hint_mask=stack(mask),
        audio_self=stack([pad(na(j.audio_self), a) for j in jobs]),
        audio_partner=stack([pad(na(j.audio_partner), a) for j in jobs]),
        frames=stack([pad(j.frames, j.frames.shape[1]) for j in jobs]),
        partner=stack([pad(nm(j.partner), c) for j in jobs]),
        style=stack([s.astype(np.float32) for s in style]),
        ids=stack([j.ids for j in jobs], torch.long),
        partner_on=stack([np.array(j.use_partner, np.float32) for j in jobs]),
        audio_on=stack([np.array(j.audio_self is not None, np.float32) for j in jobs]),
        valid=stack([np.arange(n) < j.frames_n for j in jobs], torch.bool),
    )


def _predict(
    model: RefinerDenoiser, x: torch.Tensor, t: torch.Tensor, cond: Cond, guidance: float
) -> torch.Tensor:
    if guidance == 1.0 or not bool(cond.partner_on.any()):
        return model(x, t, cond)
    both = model(torch.cat([x, x]), torch.cat([t, t]), cond.cat(cond.with_partner(False)))
    with_p, without = both.chunk(2)
    return without + guidance * (with_p - without)


def _noise(job: WindowJob, shape: tuple[int, int], count: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(int(job.seed) % 2**63)
    return [torch.randn(shape, generator=gen) for _ in range(count)]


def _sample_group(
    model: RefinerDenoiser, jobs: list[WindowJob], opts: SampleOptions, sched: NoiseSchedule
) -> list[WindowResult]:
    """Jobs of one start strength, sampled together."""
    cfg = model.config
    n = max(j.frames_n for j in jobs)
    dev = model.motion_mean.device
    cond = make_cond(model, jobs, n)
    t_start = max(1, round(jobs[0].strength * cfg.num_train_steps))
    ts = sampling_timesteps(opts.steps, t_start)
    eta = SAMPLERS[opts.sampler]
    known = torch.tensor([j.known for j in jobs], device=dev).view(-1, 1, 1)
    known = known & (cond.hint_mask[..., None] > 0)
    shape = (n, cfg.motion_dim)
    # Each job draws from its own generator, in an order fixed by the job alone: the initial
    # noise, then per step the ancestral noise (η > 0) and the known-frame noise (known jobs).
    per_job = [int(eta > 0) + int(j.known) for j in jobs]
    noises = [
        _noise(j, (j.frames_n, cfg.motion_dim), 1 + k * len(ts))
        for j, k in zip(jobs, per_job, strict=True)
    ]
    zero = torch.zeros(shape)

    def padded(z: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(z, (0, 0, 0, n - z.shape[0]))

    def draw(i: int, slot: int) -> torch.Tensor:
        """Noise of step ``i`` (-1: the initial noise) in ``slot`` (0 ancestral, 1 known)."""
        rows = []
        for z, k, j in zip(noises, per_job, jobs, strict=True):
            if i < 0:
                rows.append(padded(z[0]))
                continue
            want = (slot == 0 and eta > 0) or (slot == 1 and j.known)
            rows.append(padded(z[1 + k * i + (slot == 1 and eta > 0)]) if want else zero)
        return torch.stack(rows).to(dev)

    def tt(v: int) -> torch.Tensor:
        return torch.full((len(jobs),), v, device=dev, dtype=torch.long)

    x = sched.q_sample(cond.hint, tt(t_start), draw(-1, 0))
    x0 = x
    for i, (t, t_prev) in enumerate(itertools.pairwise(ts)):
        x0 = _predict(model, x, tt(t), cond, opts.guidance)
        x = sched.step(x, x0, t, t_prev, eta, draw(i, 0) if eta > 0 and t_prev > 0 else None)
        if bool(known.any()):
            if t_prev > 0:
                x = torch.where(known, sched.q_sample(cond.hint, tt(t_prev), draw(i, 1)), x)
            else:
                x = torch.where(known, cond.hint, x)
    out = model.denorm_motion(x).float().cpu().numpy()
    results = []
    for k, j in enumerate(jobs):
        m = out[k, : j.frames_n].copy()
        if j.known:
            m[j.hint_mask] = j.hint[j.hint_mask]  # bit-exact, not through standardisation
        results.append(WindowResult(m))
    return results


def run_windows(
    model: RefinerDenoiser, jobs: list[WindowJob], opts: SampleOptions
) -> list[WindowResult]:
    """Every job's sample, in order; batches of ≤ ``MAX_BATCH_FRAMES`` padded frames per
    strength. Eval mode and no grad for the call."""
    if not jobs:
        return []
    sched = NoiseSchedule(model.config.num_train_steps)
    was_training = model.training
    model.eval()
    out: dict[int, WindowResult] = {}
    try:
        with torch.inference_mode():
            groups: dict[float, list[int]] = {}
            for k, j in enumerate(jobs):
                groups.setdefault(float(j.strength), []).append(k)
            for idx in groups.values():
                idx.sort(key=lambda k: jobs[k].frames_n)
                batch: list[int] = []
                for k in [*idx, -1]:
                    longest = max([jobs[q].frames_n for q in batch] + [0])
                    if k < 0 or (
                        batch
                        and max(longest, jobs[k].frames_n) * (len(batch) + 1) > MAX_BATCH_FRAMES
                    ):
                        res = _sample_group(model, [jobs[q] for q in batch], opts, sched)
                        out.update(zip(batch, res, strict=True))
                        batch = []
                    if k >= 0:
                        batch.append(k)
    finally:
        model.train(was_training)
    return [out[k] for k in range(len(jobs))]
