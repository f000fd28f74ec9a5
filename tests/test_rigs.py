"""Rig definitions (DESIGN.md §2) and validation of [T, C] clips."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.rigs import ARKIT_BLENDSHAPES, RIGS, check_channels, get_rig, num_frames


def test_rig_sizes_and_layout() -> None:
    flame, arkit = get_rig("flame56"), get_rig("arkit55")
    assert flame.num_channels == 56 and arkit.num_channels == 55
    assert flame.groups == {"exp": slice(0, 50), "jaw": slice(50, 53), "neck": slice(53, 56)}
    assert len(ARKIT_BLENDSHAPES) == 52 and len(set(ARKIT_BLENDSHAPES)) == 52
    assert arkit.channels[:3] == ("eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft")
    assert arkit.channels[17] == "jawOpen" and arkit.channels[51] == "tongueOut"
    assert arkit.channels[-3:] == ("headPitch", "headYaw", "headRoll")
    assert all(n[0].islower() and " " not in n for n in arkit.channels)
    assert sorted(RIGS) == ["arkit55", "flame56"]


def test_validate_accepts_and_converts() -> None:
    rig = get_rig("arkit55")
    m = rig.neutral(10).astype(np.float64)
    m[:, rig.index("jawOpen")] = 0.7
    out = rig.validate(m)
    assert out.dtype == np.float32 and out.shape == (10, 55) and out.flags.c_contiguous
    assert out[0, 17] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("arr", "needle"),
    [
        (np.zeros((10,), np.float32), "expected [T, C]"),
        (np.zeros((10, 54), np.float32), "has 55 channels, array has 54"),
        (np.array([["a"] * 55]), "numeric"),
    ],
)
def test_validate_rejects_bad_shapes(arr: np.ndarray, needle: str) -> None:
    with pytest.raises(InvalidInput) as e:
        get_rig("arkit55").validate(arr, field_name="motion_a")
    assert e.value.field == "motion_a" and needle in str(e.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_rejects_non_finite(bad: float) -> None:
    m = get_rig("flame56").neutral(5)
    m[3, 51] = bad
    with pytest.raises(InvalidInput) as e:
        get_rig("flame56").validate(m)
    assert "frame 3, channel jawY" in str(e.value)


def test_validate_range() -> None:
    rig = get_rig("arkit55")
    m = rig.neutral(4)
    m[2, rig.index("eyeBlinkRight")] = 1.2
    with pytest.raises(InvalidInput) as e:
        rig.validate(m)
    assert "eyeBlinkRight=1.2 at frame 2" in str(e.value)
    assert rig.validate(m, check_range=False)[2, 7] == pytest.approx(1.2)
    assert rig.clip(m)[2, 7] == 1.0
    m[1, rig.index("headYaw")] = -2.0  # beyond ±π/2
    with pytest.raises(InvalidInput):
        rig.validate(rig.clip(m) - np.float32(0) + np.eye(4, 55, 52, dtype=np.float32) * -2)


def test_unknown_rig_and_channel() -> None:
    with pytest.raises(InvalidInput) as e:
        get_rig("mixamo")
    assert e.value.field == "rig" and "arkit55" in str(e.value)
    with pytest.raises(InvalidInput):
        get_rig("arkit55").index("jawopen")
    with pytest.raises(InvalidInput):
        check_channels(get_rig("arkit55"), list(reversed(get_rig("arkit55").channels)))
    check_channels(get_rig("flame56"), get_rig("flame56").channels)


def test_frame_count_convention() -> None:
    assert num_frames(1.0) == 25 and num_frames(0.04) == 1 and num_frames(1.001) == 26
    assert num_frames(0.0) == 0 and num_frames(2.2) == 55
