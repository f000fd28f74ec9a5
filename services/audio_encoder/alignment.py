"""Alignment of audio features to motion frames, exactly as the released DualTalk code does.

The release computes the number of motion frames from the waveform length,
``T = ceil(samples / 16000 · fps)``, and linearly interpolates whatever feature rate the
encoder produces to ``T`` frames with ``align_corners=True`` semantics (the first and last
feature land on the first and last frame). These two functions are the whole convention; every
backend uses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dyad.errors import InvalidInput
from dyad.timebase import FPS, SAMPLE_RATE


def frame_count(num_samples: int, *, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> int:
    """``ceil(num_samples / sample_rate · fps)``, in exact integer arithmetic.

    (``math.ceil(n / 16000 * 25)`` in floats can be off by one for some lengths; the integer
    form gives the value the formula means.)
    """
    if num_samples < 0:
        raise InvalidInput("audio", "negative length")
    return -(-num_samples * fps // sample_rate)


@dataclass(frozen=True)
class Span:
    """Where a window sits in its whole clip, so it can be aligned like the whole clip.

    With ``align_corners`` the whole clip's frame ``i`` samples feature position
    ``i · (L - 1) / (T - 1)`` — a stretch that drifts by up to ``(L - 1)/(T - 1)`` feature
    frames over any clip. A window aligned on its own would stretch differently; a window that
    knows its span samples the whole clip's positions instead, so windowed encoding matches
    one-shot encoding.
    """

    #: First motion frame of the window in the whole clip.
    start_frame: int
    #: Motion frames and samples of the whole clip.
    total_frames: int
    total_samples: int
    fps: int = FPS
    #: Mean and variance of the whole clip's samples, for backends that normalise per
    #: utterance (wav2vec2): a window normalised by its own statistics would differ.
    clip_mean: float = 0.0
    clip_var: float = 1.0


def frame_positions(
    num_feats: int, num_frames: int, *, start: int = 0, count: int | None = None
) -> np.ndarray:
    """Fractional feature index of frames ``start … start+count-1`` (float32, align_corners).

    ``num_feats`` / ``num_frames`` are the whole clip's feature and frame counts. float32
    arithmetic, as torch's linear interpolation does in the release.
    """
    count = num_frames - start if count is None else count
    if num_frames <= 1 or num_feats <= 1:
        return np.zeros(count, dtype=np.float32)
    scale = np.float32((num_feats - 1) / (num_frames - 1))
    return np.arange(start, start + count, dtype=np.float32) * scale


def interpolate_at(features: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Linearly sample ``[L, D]`` features at fractional ``positions`` ``[T]`` → ``[T, D]``.

    Positions are clamped to ``[0, L - 1]``; the upper neighbour is clamped, not the lower one,
    so the last position is exactly ``x[L - 1]`` (torch's behaviour).
    """
    feats = np.asarray(features, dtype=np.float32)
    if feats.ndim != 2:
        raise InvalidInput("features", f"expected [L, D], got shape {feats.shape}")
    length = feats.shape[0]
    if positions.size == 0:
        return np.zeros((0, feats.shape[1]), dtype=np.float32)
    if length == 0:
        raise InvalidInput("features", "no feature frames to interpolate")
    pos = np.clip(positions.astype(np.float32), 0, length - 1)
    lo = np.minimum(pos.astype(np.int64), length - 1)
    hi = np.minimum(lo + 1, length - 1)
    w = (pos - lo.astype(np.float32))[:, None]
    return (feats[lo] + w * (feats[hi] - feats[lo])).astype(np.float32, copy=False)


def interpolate_frames(features: np.ndarray, num_frames: int) -> np.ndarray:
    """Resample ``[L, D]`` features to ``[num_frames, D]`` exactly as the release does
    (``F.interpolate(mode="linear", align_corners=True)``)."""
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise InvalidInput("features", f"expected [L, D], got shape {feats.shape}")
    return interpolate_at(feats, frame_positions(feats.shape[0], num_frames))


def window_positions(
    span: Span | None,
    num_frames: int,
    local_feats: int,
    feats_of: Callable[[int], int],
    samples_per_feat: int,
) -> np.ndarray:
    """Positions (in the window's own features) of its ``num_frames`` frames.

    ``feats_of(samples)`` is the backend's feature count for a clip of that many samples and
    ``samples_per_feat`` its hop. Without a span, the window is the whole clip.
    """
    if span is None:
        return frame_positions(local_feats, num_frames)
    total_feats = feats_of(span.total_samples)
    offset = span.start_frame * samples_for_frames(1, fps=span.fps) / samples_per_feat
    glob = frame_positions(total_feats, span.total_frames, start=span.start_frame, count=num_frames)
    return glob - np.float32(offset)


def samples_for_frames(num_frames: int, *, sample_rate: int = SAMPLE_RATE, fps: int = FPS) -> int:
    """Samples spanned by ``num_frames`` motion frames (640 per frame at 16 kHz / 25 fps)."""
    if (sample_rate % fps) != 0:
        return math.floor(num_frames * sample_rate / fps)
    return num_frames * (sample_rate // fps)
