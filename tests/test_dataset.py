"""Reading DualTalk-layout corpora (``dyad.dataset.reader``) as the public dataset lays them
out; our own writer's round trip is tested with the synthetic corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dyad.dataset.reader import load_pair, scan
from dyad.errors import InvalidInput
from dyad.testing.data import dualtalk_demo_clip


def test_public_dualtalk_layout(tmp_path: Path) -> None:
    """A clip laid out like DualTalk's demo files: 29.95 s of float audio with 750 frames
    (one more than ceil(samples / 640)) and the DECA/EMOCA keys."""
    dualtalk_demo_clip(tmp_path)
    (pair,) = scan(tmp_path, "test")
    assert pair.relation is None
    data = load_pair(pair, "flame56")
    assert data.frames == 749 and data.audio_a.size == 749 * 640
    with np.load(pair.npz_a) as z:
        want = np.concatenate([z["exp"], z["pose"][:, 3:6], z["pose"][:, 0:3]], axis=1)[:749]
    assert np.array_equal(data.motion_a, want)
    with pytest.raises(InvalidInput, match="arkit55"):
        load_pair(pair, "arkit55")
    np.savez(pair.npz_b, exp=np.zeros((700, 50), np.float32), pose=np.zeros((700, 6), np.float32))
    with pytest.raises(InvalidInput, match="700 motion frames"):
        load_pair(pair, "flame56")
