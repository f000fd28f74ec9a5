"""Motion files: round trip, validation, atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.motion_io import load_motion, motion_bytes, save_motion
from dyad.rigs import get_rig


def test_round_trip(tmp_path: Path) -> None:
    rig = get_rig("arkit55")
    m = rig.neutral(30)
    m[:, rig.index("jawOpen")] = np.linspace(0, 1, 30)
    path = save_motion(tmp_path / "a.npz", m, "arkit55")
    clip = load_motion(path)
    assert clip.rig.name == "arkit55" and clip.fps == 25 and clip.num_frames == 30
    np.testing.assert_array_equal(clip.motion, m)
    with np.load(path) as z:
        assert list(z["channels"]) == list(rig.channels) and str(z["rig"]) == "arkit55"
    assert load_motion(path.read_bytes()).num_frames == 30


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as e:
        load_motion(b"not a zip", field="motion_a")
    assert e.value.field == "motion_a"
    buf = io.BytesIO()
    np.savez(
        buf,
        motion=np.zeros((3, 55), np.float32),
        rig=np.array("arkit55"),
        channels=np.array(["x"] * 55),
        fps=np.array(25),
    )
    with pytest.raises(InvalidInput) as e:
        load_motion(buf.getvalue())
    assert e.value.field == "motion.channels"
    bad = get_rig("flame56").neutral(4)
    bad[1, 2] = np.nan
    with pytest.raises(InvalidInput):
        motion_bytes(bad, "flame56")
    with pytest.raises(InvalidInput):
        save_motion(tmp_path / "x.npz", bad, "flame56")
    assert list(tmp_path.iterdir()) == []


def test_saved_files_are_readable_by_others(tmp_path: Path) -> None:
    path = save_motion(tmp_path / "m.npz", get_rig("arkit55").neutral(2), "arkit55")
    assert path.stat().st_mode & 0o777 == 0o644
