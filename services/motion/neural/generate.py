"""Inference of the motion model over a whole clip: ``generate_pair`` runs both speakers, each
given the partner's motion, in one batched pass, in overlapping windows blended with linear
cross-fades."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dyad.errors import InvalidInput
from dyad.rigs import num_frames
from dyad.services.motion.neural.config import MIN_SAMPLES, MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel
from dyad.services.motion.neural.parts import crossfade_weights, window_starts
from dyad.timebase import SAMPLE_RATE

_BATCH_WINDOWS = 8  # windows per generate_pair forward pass (× 2 roles)


def _audio(x: Any, name: str, cfg: MotionModelConfig) -> tuple[np.ndarray, int]:
    """Validated audio input for ``generate_pair`` and its frame count."""
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InvalidInput(name, f"expected a numeric array, got dtype {arr.dtype}")
    if cfg.audio_input == "features":
        if arr.ndim != 2 or arr.shape[1] != cfg.audio_dim:
            raise InvalidInput(name, f"expected [T, {cfg.audio_dim}], got {list(arr.shape)}")
        t = arr.shape[0]
    else:
        if arr.ndim != 1 or 0 < arr.size < MIN_SAMPLES:
            raise InvalidInput(name, f"expected [N] 16 kHz samples (N ≥ {MIN_SAMPLES})")
        t = num_frames(arr.size / SAMPLE_RATE, cfg.fps)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InvalidInput(name, f"non-finite value at index {np.argwhere(~np.isfinite(arr))[0]}")
    return arr, t


def generate_pair(
    model: DualTalkModel,
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    partner_a: np.ndarray,
    partner_b: np.ndarray,
    relation: tuple[bool, bool] | None,
    *,
    window: int = 200,
    overlap: int = 50,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' motion ``([T, C], [T, C])``, clipped to the rig's range.

    ``feats_*``: ``[T, audio_dim]`` features (or ``[N]`` 16 kHz samples for a waveform model,
    equal lengths); ``partner_a``/``partner_b``: the given motion of A / B (``[T, C]``). A is
    predicted from ``(feats_a, feats_b, partner_b)`` and B from ``(feats_b, feats_a,
    partner_a)``, both in the same batch. Clips longer than ``window`` frames run in windows
    overlapping by ``overlap`` (the last one aligned to the end), blended with linear
    cross-fades. Eval mode (restored afterwards), no grad, deterministic. ``relation``
    (blood, equal) is required for a social model and ignored otherwise. A model with a
    variation latent draws one prior sequence per speaker for the whole clip from ``seed``
    (windows slice it, so overlaps agree); the same seed gives the same motion.
    """
    cfg, rig = model.config, model.rig
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidInput("window", f"expected a positive integer, got {window!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < window:
        raise InvalidInput("overlap", f"expected an integer in [0, window), got {overlap!r}")
    fa, t = _audio(feats_a, "feats_a", cfg)
    fb, tb = _audio(feats_b, "feats_b", cfg)
    if fb.shape != fa.shape or tb != t:
        raise InvalidInput("feats_b", f"shape {list(fb.shape)} differs from feats_a's")
    motions = []
    for name, m in (("partner_a", partner_a), ("partner_b", partner_b)):
        arr = rig.validate(m, field_name=name, check_range=False)
        if arr.shape[0] != t:
            raise InvalidInput(name, f"{arr.shape[0]} frames, the audio has {t}")
        motions.append(arr)
    pa, pb = motions
    rel: np.ndarray | None = None
    if cfg.social:
        vals = list(relation) if isinstance(relation, tuple | list) else []
        flags = [isinstance(v, bool | int | np.bool_) and v in (0, 1) for v in vals]
        if len(vals) != 2 or not all(flags):
            raise InvalidInput("relation", f"(blood, equal) booleans required, got {relation!r}")
        rel = np.array(vals, dtype=np.float32)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput("seed", f"expected a non-negative integer, got {seed!r}")
    if t == 0:
        return rig.neutral(0), rig.neutral(0)
    latents: list[np.ndarray] | None = None
    if model.variation is not None:
        rng = np.random.default_rng(seed)
        latents = [model.variation.prior(t, rng) for _ in range(2)]  # A's, then B's

    w = min(window, t)
    starts = window_starts(t, window, overlap)
    ramps = crossfade_weights(starts, w)
    hop = SAMPLE_RATE / cfg.fps

    def audio_slice(x: np.ndarray, s: int) -> np.ndarray:
        if cfg.audio_input == "features":
            return x[s : s + w]
        return x[round(s * hop) : round((s + w) * hop)]

    # Windows whose audio slices have equal lengths run together (only a waveform clip's last
    # window may be shorter), up to ``_BATCH_WINDOWS`` windows × 2 roles per pass.
    groups: dict[int, list[int]] = {}
    for k, s in enumerate(starts):
        groups.setdefault(len(audio_slice(fa, s)), []).append(k)
    batches = [
        g[i : i + _BATCH_WINDOWS] for g in groups.values() for i in range(0, len(g), _BATCH_WINDOWS)
    ]
    first = next(model.parameters())

    def tensor(xs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(xs)).to(first.device, first.dtype)

    acc, total = np.zeros((2, t, rig.num_channels)), np.zeros(t)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in batches:
                self_rows, part_rows, motion_rows, z_rows = [], [], [], []
                for s in (starts[k] for k in batch):  # rows: A's role, then B's
                    sa, sb = audio_slice(fa, s), audio_slice(fb, s)
                    self_rows += [sa, sb]
                    part_rows += [sb, sa]
                    motion_rows += [pb[s : s + w], pa[s : s + w]]
                    z_rows += [z[s : s + w] for z in latents or ()]
                r = None if rel is None else tensor([rel] * len(self_rows))
                z = tensor(z_rows) if latents else None
                out = model(tensor(self_rows), tensor(part_rows), tensor(motion_rows), r, z)
                pred = out.float().cpu().numpy().reshape(len(batch), 2, w, -1)
                for k, p in zip(batch, pred, strict=True):
                    s = starts[k]
                    acc[:, s : s + w] += ramps[k][None, :, None] * p
                    total[s : s + w] += ramps[k]
    finally:
        model.train(was_training)
    motion = acc / total[None, :, None]
    return rig.clip(motion[0]), rig.clip(motion[1])
