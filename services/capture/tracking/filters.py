"""Gap filling and lag-free smoothing of per-frame tracks.

The one-euro filter (Casiez, Roussel & Vogel, CHI 2012) is a low-pass whose cutoff rises with
the signal's speed: still stretches are smoothed hard (jitter goes), fast moves pass (blinks,
jaw). Run causally it lags; here it runs forwards and backwards over the whole clip and the two
passes are averaged, so each one's lag cancels the other's (zero phase for offline tracks).
"""

from __future__ import annotations

import math

import numpy as np


def interpolate_missing(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``values [T, ...]`` with frames where ``present [T]`` is False replaced by linear
    interpolation between the nearest present frames (held at the ends). All missing: zeros."""
    out = np.array(values, dtype=np.float64, copy=True)
    have = np.flatnonzero(present)
    if have.size == 0:
        return np.zeros_like(out)
    missing = np.flatnonzero(~np.asarray(present, bool))
    if missing.size == 0:
        return out
    flat = out.reshape(out.shape[0], -1)  # [T, D]
    for d in range(flat.shape[1]):  # np.interp holds the end values, as wanted
        flat[missing, d] = np.interp(missing, have, flat[have, d])
    return flat.reshape(out.shape)


def _alpha(cutoff_hz: np.ndarray | float, rate_hz: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, np.float64))
    return 1.0 / (1.0 + tau * rate_hz)


def one_euro(
    x: np.ndarray,
    rate_hz: float,
    *,
    min_cutoff_hz: float = 1.5,
    beta: float = 0.5,
    d_cutoff_hz: float = 1.0,
) -> np.ndarray:
    """Causal one-euro filter along axis 0 of ``x [T, D]`` (each column on its own).

    ``min_cutoff_hz``: the cutoff at rest; ``beta``: how fast it rises with speed (cutoff =
    min_cutoff + beta·|dx/dt| in the column's units per second); ``d_cutoff_hz``: the cutoff of
    the speed estimate."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    if x.shape[0] == 0:
        return out
    a_d = float(_alpha(d_cutoff_hz, rate_hz))
    prev = x[0].copy()
    speed = np.zeros_like(prev)
    out[0] = prev
    for t in range(1, x.shape[0]):
        speed += a_d * ((x[t] - prev) * rate_hz - speed)
        a = _alpha(min_cutoff_hz + beta * np.abs(speed), rate_hz)
        prev = prev + a * (x[t] - prev)
        out[t] = prev
    return out


def smooth_zero_phase(
    x: np.ndarray,
    rate_hz: float,
    *,
    min_cutoff_hz: float = 1.5,
    beta: float = 0.5,
    d_cutoff_hz: float = 1.0,
) -> np.ndarray:
    """``x [T, ...]`` smoothed without lag: the mean of a forward and a backward one-euro pass
    (the forward pass lags as much as the backward one leads). Same shape, float64."""
    x = np.asarray(x, np.float64)
    flat = x.reshape(x.shape[0], -1)  # [T, D]
    kw = {"min_cutoff_hz": min_cutoff_hz, "beta": beta, "d_cutoff_hz": d_cutoff_hz}
    fwd = one_euro(flat, rate_hz, **kw)
    bwd = one_euro(flat[::-1], rate_hz, **kw)[::-1]
    return (0.5 * (fwd + bwd)).reshape(x.shape)
