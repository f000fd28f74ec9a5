"""AudioEncoder and FeatureService: alignment, windows, batching, cache, bad input."""

from __future__ import annotations

import dataclasses
import io
import itertools
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from dyad.errors import ConfigError, InvalidInput, NotFound
from dyad.media import resample, wav_bytes
from dyad.services.audio_encoder.alignment import frame_count, interpolate_frames
from dyad.services.audio_encoder.core import (
    AudioEncoder,
    FeatureService,
    load_backend,
    plan_windows,
    stitch,
)
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.audio_encoder.wav2vec2 import save_tiny_random_model
from dyad.storage import LocalStore

from .signals import SR, speechlike


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_random_model(tmp_path_factory.mktemp("w2v"), norm="layer")


def encoder(name: str, model_dir: Path | None = None, **kw: float) -> AudioEncoder:
    s = dataclasses.replace(AudioEncoderSettings(), model_dir=model_dir, **kw)
    return AudioEncoder(load_backend(name, s), s)


@pytest.mark.parametrize(
    ("samples", "frames"),
    [(1, 1), (640, 1), (641, 2), (16_000, 25), (479_200, 749), (480_000, 750), (16_001, 26)],
)
def test_frame_count_is_the_release_formula(samples: int, frames: int) -> None:
    assert frame_count(samples) == frames
    # Where float arithmetic is exact it agrees with the release's math.ceil(n / 16000 * 25).
    assert frame_count(samples) == int(np.ceil(samples / 16000 * 25))


@pytest.mark.parametrize("backend", ["mel", "mfcc"])
@pytest.mark.parametrize("seconds", [0.04, 1.0, 29.95, 3.333])
def test_output_frames_for_many_lengths(backend: str, seconds: float) -> None:
    enc = encoder(backend)
    wave = speechlike(seconds)
    (out,) = enc.encode([wave])
    assert out.shape == (frame_count(wave.size), enc.backend.dim) and out.dtype == np.float32


def test_wav2vec2_frames_and_dim(tiny_dir: Path) -> None:
    enc = encoder("wav2vec2", tiny_dir)
    outs = enc.encode([speechlike(0.04), speechlike(1.0), speechlike(2.5)])
    assert [o.shape for o in outs] == [(1, 32), (25, 32), (63, 32)]


@pytest.mark.parametrize(("length", "frames"), [(50, 25), (100, 749), (7, 1), (1, 5), (99, 100)])
def test_interpolation_matches_torch_align_corners(length: int, frames: int) -> None:
    x = np.random.default_rng(1).standard_normal((length, 6)).astype(np.float32)
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(x.T[None]), size=frames, mode="linear", align_corners=True
    )[0].T.numpy()
    np.testing.assert_allclose(interpolate_frames(x, frames), ref, atol=2e-6)


def test_plan_windows_cover_with_exact_overlap() -> None:
    for total in (1, 499, 500, 501, 950, 951, 2000, 7777):
        ranges = plan_windows(total, 500, 50)
        assert ranges[0][0] == 0 and ranges[-1][1] == total
        for (s0, e0), (s1, e1) in itertools.pairwise(ranges):
            assert e0 - s1 == 50 and e0 - s0 == 500 and e1 > s1
        assert ranges[-1][1] - ranges[-1][0] > (50 if len(ranges) > 1 else 0)


