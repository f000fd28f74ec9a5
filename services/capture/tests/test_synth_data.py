"""``dyad avatar synth-data``: a capture folder whose ground truth is known exactly."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dyad.cli import main
from dyad.media.image import read_png
from dyad.motion_io import load_motion
from dyad.rigs import get_rig
from dyad.services.capture.folder import CaptureFolder, open_capture
from dyad.services.capture.synthdata.generate import (
    BACKGROUND,
    TARGET,
    spec_camera,
    synth_capture,
)
from dyad.services.renderer.avatars.avatar import load_avatar
from dyad.services.renderer.raster import render_frame, render_frame_alpha
from dyad.services.renderer.raster.cpu import render_cpu
from dyad.services.renderer.raster.surface import solid_alpha
from dyad.services.renderer.video import parse_colour

ARKIT = get_rig("arkit55")
IDENTITY = "man, 40s, short brown hair"
FRAMES, SIZE, SEED = 100, 80, 3  # seed 3 blinks within 4 s


def grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> CaptureFolder:
    out = tmp_path_factory.mktemp("synth") / "cap"
    synth_capture(out, IDENTITY, FRAMES, cameras=3, size=SIZE, seed=SEED)
    return open_capture(out)


def test_folder_layout(capture: CaptureFolder) -> None:
    assert capture.num_frames == FRAMES and capture.fps == 25
    assert sorted(capture.cameras) == ["cam00", "cam01", "cam02"]
    assert capture.has_masks()
    root = capture.root
    for cam in capture.cameras:
        assert len(list((root / "frames" / cam).glob("*.png"))) == FRAMES
        assert len(list((root / "masks" / cam).glob("*.png"))) == FRAMES
    assert (root / "identity.txt").read_text().strip() == IDENTITY
    assert load_avatar(root / "avatar").rig == "arkit55"
    assert load_motion(capture.motion_path).motion.shape == (FRAMES, 55)
    assert [p.name for p in root.parent.iterdir()] == ["cap"], "no temporary left beside"
    frame = read_png(capture.frame_path("cam01", 7).read_bytes())
    assert frame.shape == (SIZE, SIZE, 3) and frame.dtype == np.uint8
    assert grey(capture.mask_path("cam01", 7)).shape == (SIZE, SIZE)


def test_frames_and_masks_rerender(capture: CaptureFolder) -> None:
    """The stored avatar, motion and camera re-render the stored frame; the mask is its alpha."""
    avatar = load_avatar(capture.root / "avatar")
    motion = load_motion(capture.motion_path).motion
    colour = parse_colour(BACKGROUND)
    for cam_name, t in (("cam00", 0), ("cam02", 61)):
        cam = spec_camera(capture.cameras[cam_name])
        scene = next(avatar.scenes(motion[t : t + 1], cull_from=cam.position))
        expected = render_frame(scene, cam, background=colour, backend="cpu")
        stored = read_png(capture.frame_path(cam_name, t).read_bytes())
        np.testing.assert_array_equal(stored, expected)
        _rgb, alpha, _ = render_cpu(scene.validate(), cam, np.zeros(3))
        mask = grey(capture.mask_path(cam_name, t))
        # the mask is the frame's coverage: the rendered α closed, cut to the mesh's outline
        cut = (np.rint(solid_alpha(alpha) * 255).astype(np.uint8) != mask).mean()
        assert 0.0 < cut < 0.1  # the fringe, a few per cent of a small frame
        _frame, final = render_frame_alpha(scene, cam, background=colour, backend="cpu")
        np.testing.assert_array_equal(mask, np.rint(final * 255).astype(np.uint8))
        # where the mask is empty the frame is the background; the person covers a bust's share
        bg = np.rint(np.asarray(colour) * 255).astype(np.uint8)
        assert (stored[mask == 0] == bg).all()
        assert (np.abs(stored[mask == 255].astype(int) - bg).sum(axis=1) > 0).mean() > 0.9
        assert 0.2 < (mask > 127).mean() < 0.8


def test_motion_talks_and_blinks(capture: CaptureFolder) -> None:
    m = load_motion(capture.motion_path).motion
    jaw = m[:, ARKIT.index("jawOpen")]
    assert jaw.max() > 0.3 and (jaw < 0.02).sum() > 5, "the mouth opens and closes"
    assert m[:, ARKIT.index("eyeBlinkLeft")].max() > 0.5, "a blink"
    head = m[:, [ARKIT.index(n) for n in ("headPitch", "headYaw", "headRoll")]]
    assert head.std(axis=0).sum() > 0.005
    # the frames follow: the open-jaw frame differs from the closed one around the mouth
    t_open, t_shut = int(jaw.argmax()), int(np.argmin(jaw))
    a = read_png(capture.frame_path("cam00", t_open).read_bytes()).astype(int)
    b = read_png(capture.frame_path("cam00", t_shut).read_bytes()).astype(int)
    assert np.abs(a - b).max() > 40


def test_cameras_differ(capture: CaptureFolder) -> None:
    cams = {n: spec_camera(s) for n, s in capture.cameras.items()}
    pos = {n: c.position - np.asarray(TARGET) for n, c in cams.items()}
    for p in pos.values():
        assert abs(np.linalg.norm(p) - 0.68) < 1e-6
    yaw = {n: np.degrees(np.arctan2(p[0], p[2])) for n, p in pos.items()}
    assert abs(yaw["cam00"]) < 1e-6 and yaw["cam01"] == pytest.approx(30.0)
    assert yaw["cam02"] == pytest.approx(-30.0)
    assert pos["cam01"][1] > 0 > pos["cam02"][1], "a little pitch variety"
    imgs = [read_png(capture.frame_path(n, 10).read_bytes()).astype(int) for n in cams]
    assert np.abs(imgs[0] - imgs[1]).mean() > 5 and np.abs(imgs[1] - imgs[2]).mean() > 5


def test_deterministic(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((first, 1), (second, 1), (other, 2)):
        synth_capture(out, IDENTITY, 6, cameras=2, size=64, seed=seed)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) > 24
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel
    assert (first / "motion.npz").read_bytes() != (other / "motion.npz").read_bytes()


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    def boom(done: int, _total: int) -> None:
        if done == 3:
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        synth_capture(tmp_path / "cap", IDENTITY, 4, cameras=1, size=64, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cap"
    for bad, flag in (
        (["--frames", "0"], "--frames"),
        (["--frames", "2", "--cameras", "0"], "--cameras"),
        (["--frames", "2", "--size", "16"], "--size"),
        (["--frames", "2", "--size", "4096"], "--size"),
    ):
        args = ["avatar", "synth-data", "--identity", "x", "--out", str(out), *bad]
        assert main(args) == 2
        assert capsys.readouterr().err.startswith(f"dyad: {flag}")
    assert not out.exists()
    args = ["avatar", "synth-data", "--identity", "x", "--frames", "2", "--size", "64"]
    assert main([*args, "--cameras", "1", "--out", str(out)]) == 0
    assert "2 frames × 1 cameras" in capsys.readouterr().out
    assert open_capture(out).num_frames == 2
    assert main([*args, "--out", str(out)]) == 2, "an existing folder is not overwritten"
    assert capsys.readouterr().err.startswith("dyad: --out")
