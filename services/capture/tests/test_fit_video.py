"""``dyad avatar fit --video``: tracking → geometry → photometry, end to end on a render.

A known human head (``test_tracking_render``'s clip and camera) is filmed into an H.264 file;
the command fits a fresh default avatar to it in a few iterations at 64 px. What is checked is
the wiring, not the quality (``bench.fit_video`` and ``bench.fit`` measure that): an ordinary
avatar directory comes out, its head carries the fitted identity shape, ``metrics.json`` holds
the issue's keys and the tracking figures, and a video without a face leaves nothing behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .test_tracking_render import known_clip, render


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dyad.media.video import write_mp4

    frames = render(known_clip(2.0))
    path = tmp_path_factory.mktemp("fitvideo") / "person.mp4"
    write_mp4(path, frames, 25, crf=18, preset="ultrafast")
    return path


def test_fit_video_writes_an_ordinary_fitted_avatar(clip_mp4: Path, tmp_path: Path, capsys):
    from dyad.cli import main
    from dyad.services.renderer.avatars.avatar import load_avatar

    out = tmp_path / "me"
    argv = ["avatar", "fit", "--video", str(clip_mp4), "--out", str(out)]
    assert main([*argv, "--iters", "6", "--size", "64"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["capture"]["frames"] == 50 and summary["capture"]["detected"] == 50
    assert summary["capture"]["reprojection_px"] < 6.0  # px at the tracked 256²
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"psnr", "ssim", "l1", "iters", "gaussians", "seconds", "device"} <= set(metrics)
    assert metrics["iters"] == 6 and metrics["device"] == "cpu"
    assert metrics["psnr"] > metrics["initial"]["psnr"]  # even six steps move towards her
    # scored after tracking the held-out frames' motion; the motion as tracked kept beside
    assert metrics["held_out_tracking_steps"] == 20
    assert metrics["psnr"] >= metrics["untracked"]["psnr"] - 0.5
    avatar = load_avatar(out)
    assert avatar.head_config["kind"] == "human" and avatar.head_config.get("shape_fit")
    assert avatar.num_gaussians == metrics["gaussians"] and not avatar.shading
    assert (out / "preview.png").stat().st_size > 0
    kept = sorted(p.name for p in (out / ".fit" / "capture" / "frames" / "cam00").iterdir())
    assert kept[0] == "000000.png" and kept[-1] == "000049.png" and len(kept) == 50
    # An ordinary avatar: it renders through the video path like any other.
    video = tmp_path / "me.mp4"
    motion = out / ".fit" / "capture" / "motion.npz"
    render = ["render", "--motion-a", str(motion), "--avatar-a", str(out), "--layout", "single"]
    assert main([*render, "--head-px", "64", "--out", str(video)]) == 0
    assert video.stat().st_size > 1000


def test_fit_video_without_a_face_leaves_nothing(tmp_path: Path, capsys) -> None:
    from dyad.cli import main
    from dyad.media.video import write_mp4

    grey = np.full((40, 96, 96, 3), 128, np.uint8)
    video = tmp_path / "wall.mp4"
    write_mp4(video, grey, 25, crf=18, preset="ultrafast")
    out = tmp_path / "nobody"
    assert main(["avatar", "fit", "--video", str(video), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no face" in err[0] and "--video" in err[0]
    assert not out.exists()


def test_fit_needs_a_video_or_frames_not_both(tmp_path: Path, capsys) -> None:
    from dyad.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["avatar", "fit", "--video", "a.mp4", "--frames", "d", "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