def test_stitch_weights_sum_to_one() -> None:
    ranges = plan_windows(1234, 500, 50)
    parts = [np.full((e - s, 3), 7.0, np.float32) for s, e in ranges]
    np.testing.assert_allclose(stitch(parts, ranges, 50), 7.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("backend", "median", "p99", "worst"),
    [("mel", 1e-6, 1e-4, 0.1), ("mfcc", 1e-6, 1e-4, 0.1), ("wav2vec2", 0.005, 0.05, 0.2)],
)
def test_windowed_matches_one_shot(
    backend: str, median: float, p99: float, worst: float, tiny_dir: Path
) -> None:
    """Seams of 10 s windows with 2 s overlap vs one pass over 45 s (measured: mel/mfcc exact
    but for ≤ 3 frames at the seams, max 0.03; tiny wav2vec2 median 0.0005, p99 0.015)."""
    wave = speechlike(45.0, seed=3)
    windowed = encoder(backend, tiny_dir, window_s=10.0, overlap_s=2.0).encode([wave])[0]
    one_shot = encoder(backend, tiny_dir, window_s=1000.0, overlap_s=2.0).encode([wave])[0]
    assert windowed.shape == one_shot.shape == (1125, windowed.shape[1])
    scale = float(one_shot.std())
    err = np.abs(windowed - one_shot) / scale  # error in units of the feature spread
    assert float(np.median(err)) < median, float(np.median(err))
    assert float(np.percentile(err, 99)) < p99, float(np.percentile(err, 99))
    assert float(err.max()) < worst, float(err.max())


@pytest.mark.parametrize("backend", ["mel", "mfcc", "wav2vec2"])
def test_batch_equals_one_by_one(backend: str, tiny_dir: Path) -> None:
    enc = encoder(backend, tiny_dir, window_s=4.0, overlap_s=1.0)  # some tracks get windowed
    waves = [speechlike(s, seed=i) for i, s in enumerate((0.5, 9.1, 2.0, 4.3))]
    batched = enc.encode(waves)
    for w, b in zip(waves, batched, strict=True):
        np.testing.assert_allclose(b, enc.encode([w])[0], atol=1e-4)


# --- bad input ------------------------------------------------------------------------


def _empty_wav() -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.zeros(0, np.float32), SR, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _nan_wav() -> bytes:
    x = speechlike(0.5)
    x[100] = np.nan
    buf = io.BytesIO()
    sf.write(buf, x, SR, format="WAV", subtype="FLOAT")
    return buf.getvalue()


BAD_FILES = {
    "empty": (_empty_wav, "no samples"),
    "nan": (_nan_wav, "NaN"),
    "garbage": (lambda: b"this is not audio at all" * 10, ""),
    "truncated-header": (lambda: wav_bytes(speechlike(0.5), SR)[:30], ""),
    "riff-lie": (lambda: b"RIFF" + struct.pack("<I", 999999) + b"WAVEfmt " + b"\0" * 8, ""),
}


@pytest.fixture
def service(tmp_path: Path) -> FeatureService:
    return FeatureService(LocalStore(tmp_path / "store"), AudioEncoderSettings(max_duration_s=3.0))


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_audio_files_name_the_field(service: FeatureService, case: str) -> None:
    make, needle = BAD_FILES[case]
    ref = service.store.put_bytes(make(), "audio/wav")
    good = service.store.put_bytes(wav_bytes(speechlike(0.5), SR), "audio/wav")
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([good, ref])
    assert e.value.field.startswith("tracks[1]"), e.value.field
    assert needle in str(e.value)


def test_too_long_is_rejected(service: FeatureService) -> None:
    ref = service.store.put_bytes(wav_bytes(speechlike(3.5), SR), "audio/wav")
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([ref])
    assert e.value.field == "tracks[0]" and "DYAD_AUDIO_MAX_DURATION_S" in str(e.value)


def test_wrong_or_missing_model_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_backend("wav2vec2", AudioEncoderSettings())
    assert e.value.setting == "DYAD_AUDIO_MODEL_DIR" and "not set" in str(e.value)
    with pytest.raises(ConfigError) as e:
        load_backend("wav2vec2", AudioEncoderSettings(model_dir=tmp_path / "nope"))
    assert e.value.setting == "DYAD_AUDIO_MODEL_DIR" and "nope" in str(e.value)
    with pytest.raises(InvalidInput) as e2:
        load_backend("hubert", AudioEncoderSettings())
    assert e2.value.field == "backend"


