"""Media I/O: audio formats → 16 kHz mono float32, resampling, atomic writes, MP4 encode/probe."""

from __future__ import annotations

import io
import os
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.media import (
    load_audio,
    probe_video,
    read_wav,
    resample,
    to_mono,
    wav_bytes,
    write_mp4,
    write_wav,
)
from dyad.media.probe import MediaLimits


def sine(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine ``[N]``, N = rate · seconds."""
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    """Frequency of the largest FFT bin of ``[N]``, refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum))
    a, b, c = spectrum[k - 1], spectrum[k], spectrum[k + 1]
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / len(x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def files_in(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# --- audio ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_wav_round_trip_to_16k_mono(tmp_path: Path, rate: int, subtype: str, channels: int):
    tone = sine(440, rate, 1.0)  # [N]
    data = np.stack([tone] * channels, axis=1)  # [N, C]
    path = tmp_path / "in.wav"
    write_wav(path, data, rate, subtype=subtype)  # type: ignore[arg-type]
    assert sf.info(str(path)).subtype == subtype and sf.info(str(path)).samplerate == rate

    raw, raw_rate = read_wav(path)
    assert raw.dtype == np.float32 and raw.shape == (rate, channels) and raw_rate == rate

    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - 16000) <= 1
    assert np.abs(audio).max() <= 1.0
    assert abs(peak_hz(audio, 16000) - 440) < 2
    # Skip the filter's edge transients; 8-bit quantisation noise is ~0.4% of this sine's RMS.
    tolerance = 0.10 if subtype == "PCM_U8" else 0.05
    assert rms(audio[200:-200]) == pytest.approx(0.5 / np.sqrt(2), rel=tolerance)


def test_reads_flac_and_ogg_bytes():
    tone = sine(440, 48000, 0.5)
    for fmt in ("FLAC", "OGG"):
        buf = io.BytesIO()
        sf.write(buf, tone, 48000, format=fmt)
        audio = load_audio(buf.getvalue())
        assert len(audio) == 8000, fmt
        assert abs(peak_hz(audio, 16000) - 440) < 2, fmt


def test_stereo_to_mono_averages_channels(tmp_path: Path):
    left = sine(440, 16000, 0.5, amplitude=0.8)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # [N, 2]: L = sine, R = silence
    np.testing.assert_allclose(to_mono(stereo), 0.5 * left, atol=1e-7)

    write_wav(tmp_path / "lr.wav", stereo, 16000)
    mono = load_audio(tmp_path / "lr.wav")
    assert np.abs(mono).max() == pytest.approx(0.4, abs=1e-3)
    keep = load_audio(tmp_path / "lr.wav", mono=False)
    assert keep.shape == (8000, 2)
    np.testing.assert_allclose(keep[:, 0], left, atol=1e-6)


@pytest.mark.parametrize(
    ("n", "src", "dst"),
    [
        (16000, 16000, 48000),
        (22050, 22050, 16000),
        (44101, 44100, 16000),
        (1, 8000, 16000),
        (7, 48000, 16000),
        (12345, 16000, 16000),
        (1000, 16000, 44100),
    ],
)
def test_resample_exact_length(n: int, src: int, dst: int):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, size=(n, 2)).astype(np.float32)
    expected = (n * dst + src // 2) // src
    out = resample(x, src, dst)
    assert out.shape == (expected, 2) and out.dtype == np.float32
    assert resample(x[:, 0], src, dst).shape == (expected,)


def test_resample_round_trip_is_near_identity():
    rate = 16000
    t = np.arange(rate) / rate
    # Band-limited: components well below the 8 kHz Nyquist of the 16 kHz signal.
    parts = [np.sin(2 * np.pi * f * t + f) for f in (220, 1000, 3100, 5200)]
    x = (np.sum(parts, axis=0) / 4).astype(np.float32)
    up = resample(x, rate, 48000)
    assert len(up) == 3 * rate
    back = resample(up, 48000, rate)
    assert len(back) == rate
    core = slice(200, -200)  # the FIR filter's edges see zero padding
    noise = back[core] - x[core]
    snr_db = 10 * np.log10(np.sum(x[core] ** 2) / np.sum(noise**2))
    assert snr_db > 40


def test_wav_bytes_round_trip_clips_to_full_scale():
    x = np.array([0.0, 0.5, -0.5, 2.0, -2.0], dtype=np.float32)
    any_length = MediaLimits(min_audio_s=0.0)  # five samples: shorter than the default minimum
    data, rate = read_wav(wav_bytes(x, 22050), limits=any_length)
    assert rate == 22050
    np.testing.assert_allclose(data[:, 0], [0.0, 0.5, -0.5, 1.0, -1.0], atol=1e-4)
    # FLOAT keeps the overshoot on disk; reading clips it back to full scale.
    data, _ = read_wav(wav_bytes(x, 22050, subtype="FLOAT"), limits=any_length)
    np.testing.assert_array_equal(data[:, 0], [0.0, 0.5, -0.5, 1.0, -1.0])


@pytest.mark.parametrize(
    "payload",
    [b"", np.random.default_rng(1).bytes(4096), b"RIFF\x00\x00\x00\x00WAVEfmt "],
    ids=["empty", "random", "truncated-header"],
)
def test_read_rejects_bad_bytes(payload: bytes):
    with pytest.raises(InvalidInput) as err:
        read_wav(payload)
    assert err.value.field == "audio"
    with pytest.raises(InvalidInput):
        load_audio(payload)


def test_read_rejects_missing_file_and_wrong_type(tmp_path: Path):
    with pytest.raises(InvalidInput, match="no such file") as err:
        read_wav(tmp_path / "nope.wav")
    assert err.value.field == "audio"
    with pytest.raises(InvalidInput) as err:
        read_wav(123)  # type: ignore[arg-type]
    assert err.value.field == "audio"


@pytest.mark.parametrize(
    ("x", "rate", "field"),
    [
        (np.array([0.1, np.nan], dtype=np.float32), 16000, "x"),
        (np.array([0.1, np.inf], dtype=np.float32), 16000, "x"),
        (np.zeros(0, dtype=np.float32), 16000, "x"),
        (np.zeros((4, 2, 1), dtype=np.float32), 16000, "x"),
        (np.zeros(4, dtype=np.int16), 16000, "x"),
        (np.zeros(4, dtype=np.float32), 0, "rate"),
        (np.zeros(4, dtype=np.float32), -8000, "rate"),
    ],
    ids=["nan", "inf", "empty", "rank3", "int16", "rate0", "rate-negative"],
)
def test_write_wav_rejects_bad_input_and_leaves_nothing(
    tmp_path: Path, x: np.ndarray, rate: int, field: str
):
    with pytest.raises(InvalidInput) as err:
        write_wav(tmp_path / "out.wav", x, rate)
    assert err.value.field == field
    assert files_in(tmp_path) == []
    with pytest.raises(InvalidInput):
        wav_bytes(x, rate)


def test_resample_rejects_bad_rates():
    x = np.zeros(10, dtype=np.float32)
    for src, dst, field in [(0, 16000, "src_rate"), (16000, -1, "dst_rate")]:
        with pytest.raises(InvalidInput) as err:
            resample(x, src, dst)
        assert err.value.field == field


def test_write_wav_is_atomic_when_encoding_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "take.wav"
    write_wav(target, sine(440, 16000, 0.1), 16000)
    before = target.read_bytes()

    real_write = sf.write

    def write_half_then_fail(file, data, *args, **kwargs):  # a full disk, mid-write
        real_write(file, data[: len(data) // 2], *args, **kwargs)
        raise OSError("No space left on device")

    monkeypatch.setattr(sf, "write", write_half_then_fail)
    with pytest.raises(OSError, match="No space"):
        write_wav(target, sine(220, 16000, 1.0), 16000)
    assert target.read_bytes() == before  # the old file is untouched, not half-replaced
    assert files_in(tmp_path) == ["take.wav"]  # and no temp file is left behind

    with pytest.raises(OSError):
        write_wav(tmp_path / "new.wav", sine(220, 16000, 1.0), 16000)
    assert files_in(tmp_path) == ["take.wav"]


# --- video ---------------------------------------------------------------------------------


def gradient_frames(t: int, height: int, width: int) -> list[np.ndarray]:
    """``t`` RGB frames ``[H, W, 3]``: a horizontal ramp that slides right, a vertical ramp."""
    xs = np.linspace(0, 255, width)[None, :]
    ys = np.linspace(0, 255, height)[:, None]
    frames = []
    for i in range(t):
        r = np.broadcast_to((xs + 5 * i) % 256, (height, width))
        g = np.broadcast_to(ys, (height, width))
        b = np.full((height, width), 40 + 2 * i)
        frames.append(np.stack([r, g, b], axis=-1).astype(np.uint8))
    return frames


def test_write_mp4_with_mono_audio(tmp_path: Path):
    frames = gradient_frames(50, 48, 64)
    path = tmp_path / "clip.mp4"
    write_mp4(path, frames, fps=25, audio=sine(440, 16000, 2.0), audio_rate=16000)
    assert files_in(tmp_path) == ["clip.mp4"]

    info = probe_video(path)
    assert info["video"] == {
        "codec": "h264",
        "width": 64,
        "height": 48,
        "fps": 25.0,
        "num_frames": 50,
        "pix_fmt": "yuv420p",
        "duration_s": 2.0,
    }
    audio = info["audio"]
    assert audio is not None and audio.pop("duration_s") == pytest.approx(2.0, abs=0.07)
    assert audio == {"codec": "aac", "sample_rate": 16000, "channels": 1}
    assert info["duration_s"] == pytest.approx(2.0, abs=0.1)

    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 50 and decoded[0].shape == (48, 64, 3)
    for i in (0, 49):  # H.264 is lossy: compare mean colour per channel, not pixels
        np.testing.assert_allclose(
            decoded[i].mean(axis=(0, 1)), frames[i].mean(axis=(0, 1)), atol=10
        )


def test_write_mp4_silent_and_stereo(tmp_path: Path):
    frames = np.stack(gradient_frames(10, 32, 32))  # [T, H, W, 3] in one array
    write_mp4(tmp_path / "silent.mp4", frames)
    silent = probe_video(tmp_path / "silent.mp4")
    assert silent["audio"] is None
    assert silent["video"] is not None and silent["video"]["num_frames"] == 10

    tone = sine(440, 16000, 1.0)
    stereo = np.stack([tone, -tone], axis=1)  # [N, 2]
    write_mp4(tmp_path / "stereo.mp4", iter(list(frames)), audio=stereo)  # a one-shot iterator
    info = probe_video(tmp_path / "stereo.mp4")
    assert info["audio"] is not None and info["video"] is not None
    assert info["audio"].pop("duration_s") == pytest.approx(1.0, abs=0.07)
    assert info["video"]["duration_s"] == pytest.approx(0.4)
    assert info["audio"] == {"codec": "aac", "sample_rate": 16000, "channels": 2}
    # 0.4 s of video and 1 s of audio: allowed, and the file lasts as long as the longer one.
    assert info["duration_s"] == pytest.approx(1.0, abs=0.1)


def test_write_mp4_audio_survives_decoding(tmp_path: Path):
    path = tmp_path / "a.mp4"
    write_mp4(path, gradient_frames(25, 16, 16), audio=sine(440, 16000, 1.0))
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(audio=0)]  # each [C, n] fltp
    audio = np.concatenate(chunks, axis=1)[0]
    assert abs(len(audio) - 16000) <= 2048  # AAC works in 1024-sample frames
    assert abs(peak_hz(audio, 16000) - 440) < 2


def _frames_with(bad: np.ndarray, at: int) -> list[np.ndarray]:
    """40 good frames with ``bad`` at index ``at``. Late enough that x264's lookahead has already
    emitted packets, so without the temp file a partial MP4 would be on disk when it fails."""
    frames = gradient_frames(40, 16, 16)
    frames[at] = bad
    return frames


@pytest.mark.parametrize(
    "frames",
    [
        [],
        np.zeros((0, 16, 16, 3), dtype=np.uint8),
        [np.zeros((16, 15, 3), dtype=np.uint8)],  # odd width
        [np.zeros((15, 16, 3), dtype=np.uint8)],  # odd height
        [np.zeros((16, 16, 3), dtype=np.float32)],
        [np.zeros((16, 16), dtype=np.uint8)],
        [np.zeros((16, 16, 4), dtype=np.uint8)],
        np.zeros((16, 16, 3), dtype=np.uint8),  # one frame where a sequence is expected
        _frames_with(np.zeros((32, 32, 3), dtype=np.uint8), at=39),  # size changes mid-stream
        _frames_with(np.zeros((16, 16, 3), dtype=np.float64), at=30),
        [None],
    ],
    ids=[
        "empty-list",
        "empty-array",
        "odd-width",
        "odd-height",
        "float",
        "gray",
        "rgba",
        "single-frame",
        "size-change",
        "float-mid-stream",
        "none",
    ],
)
def test_write_mp4_rejects_bad_frames_and_leaves_nothing(tmp_path: Path, frames: object):
    with pytest.raises(InvalidInput) as err:
        write_mp4(tmp_path / "bad.mp4", frames)  # type: ignore[arg-type]
    assert err.value.field == "frames"
    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fps": 0}, "fps"),
        ({"fps": -25}, "fps"),
        ({"fps": float("nan")}, "fps"),
        ({"audio": np.array([0.0, np.nan], dtype=np.float32)}, "audio"),
        ({"audio": np.zeros((100, 3), dtype=np.float32)}, "audio"),
        ({"audio": np.zeros(100, dtype=np.float32), "audio_rate": 0}, "audio_rate"),
        ({"crf": 60}, "crf"),
        ({"preset": "warp"}, "preset"),
    ],
)
def test_write_mp4_rejects_bad_arguments(tmp_path: Path, kwargs: dict, field: str):
    with pytest.raises(InvalidInput) as err:
        write_mp4(tmp_path / "bad.mp4", gradient_frames(2, 16, 16), **kwargs)
    assert err.value.field == field
    assert files_in(tmp_path) == []


def test_probe_rejects_missing_and_non_media_files(tmp_path: Path):
    with pytest.raises(InvalidInput) as err:
        probe_video(tmp_path / "missing.mp4")
    assert err.value.field == "path"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(InvalidInput) as err:
        probe_video(junk)
    assert err.value.field == "path"


def test_probe_without_ffprobe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no ffprobe on it
    with pytest.raises(FailedPrecondition, match="ffprobe not found"):
        probe_video(tmp_path / "any.mp4")
