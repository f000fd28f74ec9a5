"""``WindowDataset``, the training loader of DualTalk-layout windows: on a tiny synthetic corpus
(``dyad dataset synth``) and on a clip laid out like DualTalk's public demo files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch

from dyad.dataset.reader import load_pair
from dyad.services.corpus.synth import build_corpus
from dyad.services.training.windows import WindowDataset


@pytest.fixture(scope="module")
def arkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two train clips (0 and 2: the splits put clip 1 in test), as the corpus tests build."""
    out = tmp_path_factory.mktemp("arkit")
    build_corpus(
        out,
        3,
        workers=2,
        rig="arkit55",
        seed=7,
        splits=(0.5, 0.25, 0.25),
        target_s=6.0,
        progress=False,
    )
    return out


def test_window_dataset(arkit: Path) -> None:
    ds = WindowDataset(arkit, "train", "arkit55", window_frames=40, hop=40, tail="pad")
    frames = [load_pair(p, "arkit55").frames for p in ds.pairs]
    assert len(ds) == sum(math.ceil(t / 40) for t in frames)
    item = ds[len(ds) - 1]  # a padded tail
    assert item["valid"] == frames[-1] - 40 * (math.ceil(frames[-1] / 40) - 1)
    assert item["motion_a"].shape == (40, 55) and item["audio_b"].shape == (40 * 640,)
    assert torch.all(item["motion_a"][item["valid"] :] == 0)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["audio_a"].shape == (3, 40 * 640) and batch["relation"].shape == (3, 2)
    assert len(ds._cache) <= ds.cache_clips


def test_public_dualtalk_layout(tmp_path: Path) -> None:
    """A clip laid out like DualTalk's demo files: 29.95 s of float audio with 750 frames
    (one more than ceil(samples / 640)) and the DECA/EMOCA keys; the reader's own checks of
    it are in ``services/corpus/tests/test_synth.py``."""
    rng = np.random.default_rng(0)
    (tmp_path / "test").mkdir()
    n = int(29.95 * 16000)
    for s in ("1", "2"):
        audio = (rng.standard_normal(n) * 0.1).astype(np.float32)
        sf.write(tmp_path / "test" / f"clip_speaker{s}.wav", audio, 16000, subtype="FLOAT")
        shapes = {
            "shape": (750, 100),
            "tex": (750, 50),
            "exp": (750, 50),
            "pose": (750, 6),
            "cam": (750, 3),
            "light": (750, 9, 3),
        }
        arrays: dict[str, Any] = {
            k: (rng.standard_normal(v) * 0.1).astype(np.float32) for k, v in shapes.items()
        }
        np.savez(tmp_path / "test" / f"clip_speaker{s}.npz", **arrays)
    assert len(WindowDataset(tmp_path, "test", "flame56")) == 4  # 0, 200, 400 + tail at 549
