"""TCR — temporal continuity refinement: CHAT eq. 10, Gaussian-weighted boundary blending.

For adjacent segments ``k − 1`` (``F`` frames) and ``k`` meeting at a boundary, with
``1 ≤ τ ≤ W``::

    v(k−1, F−τ+1) = [1 − α(τ)]·ṽ(k−1, F−τ+1) + α(τ)·ṽ(k, τ)
    v(k, τ)       = α(τ)·ṽ(k−1, F−τ+1) + [1 − α(τ)]·ṽ(k, τ)
    α(τ) = ½·exp(−(τ−1)² / (2σ²)),  σ = W/3

so the two frames at the boundary both become the mean of the pair (α(1) = ½) and the weight
decays outwards; frames further than ``W`` from a boundary are untouched (bit-exact). On the
conversation's frame axis a boundary ``b`` is the first frame of segment ``k``: frame
``b − τ`` is ``ṽ(k−1, F−τ+1)`` and frame ``b + τ − 1`` is ``ṽ(k, τ)``.

Both speakers go through one operator (their channels side by side), so the transform is
identical for both at the same boundaries (CHAT: it preserves their mutual responsiveness).
Every boundary reads the unblended ``ṽ``; where a segment is shorter than ``W`` the window of
that boundary is cut to ``W_b = min(W, F_{k−1}, F_k)`` (σ stays ``W/3``), and where a segment is
shorter than ``2W`` the two windows touching it add their changes.
"""

from __future__ import annotations

import numpy as np

from dyad.errors import InvalidInput

DEFAULT_WINDOW = 10


def half_gaussian(window: int) -> np.ndarray:
    """``α(τ)`` for ``τ = 1..W`` (``[W]`` float64)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidInput("tcr_window", f"expected a positive integer, got {window!r}")
    sigma = window / 3.0
    tau = np.arange(1, window + 1, dtype=np.float64)
    return 0.5 * np.exp(-((tau - 1.0) ** 2) / (2.0 * sigma**2))


def blend(motion: np.ndarray, bounds: list[int], window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Eq. 10 at every boundary of ``motion`` ``[T, C]`` (a new float32 array)."""
    x = np.asarray(motion, dtype=np.float32)
    if x.ndim != 2:
        raise InvalidInput("motion", f"expected [T, C], got shape {x.shape}")
    t = x.shape[0]
    alpha = half_gaussian(window)
    edges = sorted(set(bounds))
    if any(not 0 < b < t for b in edges):
        raise InvalidInput("boundaries", f"every boundary must be inside (0, {t})")
    src = x.astype(np.float64)  # exact for float32; untouched frames come back bit-exact
    out = src.copy()
    stops = [0, *edges, t]
    for i, b in enumerate(edges):
        w = min(window, b - stops[i], stops[i + 2] - b)
        before = np.arange(b - 1, b - w - 1, -1)  # b − τ, τ = 1..w
        after = np.arange(b, b + w)  # b + τ − 1
        a = alpha[:w, None]
        diff = src[after] - src[before]
        # both rows change by ±α·(ṽ_after − ṽ_before): eq. 10 rewritten as a correction
        out[before] += a * diff
        out[after] -= a * diff
    return out.astype(np.float32)


def tcr(
    motion_a: np.ndarray, motion_b: np.ndarray, bounds: list[int], window: int = DEFAULT_WINDOW
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers ``[T, C]`` blended by one operator at the same ``bounds``."""
    a, b = np.asarray(motion_a), np.asarray(motion_b)
    if a.shape[0] != b.shape[0]:
        raise InvalidInput("motion_b", f"{b.shape[0]} frames, motion_a has {a.shape[0]}")
    both = blend(np.concatenate([a, b], axis=1), bounds, window)
    return both[:, : a.shape[1]], both[:, a.shape[1] :]
