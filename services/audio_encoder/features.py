"""Weight-free feature backends: log-mel (+Δ) and MFCC (+Δ, ΔΔ), pure torch/numpy.

DualTalk's own ablation replaces wav2vec2 by MFCC; these backends need no weights, start in
milliseconds and run far faster than real time on a CPU (``bench/audio_features.py``).

Pipeline per track, all at the 100 Hz analysis rate (25 ms Hann window, 10 ms hop):
``torch.stft`` (``center=True``, reflect padding) → power spectrum → triangular HTK-mel
filterbank → ``log(mel + log_floor)`` → [DCT-II for MFCC] → deltas; then one linear
alignment step to the motion-frame count (align_corners; a window that carries its ``Span``
samples the whole clip's positions, see ``alignment.window_positions``).

Dimensions (``Backend.dim``):

- ``mel``: log-mel + Δ → ``2 · n_mels`` = 160 by default (``n_mels`` = 80 without deltas);
- ``mfcc``: c0..c12 + Δ + ΔΔ → ``3 · n_mfcc`` = 39 by default (``n_mfcc`` = 13 without).

There is deliberately no per-utterance normalisation (no CMVN): every 100 Hz feature frame
depends only on audio within ±(window/2 + delta context) of its centre, so encoding a long clip
in overlapping windows gives the one-shot features away from the window edges. Normalisation,
if a model wants it, belongs to the model (fixed statistics), not to the encoder.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch

from dyad.errors import InvalidInput
from dyad.services.audio_encoder import alignment
from dyad.services.audio_encoder.backend import FeatureBackend

#: Bump when the feature computation changes in a way the config does not capture.
FEATURE_VERSION = 1


def _check_spectral(cfg: MelConfig | MfccConfig) -> None:
    if cfg.sample_rate <= 0 or cfg.hop_length <= 0 or cfg.n_mels <= 0:
        raise InvalidInput("config", "sample_rate, hop_length and n_mels must be positive")
    if not 0 < cfg.win_length <= cfg.n_fft:
        raise InvalidInput("config", "need 0 < win_length <= n_fft")
    if not 0.0 <= cfg.f_min < cfg.f_max <= cfg.sample_rate / 2:
        raise InvalidInput("config", "need 0 <= f_min < f_max <= sample_rate / 2")
    if cfg.log_floor <= 0.0:
        raise InvalidInput("config", "log_floor must be positive")
    if cfg.delta_width < 1:
        raise InvalidInput("config", "delta_width must be >= 1")


@dataclass(frozen=True)
class MelConfig:
    """Log-mel analysis at 100 Hz; ``deltas`` appends Δ (dim ``2 · n_mels``)."""

    sample_rate: int = 16_000
    n_fft: int = 400  # 25 ms
    win_length: int = 400
    hop_length: int = 160  # 10 ms → 100 Hz
    n_mels: int = 80
    f_min: float = 20.0
    f_max: float = 7600.0
    log_floor: float = 1e-6
    deltas: bool = True
    delta_width: int = 2

    def __post_init__(self) -> None:
        _check_spectral(self)


@dataclass(frozen=True)
class MfccConfig:
    """MFCC at 100 Hz; ``deltas`` appends Δ and ΔΔ (dim ``3 · n_mfcc``)."""

    sample_rate: int = 16_000
    n_fft: int = 400
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 7600.0
    log_floor: float = 1e-6
    n_mfcc: int = 13
    deltas: bool = True
    delta_width: int = 2

    def __post_init__(self) -> None:
        _check_spectral(self)
        if not 0 < self.n_mfcc <= self.n_mels:
            raise InvalidInput("config", "need 0 < n_mfcc <= n_mels")


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 · log10(1 + f / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_fft: int, sample_rate: int, n_mels: int, f_min: float, f_max: float
) -> np.ndarray:
    """Triangular filters ``[n_mels, n_fft // 2 + 1]`` (float32), HTK mel-spaced, peak 1.

    ``n_mels + 2`` edge frequencies are equally spaced in mel between ``f_min`` and ``f_max``;
    filter ``m`` rises linearly (in Hz) from edge ``m`` to 1 at edge ``m + 1`` and falls back to
    0 at edge ``m + 2``. Sampled at the FFT bin frequencies, so a narrow low filter's largest
    weight can be below 1; it is zero outside ``(f_min, f_max)``. No area normalisation.
    """
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    bins = np.arange(n_fft // 2 + 1, dtype=np.float64) * (sample_rate / n_fft)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / (mid - lo)
    down = (hi - bins[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II ``[n, n]``: ``C[k, i] = s_k · cos(π k (2i + 1) / (2n))``.

    ``s_0 = sqrt(1/n)``, ``s_k = sqrt(2/n)``, so ``C @ C.T = I`` and ``y = C @ x``.
    """
    k = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    c = np.cos(np.pi * k * (2.0 * i + 1.0) / (2.0 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


def deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas ``d_t = Σ_{n=1..N} n (x_{t+n} − x_{t−n}) / (2 Σ n²)``, N = ``width``.

    Frames beyond either end are the edge frame replicated. ``[T, D]`` → ``[T, D]``.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise InvalidInput("features", f"expected [T, D], got shape {x.shape}")
    if width < 1:
        raise InvalidInput("width", "must be >= 1")
    t = x.shape[0]
    if t == 0:
        return np.zeros_like(x)
    xp = np.pad(x, ((width, width), (0, 0)), mode="edge")
    out = np.zeros_like(x)
    for n in range(1, width + 1):
        out += n * (xp[width + n : width + n + t] - xp[width - n : width - n + t])
    return out / (2.0 * sum(n * n for n in range(1, width + 1)))


@lru_cache(maxsize=16)
def _analysis(
    sample_rate: int, n_fft: int, win_length: int, n_mels: int, f_min: float, f_max: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Hann window, filterbank transposed ``[n_fft//2+1, n_mels]``), built once per config."""
    window = torch.hann_window(win_length, periodic=True, dtype=torch.float32)
    fb = mel_filterbank(n_fft, sample_rate, n_mels, f_min, f_max)
    return window, torch.from_numpy(np.ascontiguousarray(fb.T))


def num_analysis_frames(num_samples: int, hop_length: int = 160) -> int:
    """Frames ``log_mel`` returns for ``num_samples`` (``1 + N // hop``, centred frames)."""
    return 1 + num_samples // hop_length


def log_mel(wave: np.ndarray, cfg: MelConfig | MfccConfig = MelConfig()) -> np.ndarray:
    """Log-mel spectrogram ``[1 + N // hop, n_mels]`` float32 at ``sample_rate / hop`` Hz.

    Frame ``t`` is centred on sample ``t · hop``. Inputs too short for reflect padding
    (``N <= n_fft // 2``, e.g. one sample) are first zero-padded on the right; the frame count
    still follows the true length.
    """
    w = np.asarray(wave)
    if w.ndim != 1:
        raise InvalidInput("audio", f"expected a mono [N] waveform, got shape {w.shape}")
    n_out = num_analysis_frames(w.shape[0], cfg.hop_length)
    window, fb_t = _analysis(
        cfg.sample_rate, cfg.n_fft, cfg.win_length, cfg.n_mels, cfg.f_min, cfg.f_max
    )
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        min_len = cfg.n_fft // 2 + 1
        if x.shape[0] < min_len:
            x = torch.nn.functional.pad(x, (0, min_len - x.shape[0]))
        spec = torch.stft(
            x,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=window,
            center=True,
            pad_mode="reflect",
            onesided=True,
            return_complex=True,
        )  # [F, L]
        # real² + imag²: several times faster than abs().square() or view_as_real(...).sum(-1)
        power = spec.real.square() + spec.imag.square()  # [F, L]
        mel = power.T[:n_out] @ fb_t  # [L, n_mels]
        return torch.log(mel + cfg.log_floor).numpy()


def mfcc(wave: np.ndarray, cfg: MfccConfig = MfccConfig()) -> np.ndarray:
    """MFCC ``[1 + N // hop, n_mfcc]`` float32: orthonormal DCT-II of the log-mel."""
    basis = _dct_rows(cfg.n_mels, cfg.n_mfcc)
    return (log_mel(wave, cfg) @ basis).astype(np.float32)


@lru_cache(maxsize=8)
def _dct_rows(n_mels: int, n_mfcc: int) -> np.ndarray:
    return np.ascontiguousarray(dct_matrix(n_mels)[:n_mfcc].T.astype(np.float32))


def _canonical_hash(name: str, cfg: MelConfig | MfccConfig) -> str:
    doc = {"name": name, "version": FEATURE_VERSION, "config": asdict(cfg)}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class _WeightFree(ABC):
    """Shared ``FeatureBackend`` plumbing; subclasses define ``frame_features``."""

    name: str
    dim: int
    cfg: MelConfig | MfccConfig

    @abstractmethod
    def frame_features(self, wave: np.ndarray) -> np.ndarray:
        """Features ``[1 + N // hop, dim]`` at the 100 Hz analysis rate, before alignment."""

    def config_hash(self) -> str:
        return _canonical_hash(self.name, self.cfg)

    def encode_batch(
        self,
        waves: list[np.ndarray],
        num_frames: list[int],
        spans: list[alignment.Span | None] | None = None,
    ) -> list[np.ndarray]:
        """Per track: 100 Hz features (+ deltas, at 100 Hz), then one alignment step.

        Without a span the track is a whole clip (``interpolate_frames``); with one, it is a
        window and samples the whole clip's align_corners positions (``window_positions``).
        Tracks are encoded one by one, so a batch equals its tracks encoded alone, exactly.
        """
        spans = [None] * len(waves) if spans is None else spans
        if not len(waves) == len(num_frames) == len(spans):
            raise InvalidInput(
                "num_frames", f"{len(waves)} waves, {len(num_frames)} counts, {len(spans)} spans"
            )
        hop = self.cfg.hop_length
        out = []
        for wave, t, span in zip(waves, num_frames, spans, strict=True):
            if t < 0:
                raise InvalidInput("num_frames", "negative frame count")
            if t == 0:
                out.append(np.zeros((0, self.dim), dtype=np.float32))
                continue
            feats = self.frame_features(wave)
            pos = alignment.window_positions(
                span, t, feats.shape[0], lambda n: num_analysis_frames(n, hop), hop
            )
            out.append(alignment.interpolate_at(feats, pos))
        return out

    def warm_up(self) -> None:
        self.encode_batch([np.zeros(self.cfg.sample_rate, dtype=np.float32)], [alignment.FPS])


class MelBackend(_WeightFree):
    """``mel``: log-mel (+ Δ), dim ``n_mels · (2 if deltas else 1)`` = 160 by default."""

    name = "mel"
    cfg: MelConfig

    def __init__(self, cfg: MelConfig = MelConfig()) -> None:
        self.cfg = cfg
        self.dim = cfg.n_mels * (2 if cfg.deltas else 1)

    def frame_features(self, wave: np.ndarray) -> np.ndarray:
        feats = log_mel(wave, self.cfg)
        if self.cfg.deltas:
            feats = np.concatenate([feats, deltas(feats, self.cfg.delta_width)], axis=1)
        return feats


class MfccBackend(_WeightFree):
    """``mfcc``: MFCC (+ Δ + ΔΔ), dim ``n_mfcc · (3 if deltas else 1)`` = 39 by default."""

    name = "mfcc"
    cfg: MfccConfig

    def __init__(self, cfg: MfccConfig = MfccConfig()) -> None:
        self.cfg = cfg
        self.dim = cfg.n_mfcc * (3 if cfg.deltas else 1)

    def frame_features(self, wave: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        c = mfcc(wave, cfg)
        if cfg.deltas:
            d1 = deltas(c, cfg.delta_width)
            c = np.concatenate([c, d1, deltas(d1, cfg.delta_width)], axis=1)
        return c


WEIGHT_FREE_BACKENDS = ("mel", "mfcc")


def weight_free_backend(name: str) -> FeatureBackend:
    """``MelBackend()`` for ``"mel"``, ``MfccBackend()`` for ``"mfcc"``, default configs."""
    if name == "mel":
        return MelBackend()
    if name == "mfcc":
        return MfccBackend()
    raise InvalidInput(
        "backend",
        f"unknown weight-free backend {name!r}; choose one of {', '.join(WEIGHT_FREE_BACKENDS)}",
    )
