"""``WindowDataset``, the training loader of DualTalk-layout windows: on a tiny synthetic corpus
(``dyad dataset synth``) and on a clip laid out like DualTalk's public demo files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from dyad.dataset.reader import load_pair
from dyad.services.corpus.synth import build_corpus
from dyad.services.training.windows import WindowDataset
from dyad.testing.data import dualtalk_demo_clip


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
    """DualTalk's demo layout (``dyad.testing.data.dualtalk_demo_clip``): 749 aligned frames
    give windows at 0, 200, 400 and a tail window ending at the last frame."""
    dualtalk_demo_clip(tmp_path)
    assert len(WindowDataset(tmp_path, "test", "flame56")) == 4
