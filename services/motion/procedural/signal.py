"""Signal helpers of the procedural animator: audio features, filters, kernels, frame arithmetic.

Audio is analysed at 100 Hz (10 ms hops, 25 ms Hann windows centred on each hop, 512-point
FFT) and motion runs at 25 fps, so one motion frame is exactly four hops (640 samples at
16 kHz). Everything here is pure numpy/scipy and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

from dyad.timebase import FPS, SAMPLE_RATE

HOP = 160  # 10 ms
WIN = 400  # 25 ms
HOPS_PER_FRAME = SAMPLE_RATE // FPS // HOP  # 4
FEATURE_RATE = SAMPLE_RATE // HOP  # 100 Hz
_NFFT = 512
_FREQS = np.fft.rfftfreq(_NFFT, 1.0 / SAMPLE_RATE)
_LOW = (_FREQS >= 150) & (_FREQS < 900)  # F1 region: open vs close vowels
_MID = (_FREQS >= 900) & (_FREQS < 2500)  # F2 region: spread (high F2) vs rounded (low F2)
_HIGH = (_FREQS >= 3500) & (_FREQS < 7800)  # frication noise (s, f, sh, t)
_BANDS = (_LOW, _MID, _HIGH)
_HANN = np.hanning(WIN)
_CHUNK = 4096  # hops per FFT batch (~41 s)


def frames_for_samples(n: int) -> int:
    """``T = ceil(n · 25 / 16000)``, exact in integers (agrees with ``dyad.rigs.num_frames``)."""
    return -(-n * FPS // SAMPLE_RATE)


@dataclass(frozen=True)
class SpeechFeatures:
    """One speaker's audio at 100 Hz (``[4T]`` each, zero outside their own speech)."""

    drive: np.ndarray  # compressed loudness 0..~1, gated to the speaker's own segments
    fric: np.ndarray  # 0..1: share of high-band (frication) energy, speaker-normalised
    rounding: np.ndarray  # 0..1: low-F2 voiced energy (u, o, w), speaker-normalised
    closure: np.ndarray  # 0..1: a dip of loudness inside running speech (lips together)
    active: np.ndarray  # bool: the speaker's own audio is above the noise gate


