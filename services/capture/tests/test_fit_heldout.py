"""Held-out frames tracked photometrically before scoring (``fitting.heldout``).

A known avatar (unshaded, as fitted avatars are) is rendered under a known clip; the capture
folder handed to the fit carries that clip with the held-out frame's motion put wrong (the
jaw 0.35 more open, the head turned 3° and pitched 2°), as a tracker's error would. With the
avatar essentially fixed (one iteration), tracking the held-out frame must find the frame's
true motion back, and the score after tracking must beat the score before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dyad.motion_io import load_motion, save_motion
from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.capture.fitting.data import load_fit_data
from dyad.services.capture.fitting.heldout import TRACK_STEPS
from dyad.services.capture.fitting.photometric import FitParams
from dyad.services.capture.fitting.run import FitConfig, FitResult, fit_avatar
from dyad.services.capture.fitting.synth import orbit_cameras, render_capture, talking_motion
from dyad.services.renderer.avatars.avatar import create_avatar

SIZE, FRAMES = 64, 10  # the last frame is held out
JAW = ARKIT_BLENDSHAPES.index("jawOpen")
PITCH, YAW = 52, 53
WRONG = {JAW: 0.35, YAW: np.deg2rad(3.0), PITCH: np.deg2rad(2.0)}


@pytest.fixture(scope="module")
def truth_motion() -> np.ndarray:
    return talking_motion(FRAMES)


@pytest.fixture(scope="module")
def capture(truth_motion: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    known = create_avatar("a man in his 30s with short black hair", head="human")
    unshaded = FitParams.from_avatar(known, 1, 55, torch.device("cpu")).to_avatar(known)
    root = render_capture(
        tmp_path_factory.mktemp("truth"), unshaded, truth_motion, orbit_cameras(2, SIZE)
    )
    wrong = truth_motion.copy()
    for channel, error in WRONG.items():
        wrong[-1, channel] += error
    save_motion(root / "motion.npz", wrong, "arkit55")
    return root


def _fit(capture: Path, out: Path, steps: int) -> FitResult:
    known = create_avatar("a man in his 30s with short black hair", head="human")
    start = FitParams.from_avatar(known, 1, 55, torch.device("cpu")).to_avatar(known)
    cfg = FitConfig(iters=1, size=SIZE, validate_every=100, checkpoint_every=100, track_steps=steps)
    return fit_avatar(load_fit_data(capture, SIZE), start, cfg, out)


@pytest.fixture(scope="module")
def tracked(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> FitResult:
    return _fit(capture, tmp_path_factory.mktemp("fit") / "avatar", TRACK_STEPS)


def test_tracking_raises_the_held_out_score(tracked: FitResult) -> None:
    m = tracked.metrics
    assert m["held_out_tracking_steps"] == TRACK_STEPS
    # measured: 24.5 → 33.0 dB (the jaw and the turn put right)
    assert m["psnr"] > m["untracked"]["psnr"] + 4.0, m
    assert m["l1"] < m["untracked"]["l1"] and m["ssim"] > m["untracked"]["ssim"], m


def test_tracking_finds_the_true_motion(tracked: FitResult, truth_motion: np.ndarray) -> None:
    assert tracked.out is not None
    refined = load_motion(tracked.out / "refined_motion.npz").motion  # [T, 55]
    for channel, error in WRONG.items():
        before = abs(error)
        after = abs(float(refined[-1, channel] - truth_motion[-1, channel]))
        # measured: jaw 0.35 → 0.04, yaw 3.0° → 1.3°, pitch 2.0° → 0.5°
        assert after < 0.6 * before, (channel, before, after)


def test_no_tracking_scores_the_motion_as_given(capture: Path, tmp_path: Path) -> None:
    m = _fit(capture, tmp_path / "avatar", 0).metrics
    assert m["held_out_tracking_steps"] == 0
    assert m["psnr"] == m["untracked"]["psnr"]


def test_negative_steps_are_refused(
    capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dyad.cli import main

    out = tmp_path / "av"
    argv = ["avatar", "fit", "--frames", str(capture), "--out", str(out), "--track-steps", "-1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dyad: --track-steps") and "\n" not in err, err
    assert not out.exists()
