"""``dyad dataset from-video``: tracked people → DualTalk's layout, read back by the library.

The main case is a video built from renders: two known avatars side by side, each driven by
the procedural animator on its own half of a synthetic conversation, with the mono mix as the
sound track. The tracked corpus must follow the driving motions and give each speaker their
own speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from dyad.cli import main
from dyad.dataset.reader import iter_windows, load_pair, scan
from dyad.domain import Relation
from dyad.rigs import get_rig
from dyad.services.corpus.from_video import corpus_from_video, split_by_mouth, windows
from dyad.timebase import SAMPLES_PER_FRAME

ARKIT = get_rig("arkit55")
JAW = ARKIT.index("jawOpen")
REAL = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real" / "video"
REAL_A = REAL / "WDA_AlexandriaOcasioCortez_000.mp4"
REAL_B = REAL / "WolfgangLanger_Pexels.mp4"


@dataclass(frozen=True)
class TwoFaces:
    path: Path
    motion_a: np.ndarray  # [T, 55] driving motion of the left face
    motion_b: np.ndarray  # [T, 55] right face
    track_a: np.ndarray  # [N] A's speech alone (the video carries A + B)
    track_b: np.ndarray


def two_face_video(path: Path, seconds: float = 6.0, size: int = 256, seed: int = 5) -> TwoFaces:
    """Render two avatars side by side (A left, B right) under procedural motion of a
    synthetic conversation, with the mono mix as audio, to an MP4 at ``path``."""
    from dyad.media.video import write_mp4
    from dyad.services.capture.synthdata.speech import conversation
    from dyad.services.motion.procedural.animator import ProceduralAnimator
    from dyad.services.renderer.avatars.avatar import create_avatar
    from dyad.services.renderer.raster import render_frame
    from dyad.services.renderer.video import head_camera

    conv = conversation(int(seconds * 25) * SAMPLES_PER_FRAME, seed)
    motion_a, motion_b = ProceduralAnimator().animate(
        conv.track_a, conv.track_b, conv.timeline, seed=seed
    )
    camera = head_camera("front", size)
    grey = (0.55, 0.57, 0.6)
    heads = [
        [
            render_frame(s, camera, background=grey, backend="cpu")
            for s in create_avatar(who, head="human", seed=k).scenes(m, cull_from=camera.position)
        ]
        for k, (who, m) in enumerate(
            (("woman, 40s, brown hair in a bun", motion_a), ("man, 50s, grey hair", motion_b))
        )
    ]
    frames = np.stack([np.concatenate(pair, axis=1) for pair in zip(*heads, strict=True)])
    write_mp4(path, frames, 25, audio=conv.track_a + conv.track_b, crf=16)
    return TwoFaces(path, motion_a, motion_b, conv.track_a, conv.track_b)


def test_windows_exclude_undetected() -> None:
    detected = np.ones(130, bool)
    detected[40:45] = False  # a 5-frame drop-out
    detected[120:] = False
    assert windows(detected, 30, 10) == [(0, 30), (30, 40), (45, 75), (75, 105), (105, 120)]
    assert windows(detected, 30, 12) == [(0, 30), (45, 75), (75, 105), (105, 120)]


def test_split_by_mouth_follows_the_moving_mouth() -> None:
    t = 100
    rng = np.random.default_rng(0)
    talking = np.zeros((t, 55), np.float32)
    talking[:, JAW] = 0.3 + 0.3 * np.sin(np.arange(t) * 1.7)
    still = np.zeros((t, 55), np.float32)
    mix = rng.standard_normal(t * SAMPLES_PER_FRAME).astype(np.float32)
    a_first = np.concatenate([talking[:50], still[50:]])
    b_last = np.concatenate([still[:50], talking[50:]])
    track_a, track_b, w_a = split_by_mouth(mix, a_first, b_last)
    np.testing.assert_allclose(track_a + track_b, mix, atol=1e-6)
    assert w_a[:40].min() > 0.95 and w_a[60:].max() < 0.05
    half = 50 * SAMPLES_PER_FRAME
    assert np.abs(track_a[:half]).mean() > 10 * np.abs(track_a[half + 5000 :]).mean()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> TwoFaces:
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    return two_face_video(tmp_path_factory.mktemp("two") / "two.mp4")


def test_two_faces_one_video(rendered: TwoFaces, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    report = corpus_from_video(
        out, video=rendered.path, window_s=2.0, min_window_s=1.0, relation=Relation(True, False)
    )
    assert report.audio == "split-by-mouth" and report.clips >= 3
    assert report.frames_kept >= 0.9 * rendered.motion_a.shape[0]
    pairs = scan(out, "train")
    assert all(p.relation == Relation(True, False) for p in pairs), "read from metadata.jsonl"
    assert [p.clip for p in pairs] == [f"real_{i:06d}" for i in range(report.clips)]
    assert len((out / "metadata.jsonl").read_text().splitlines()) == report.clips
    tracked_a, tracked_b, driven_a, driven_b, speech_a, speech_b = [], [], [], [], [], []
    for pair, line in zip(pairs, (out / "metadata.jsonl").read_text().splitlines(), strict=True):
        data = load_pair(pair, "arkit55")
        assert data.audio_a.size == data.frames * SAMPLES_PER_FRAME
        assert len(list(iter_windows(data, 25))) >= 1
        start = int(__import__("json").loads(line)["source_start_frame"])
        span = slice(start, start + data.frames)
        tracked_a.append(data.motion_a[:, JAW])
        tracked_b.append(data.motion_b[:, JAW])
        driven_a.append(rendered.motion_a[span, JAW])
        driven_b.append(rendered.motion_b[span, JAW])
        samples = slice(start * SAMPLES_PER_FRAME, (start + data.frames) * SAMPLES_PER_FRAME)
        speech_a.append((data.audio_a, rendered.track_a[samples], rendered.track_b[samples]))
        speech_b.append((data.audio_b, rendered.track_b[samples], rendered.track_a[samples]))
    for tracked, driven in ((tracked_a, driven_a), (tracked_b, driven_b)):
        r = np.corrcoef(np.concatenate(tracked), np.concatenate(driven))[0, 1]
        assert r >= 0.8, r
    # each speaker's track carries their own speech far more than the partner's
    for parts in (speech_a, speech_b):
        got = np.concatenate([p[0] for p in parts])
        own = np.concatenate([p[1] for p in parts])
        other = np.concatenate([p[2] for p in parts])
        own_share = float(np.dot(got, own) / np.dot(own, own))
        other_share = float(np.dot(got, other) / np.dot(other, other))
        assert own_share > 0.6 and other_share < 0.3, (own_share, other_share)


def test_cli_checks_before_tracking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "corpus"
    missing = tmp_path / "nope.mp4"
    video = tmp_path / "empty.mp4"  # a file: the argument checks pass it on, no tracking runs
    video.write_bytes(b"")
    for args, flag in (
        (["--video", str(missing)], "--video"),
        (["--video-a", str(missing)], "--video"),
        (["--video", str(missing), "--video-a", str(missing)], "--video"),
        (["--video-a", str(missing), "--video-b", str(missing)], "--video-a"),
        (["--video", str(video), "--seconds", "0.5"], "--seconds"),
        (["--video", str(video), "--split", "dev"], "--split"),
        (["--video", str(video), "--relation", "2,1"], "--relation"),
    ):
        assert main(["dataset", "from-video", *args, "--out", str(out)]) == 2
        assert capsys.readouterr().err.startswith(f"dyad: {flag}")
    assert not out.exists()


@pytest.mark.skipif(not (REAL_A.is_file() and REAL_B.is_file()), reason=f"no real videos in {REAL}")
def test_real_videos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "real"
    args = ["dataset", "from-video", "--video-a", str(REAL_A), "--video-b", str(REAL_B)]
    assert main([*args, "--out", str(out), "--seconds", "8", "--max-side", "480"]) == 0
    assert "clips" in capsys.readouterr().out
    pairs = scan(out, "train")
    assert pairs[0].relation is None, "no --relation: unknown"
    assert len(pairs) == 1, "8 s of the talking video (trimmed to the shorter) → one 8 s clip"
    data = load_pair(pairs[0], "arkit55")
    assert data.frames == 200
    # A talks to camera; B (Wolfgang Langer's clip) acts emotions in silence (PROVENANCE.md)
    assert data.motion_a[:, JAW].std() > 0.02, "a real talking mouth moves"
    assert np.abs(data.audio_a).max() > 0.05 and np.abs(data.audio_b).max() < 1e-3
    smiles = [ARKIT.index(n) for n in ("mouthSmileLeft", "mouthSmileRight")]
    assert data.motion_b[:, smiles].std() > 0.02, "her expressions change"
    for motion in (data.motion_a, data.motion_b):
        assert np.abs(motion[:, ARKIT.index("headYaw")]).max() < 1.0
