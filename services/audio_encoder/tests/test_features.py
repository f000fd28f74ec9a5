"""Weight-free audio features: filterbank, log-mel, MFCC, deltas, alignment, locality."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
import scipy.fft

from dyad.errors import InvalidInput
from dyad.services.audio_encoder import alignment
from dyad.services.audio_encoder.backend import FeatureBackend
from dyad.services.audio_encoder.features import (
    FEATURE_VERSION,
    MelBackend,
    MelConfig,
    MfccBackend,
    MfccConfig,
    dct_matrix,
    deltas,
    log_mel,
    mel_filterbank,
    mfcc,
    weight_free_backend,
)
from dyad.timebase import SAMPLE_RATE as SR

from .signals import speechlike

BACKENDS = [MelBackend, MfccBackend]


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _edges(n_mels: int, f_min: float, f_max: float) -> np.ndarray:
    """Filter edge frequencies from the HTK formula, independently of the module."""
    mels = np.linspace(_mel(f_min), _mel(f_max), n_mels + 2)
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def _sine(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --------------------------------------------------------------------------- filterbank


@pytest.mark.parametrize("n_fft", [400, 8192])
def test_filterbank_htk_triangles(n_fft: int) -> None:
    fb = mel_filterbank(n_fft, SR, 80, 20.0, 7600.0)
    assert fb.shape == (80, n_fft // 2 + 1)
    assert fb.dtype == np.float32
    assert (fb >= 0).all() and (fb <= 1.0 + 1e-6).all()
    assert (fb.sum(axis=1) > 0).all()

    bin_hz = SR / n_fft
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    edges = _edges(80, 20.0, 7600.0)
    centres = edges[1:-1]
    # Nothing outside (f_min, f_max): in particular no energy at or above the f_max bin.
    assert not fb[:, freqs >= 7600.0].any()
    assert not fb[:, freqs <= 20.0].any()
    # Each row's peak sits at a bin bracketing its HTK centre; centres increase.
    peak_hz = freqs[fb.argmax(axis=1)]
    assert np.all(np.abs(peak_hz - centres) < bin_hz)
    assert np.all(np.diff(peak_hz) >= 0)
    # A triangle with peak 1 sampled every bin_hz reaches at least 1 - (bin_hz/2)/half-width.
    half = np.minimum(centres - edges[:-2], edges[2:] - centres)
    assert np.all(fb.max(axis=1) >= 1.0 - (bin_hz / 2) / half - 1e-6)
    if n_fft == 8192:  # ~2 Hz bins: the sampled peaks are 1 and strictly increasing
        assert np.all(np.diff(peak_hz) > 0)
        np.testing.assert_allclose(fb.max(axis=1), 1.0, atol=0.1)
        # Mid-band filter is exactly the Hz-linear triangle between its edges.
        m = 40
        expect = np.clip(
            np.minimum(
                (freqs - edges[m]) / (centres[m] - edges[m]),
                (edges[m + 2] - freqs) / (edges[m + 2] - centres[m]),
            ),
            0,
            None,
        )
        np.testing.assert_allclose(fb[m], expect, atol=1e-6)


# --------------------------------------------------------------------------- log-mel


@pytest.mark.parametrize("freq", [1000.0, 3000.0])
def test_sine_peaks_in_its_band(freq: float) -> None:
    cfg = MelConfig()
    lm = log_mel(_sine(freq), cfg)
    assert lm.shape == (101, 80) and lm.dtype == np.float32
    fb = mel_filterbank(cfg.n_fft, SR, cfg.n_mels, cfg.f_min, cfg.f_max)
    band = int(fb[:, round(freq / (SR / cfg.n_fft))].argmax())
    edges = _edges(80, 20.0, 7600.0)
    assert edges[band] < freq < edges[band + 2]  # the band's support contains the tone
    assert np.all(lm[5:-5].argmax(axis=1) == band)


def test_higher_tone_higher_band() -> None:
    b1 = np.bincount(log_mel(_sine(1000.0))[5:-5].argmax(axis=1)).argmax()
    b3 = np.bincount(log_mel(_sine(3000.0))[5:-5].argmax(axis=1)).argmax()
    assert b3 > b1 + 10


def test_silence_is_log_floor() -> None:
    cfg = MelConfig()
    lm = log_mel(np.zeros(SR, dtype=np.float32), cfg)
    np.testing.assert_allclose(lm, np.log(cfg.log_floor), rtol=1e-6)
    out = MelBackend().encode_batch([np.zeros(SR, dtype=np.float32)], [25])[0]
    np.testing.assert_allclose(out[:, :80], np.log(cfg.log_floor), rtol=1e-6)
    assert not out[:, 80:].any()  # deltas of a constant


def test_log_mel_rejects_stereo() -> None:
    with pytest.raises(InvalidInput):
        log_mel(np.zeros((2, 100), dtype=np.float32))


# --------------------------------------------------------------------------- deltas


def test_deltas_constant_and_ramp() -> None:
    const = np.full((20, 3), 7.5, dtype=np.float32)
    assert not deltas(const).any()
    ramp = np.repeat(np.arange(30, dtype=np.float32)[:, None], 4, axis=1)
    for width in (1, 2, 3):
        d = deltas(ramp, width)
        np.testing.assert_allclose(d[width:-width], 1.0, rtol=1e-6)
        assert np.all(d[:width] < 1.0) and np.all(d[:width] > 0.0)  # edge frames replicated
    # width 2 at t=0 with edge replication: (1·(1-0) + 2·(2-0)) / 10
    np.testing.assert_allclose(deltas(ramp, 2)[0], 0.5, rtol=1e-6)
    assert deltas(np.zeros((0, 3), dtype=np.float32)).shape == (0, 3)


# --------------------------------------------------------------------------- MFCC


def test_dct_orthonormal_and_matches_scipy() -> None:
    for n in (13, 40):
        c = dct_matrix(n)
        np.testing.assert_allclose(c @ c.T, np.eye(n), atol=1e-10)
        x = np.random.default_rng(0).standard_normal(n)
        np.testing.assert_allclose(c @ x, scipy.fft.dct(x, norm="ortho"), atol=1e-10)


def test_mfcc_c0_tracks_loudness() -> None:
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    loud, quiet = mfcc(0.3 * noise), mfcc(0.01 * noise)
    assert loud.shape == (101, 13)
    assert np.all(loud[:, 0] > quiet[:, 0] + 5.0)
    # c0 is the orthonormal mean: sqrt(n_mels) · mean(log-mel)
    lm = log_mel(0.3 * noise, MfccConfig())
    np.testing.assert_allclose(loud[:, 0], lm.mean(axis=1) * np.sqrt(40), rtol=1e-4)


# --------------------------------------------------------------------------- backends


def test_dims_and_factory() -> None:
    assert (MelBackend().dim, MfccBackend().dim) == (160, 39)
    assert MelBackend(MelConfig(deltas=False)).dim == 80
    assert MfccBackend(MfccConfig(deltas=False)).dim == 13
    for name, cls in (("mel", MelBackend), ("mfcc", MfccBackend)):
        b = weight_free_backend(name)
        assert isinstance(b, cls) and isinstance(b, FeatureBackend) and b.name == name
        b.warm_up()
    with pytest.raises(InvalidInput) as exc:
        weight_free_backend("wav2vec2")
    assert exc.value.field == "backend" and "mel" in str(exc.value) and "mfcc" in str(exc.value)


def test_bad_configs_rejected() -> None:
    with pytest.raises(InvalidInput):
        MelConfig(f_max=9000.0)
    with pytest.raises(InvalidInput):
        MfccConfig(n_mfcc=50)
    with pytest.raises(InvalidInput):
        MelBackend().encode_batch([np.zeros(10, dtype=np.float32)], [1, 2])


@pytest.mark.parametrize("cls", BACKENDS)
@pytest.mark.parametrize("n", [640, SR, 479_200, 1, 641, 200, 0])
def test_frame_counts(cls: type[MelBackend | MfccBackend], n: int) -> None:
    backend = cls()
    wave = (0.1 * np.random.default_rng(n).standard_normal(n)).astype(np.float32)
    t = alignment.frame_count(n)  # 0.04 s → 1, 1 s → 25, 29.95 s → 749, 1 → 1, 641 → 2
    (out,) = backend.encode_batch([wave], [t])
    assert out.shape == (t, backend.dim) and out.dtype == np.float32
    assert np.isfinite(out).all()


@pytest.mark.parametrize("cls", BACKENDS)
def test_batch_equals_single(cls: type[MelBackend | MfccBackend]) -> None:
    backend = cls()
    rng = np.random.default_rng(3)
    waves = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (SR, 7_777, 33_333)]
    counts = [alignment.frame_count(w.size) for w in waves]
    batch = backend.encode_batch(waves, counts)
    for w, t, got in zip(waves, counts, batch, strict=True):
        np.testing.assert_array_equal(got, backend.encode_batch([w], [t])[0])


def test_config_hash() -> None:
    assert MelBackend().config_hash() == MelBackend(MelConfig()).config_hash()
    assert MelBackend().config_hash() != MelBackend(MelConfig(n_mels=64)).config_hash()
    assert MelBackend().config_hash() != MelBackend(MelConfig(deltas=False)).config_hash()
    assert MfccBackend().config_hash() != MfccBackend(MfccConfig(n_mfcc=20)).config_hash()
    assert MelBackend().config_hash() != MfccBackend().config_hash()
    # Canonical JSON (sorted keys): the same in every process, whatever PYTHONHASHSEED is.
    doc = {"name": "mel", "version": FEATURE_VERSION, "config": dataclasses.asdict(MelConfig())}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    assert MelBackend().config_hash() == hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- locality

SPLIT = 640 * 375  # 15 s: a motion-frame boundary, and a multiple of the 160-sample hop
SEAM = SPLIT // 160  # 100 Hz frame centred on the split


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return speechlike(30.0)


@pytest.mark.parametrize("cls, reach", [(MelBackend, 3), (MfccBackend, 5)])
def test_locality_at_100hz(
    clip: np.ndarray, cls: type[MelBackend | MfccBackend], reach: int
) -> None:
    """Features of the two halves, stitched, equal the one-shot features off the seam.

    Frames whose 25 ms window crosses the split (reflect padding) differ: 1 each side, plus
    the delta context (2 for Δ, 4 for Δ+ΔΔ) → ±3 (mel) and ±5 (mfcc) frames at 100 Hz.
    """
    b = cls()
    full = b.frame_features(clip)
    h1, h2 = b.frame_features(clip[:SPLIT]), b.frame_features(clip[SPLIT:])
    assert h1.shape[0] + h2.shape[0] - 1 == full.shape[0]  # both halves hold frame SEAM
    stitched = np.concatenate([h1, h2[1:]])
    err = np.abs(stitched - full).max(axis=1)
    far = np.abs(np.arange(full.shape[0]) - SEAM) > reach
    assert err[far].max() <= 1e-5 * np.ptp(full)
    assert err[~far].max() > 1e-3  # the seam frames really differ: the check can see them
    # Aligning the stitched features once gives the one-shot output except near the seam.
    t = alignment.frame_count(clip.size)
    one_shot = b.encode_batch([clip], [t])[0]
    aligned = alignment.interpolate_frames(stitched, t)
    far25 = np.abs(np.arange(t) - SPLIT // 640) > 3
    assert np.abs(aligned - one_shot)[far25].max() <= 1e-5 * np.ptp(one_shot)


@pytest.mark.parametrize("cls", BACKENDS)
def test_windows_with_spans_match_one_shot(
    clip: np.ndarray, cls: type[MelBackend | MfccBackend]
) -> None:
    """Two 15 s halves encoded to 25 fps and concatenated ≈ the 30 s one-shot encoding.

    Only with ``Span``s. ``interpolate_frames`` (align_corners) maps motion frame i of a
    T-frame clip to 100 Hz position i·(L-1)/(T-1) = i·4T/(T-1): the grid is stretched by
    T/(T-1). Aligned on their own, the halves (T=375) and the clip (T=750) disagree by up to
    375·3000/749 − 1500 ≈ 2.0 frames at 100 Hz = 20 ms = half a motion frame, at the seam
    (zero at both ends). On this clip that costs ~40 % of the mel feature range (~70 % on
    white noise; ~3 % for MFCC, whose range is dominated by c0): far from "small". With
    spans each half samples the whole clip's positions, and the halves match the one-shot
    output off the seam (measured: exactly for mel, 4e-8 of the range for MFCC; only the two
    frames next to the split differ).
    """
    b = cls()
    t = alignment.frame_count(clip.size)
    t1, t2 = alignment.frame_count(SPLIT), alignment.frame_count(clip.size - SPLIT)
    one_shot = b.encode_batch([clip], [t])[0]
    halves = [clip[:SPLIT], clip[SPLIT:]]
    spans = [alignment.Span(0, t, clip.size), alignment.Span(t1, t, clip.size)]
    windowed = np.concatenate(b.encode_batch(halves, [t1, t2], spans))
    naive = np.concatenate(b.encode_batch(halves, [t1, t2]))
    assert windowed.shape == naive.shape == one_shot.shape
    scale = np.ptp(one_shot)
    far = np.abs(np.arange(t) - t1) > 3
    assert np.abs(windowed - one_shot)[far].max() <= 1e-5 * scale
    assert np.abs(naive - one_shot)[far].max() > 0.02 * scale  # why spans exist
    # The grid drift itself, from the formula: ~2.0 feature frames next to the seam.
    glob = np.arange(t) * (3000 / (t - 1))
    own = np.concatenate([np.arange(t1) * (1500 / (t1 - 1)), 1500 + np.arange(t2) * (1500 / 374)])
    drift = np.abs(glob - own)
    assert drift[0] == 0 and drift[-1] < 1e-9 and 1.9 < drift.max() < 2.1