def speech_features(
    track: np.ndarray,
    gate: np.ndarray,
    *,
    num_frames: int,
    exponent: float,
    noise_gate: float,
) -> SpeechFeatures:
    """Loudness and spectral shape of ``track`` (16 kHz) on ``4 · num_frames`` hops.

    ``gate`` (bool ``[4T]``) marks where the timeline says the speaker talks; the track's level
    reference is its 90th percentile RMS inside the gate, so the mapping is speaker- and
    room-independent. ``drive = ((rms / ref) ** exponent - noise_gate) / (1 - noise_gate)``.
    """
    hops = num_frames * HOPS_PER_FRAME
    # Window of hop i is centred on the middle of the hop's own 10 ms.
    left = (WIN - HOP) // 2
    total = (hops - 1) * HOP + WIN
    padded = np.zeros(total, np.float64)
    n = min(track.size, total - left)
    padded[left : left + n] = track[:n]
    win = np.lib.stride_tricks.sliding_window_view(padded, WIN)[::HOP][:hops]
    rms, bands = np.empty(hops), np.empty((hops, 3))
    for i in range(0, hops, _CHUNK):  # bounded memory for long clips
        w = win[i : i + _CHUNK]
        rms[i : i + _CHUNK] = np.sqrt(np.mean(np.square(w), axis=1) + 1e-12)
        spec = np.abs(np.fft.rfft(w * _HANN, _NFFT, axis=1)) ** 2
        bands[i : i + _CHUNK] = np.stack([spec[:, b].sum(axis=1) for b in _BANDS], axis=1)
    low, mid, high = bands.T

    inside = rms[gate] if gate.any() else rms
    ref = max(float(np.percentile(inside, 90)), 1e-6)
    loud = np.clip(rms / ref, 0.0, 1.5) ** exponent
    drive = np.clip((loud - noise_gate) / (1.0 - noise_gate), 0.0, 1.2) * gate
    active = drive > 0.12
    fric_ratio = high / (low + mid + high + 1e-12)
    round_ratio = low / (low + mid + 1e-12)
    fric = _normalise(fric_ratio, active, 50, 95)
    rounding = _normalise(round_ratio, active, 50, 95) * (1.0 - fric)
    # Lips close in short dips of running speech: active within 150 ms on both sides.
    span = 15
    past = maximum_filter1d(active.astype(np.float64), span, origin=(span - 1) // 2)
    future = maximum_filter1d(active.astype(np.float64), span, origin=-(span // 2))
    closure = np.minimum(past, future) * np.clip(1.0 - drive / 0.3, 0.0, 1.0) * gate
    return SpeechFeatures(drive, fric * active, rounding * active, closure, active)


def _normalise(x: np.ndarray, where: np.ndarray, lo_pct: float, hi_pct: float) -> np.ndarray:
    """Map ``x`` so its ``lo_pct`` percentile (over ``where``) is 0 and ``hi_pct`` is 1."""
    if where.sum() < 10:
        return np.zeros_like(x)
    lo, hi = np.percentile(x[where], [lo_pct, hi_pct])
    return np.clip((x - lo) / max(hi - lo, 1e-6), 0.0, 1.0)


def attack_release(x: np.ndarray, rate: float, attack_s: float, release_s: float) -> np.ndarray:
    """Asymmetric one-pole follower along axis 0: rises with ``attack_s``, falls with
    ``release_s`` (time constants). Co-articulation: a mouth opens fast and closes slower."""
    a_up = 1.0 - float(np.exp(-1.0 / (rate * max(attack_s, 1e-6))))
    a_down = 1.0 - float(np.exp(-1.0 / (rate * max(release_s, 1e-6))))
    x2 = np.asarray(x, np.float64).reshape(x.shape[0], -1)
    y = np.empty_like(x2)
    for c in range(x2.shape[1]):  # plain floats: much faster than numpy on tiny vectors
        prev, col = 0.0, []
        for v in x2[:, c].tolist():
            prev += (v - prev) * (a_up if v > prev else a_down)
            col.append(prev)
        y[:, c] = col
    return y.reshape(x.shape)


def smooth(x: np.ndarray, rate: float, tau_s: float) -> np.ndarray:
    """Zero-phase one-pole low-pass (forward and backward) along axis 0."""
    if tau_s <= 0:
        return np.asarray(x, np.float64)
    a = 1.0 - np.exp(-1.0 / (rate * tau_s))
    b, den = [a], [1.0, a - 1.0]
    x = np.asarray(x, np.float64)
    # Each pass starts at rest on its first sample (no start-up transient).
    y = lfilter(b, den, x - x[:1], axis=0) + x[:1]
    y = lfilter(b, den, (y - y[-1:])[::-1], axis=0)[::-1] + y[-1:]
    return np.asarray(y)


def to_frames(x: np.ndarray, num_frames: int) -> np.ndarray:
    """Mean of each frame's four hops: ``[4T, …]`` → ``[T, …]``."""
    return x.reshape(num_frames, HOPS_PER_FRAME, *x.shape[1:]).mean(axis=1)


def interval_mask(
    intervals: list[tuple[float, float]], length: int, rate: float, pad_s: float = 0.0
) -> np.ndarray:
    """Bool ``[length]`` at ``rate``: true inside any ``(start_s, end_s)`` widened by ``pad_s``."""
    mask = np.zeros(length, bool)
    for start, end in intervals:
        i0 = max(int(np.floor((start - pad_s) * rate)), 0)
        i1 = min(int(np.ceil((end + pad_s) * rate)), length)
        if i1 > i0:
            mask[i0:i1] = True
    return mask


def bump(num_frames: int, time_s: float, dur_s: float, amp: float) -> np.ndarray:
    """A ``sin²`` bump starting at ``time_s`` lasting ``dur_s`` (smooth at both ends)."""
    t = np.arange(num_frames) / FPS - time_s
    inside = (t >= 0) & (t <= dur_s)
    return np.where(inside, amp * np.sin(np.pi * np.clip(t / dur_s, 0, 1)) ** 2, 0.0)


def slew_limit(x: np.ndarray, max_step: np.ndarray) -> np.ndarray:
    """Limit the per-frame change of each column of ``x`` ``[T, C]`` to ``max_step`` ``[C]``
    (``inf`` leaves a column alone)."""
    y = np.array(x, np.float64)
    for t in range(1, y.shape[0]):
        y[t] = y[t - 1] + np.clip(y[t] - y[t - 1], -max_step, max_step)
    return y
