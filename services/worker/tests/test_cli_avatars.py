"""``dyad generate|animate --avatar-a/--avatar-b DIR``: a local avatar directory (``dyad avatar
create`` or ``fit``) renders that speaker; a directory that is not an avatar, or one posed by
another rig, is refused before any stage runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dyad.media import wav_bytes

SR = 16000


@pytest.fixture(scope="module")
def tracks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """1.6 s: A speaks, then B (tones, so nothing is synthesised)."""
    root = tmp_path_factory.mktemp("audio")
    t = np.arange(int(1.6 * SR)) / SR
    paths = []
    for name, hz, on in (("a", 180, t < 0.8), ("b", 120, t >= 0.8)):
        path = root / f"{name}.wav"
        path.write_bytes(wav_bytes((0.3 * np.sin(2 * np.pi * hz * t) * on).astype(np.float32), SR))
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def avatar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dyad.services.renderer.avatars.avatar import create_avatar

    out = tmp_path_factory.mktemp("avatar") / "ana"
    create_avatar("an older woman with white hair and a red jumper", head="human").save(out)
    return out


def _animate(tracks: tuple[Path, Path], out: Path, *extra: str) -> int:
    from dyad.cli import main

    argv = ["animate", "--audio", str(tracks[0]), "--audio-b", str(tracks[1])]
    small = ["--head-px", "64", "--no-refine", "--no-per-speaker-videos"]
    return main([*argv, *small, "--store", f"file://{out.parent}/store", "--out", str(out), *extra])


def read_video_frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_a_local_avatar_renders_its_speaker(tracks, avatar_dir: Path, tmp_path: Path) -> None:
    assert _animate(tracks, tmp_path / "plain") == 0
    assert _animate(tracks, tmp_path / "ana", "--avatar-a", str(avatar_dir)) == 0
    (plain_mp4,) = (tmp_path / "plain").glob("*/conversation.mp4")
    (ana_mp4,) = (tmp_path / "ana").glob("*/conversation.mp4")
    plain, ana = read_video_frames(plain_mp4), read_video_frames(ana_mp4)
    assert plain.shape == ana.shape
    half = plain.shape[2] // 2  # side by side: A on the left, B on the right
    left = np.abs(plain[:, :, :half].astype(int) - ana[:, :, :half]).mean()
    right = np.abs(plain[:, :, half:].astype(int) - ana[:, :, half:]).mean()
    assert left > 10.0  # A is another person (measured 30 at 64 px)
    assert right < 2.5  # B is the same (codec noise across the frame only: measured 1.2)


def test_not_an_avatar_or_another_rig_is_refused_up_front(
    tracks, avatar_dir: Path, tmp_path: Path, capsys
) -> None:
    assert _animate(tracks, tmp_path / "x", "--avatar-b", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--avatar-b" in err[0] and "is not an avatar" in err[0]
    assert _animate(tracks, tmp_path / "y", "--avatar-a", str(avatar_dir), "--rig", "flame56") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--avatar-a: the avatar is posed by arkit55, the motion is --rig flame56" in err[0]
    assert not (tmp_path / "store").exists()  # refused before anything was stored