def test_bad_fps(service: FeatureService) -> None:
    ref = service.store.put_bytes(wav_bytes(speechlike(0.5), SR), "audio/wav")
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([ref], fps=30)
    assert e.value.field == "fps"


# --- cache ------------------------------------------------------------------------------


def test_cache_hit_on_repeat(service: FeatureService) -> None:
    # Any rate/width/channels in: 44.1 kHz stereo int16.
    stereo = np.stack([speechlike(2.0), speechlike(2.0, seed=9)], axis=1)
    audio = service.store.put_bytes(wav_bytes(resample(stereo, SR, 44_100), 44_100), "audio/wav")
    (first,) = service.encode_artifacts([audio])
    (again,) = service.encode_artifacts([audio])
    assert not first.cache_hit and again.cache_hit
    assert again.artifact == first.artifact and (first.num_frames, first.dim) == (50, 160)
    feats = np.load(io.BytesIO(service.store.get_bytes(first.artifact)))
    assert feats.shape == (50, 160) and feats.dtype == np.float32
    calls: list[int] = []
    enc = service.encoder("mel")
    orig = enc.encode

    def spy(waves: list[np.ndarray], **kw: Any) -> list[np.ndarray]:
        calls.append(len(waves))
        return orig(waves, **kw)

    enc.encode = spy
    service.encode_artifacts([audio])
    assert calls == [0], "a cache hit must not run the encoder"
    (mfcc,) = service.encode_artifacts([audio], backend="mfcc")
    (fps50,) = service.encode_artifacts([audio], fps=50)
    assert not mfcc.cache_hit and not fps50.cache_hit and fps50.num_frames == 100


def test_cache_hit_does_not_download_the_audio(service: FeatureService) -> None:
    audio = service.store.put_bytes(wav_bytes(speechlike(1.0), SR), "audio/wav")
    service.encode_artifacts([audio])
    fetched: list[str] = []
    orig = service.store.get_bytes

    def spy(ref: Any, **kw: Any) -> bytes:
        fetched.append(ref.uri if hasattr(ref, "uri") else ref)
        return orig(ref, **kw)

    service.store.get_bytes = spy
    (hit,) = service.encode_artifacts([audio])
    assert hit.cache_hit and audio.uri not in fetched
    gone = dataclasses.replace(audio, uri=service.store.uri("cas/sha256/aa/" + "a" * 64))
    with pytest.raises(NotFound):
        service.encode_artifacts([gone])
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([dataclasses.replace(audio, uri="s3://elsewhere/x.wav")])
    assert e.value.field == "tracks[0].artifact.uri"


def test_cache_is_keyed_by_the_stored_content_not_the_claim(service: FeatureService) -> None:
    """Track A's URI with track B's hash must not return B's cached features (the claim is
    checked against the store, and the cache key is the hash of what the store holds)."""
    a = service.store.put_bytes(wav_bytes(speechlike(1.0, seed=1), SR), "audio/wav")
    b = service.store.put_bytes(wav_bytes(speechlike(1.0, seed=2), SR), "audio/wav")
    (fb,) = service.encode_artifacts([b])
    lying = dataclasses.replace(a, sha256=b.sha256, size_bytes=b.size_bytes)
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([lying])
    assert e.value.field == "tracks[0].artifact.sha256"
    assert str(service.store.root_uri) not in str(e.value)
    # A named (not content-addressed) object is read and hashed: the claim cannot steer it.
    named = service.store.put_named("uploads/a.wav", service.store.get_bytes(a), "audio/wav")
    with pytest.raises(InvalidInput) as e:
        service.encode_artifacts([dataclasses.replace(named, sha256=b.sha256)])
    assert e.value.field == "tracks[0].artifact.sha256"
    (fa,) = service.encode_artifacts([dataclasses.replace(named, sha256="")])
    assert fa.artifact != fb.artifact and not fa.cache_hit
    (fa2,) = service.encode_artifacts([a])
    assert fa2.cache_hit and fa2.artifact == fa.artifact  # same bytes, same entry
