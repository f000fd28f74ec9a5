"""``WindowDataset``: a torch ``Dataset`` of DualTalk-layout windows for training (the reading
and windowing rules are ``dyad.dataset.reader``'s)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from dyad.dataset.reader import (
    PairData,
    _aligned_frames,
    _npz_frames,
    _samples,
    _window,
    load_pair,
    scan,
    window_starts,
)
from dyad.errors import InvalidInput
from dyad.rigs import get_rig


class WindowDataset(Dataset[dict[str, Any]]):
    """Windows of every pair in ``root/split`` for training. The index holds (clip, start)
    pairs computed from file headers; clips are loaded on demand and the last ``cache_clips``
    kept (LRU), so iterate clip by clip (the default order) rather than fully shuffled when
    clips are large. Items: ``audio_a``/``audio_b`` [w·640], ``motion_a``/``motion_b`` [w, C]
    float32 tensors, ``valid`` (frames), ``relation`` [blood, equal] (−1 when unknown)."""

    def __init__(
        self,
        root: str | Path,
        split: str,
        rig: str,
        window_frames: int = 200,
        hop: int | None = None,
        *,
        tail: str = "shift",
        cache_clips: int = 4,
    ) -> None:
        self.rig, self.window, self.cache_clips = get_rig(rig).name, window_frames, cache_clips
        self.pairs = scan(root, split)
        self.index: list[tuple[int, int, int]] = []  # (pair, start, valid)
        self.frames: list[int] = []
        for k, p in enumerate(self.pairs):
            t = _aligned_frames(
                p.clip,
                (_npz_frames(p.npz_a, rig), _npz_frames(p.npz_b, rig)),
                (_samples(p.wav_a), _samples(p.wav_b)),
            )
            self.frames.append(t)
            self.index += [(k, s, v) for s, v in window_starts(t, window_frames, hop, tail)]
        self._cache: OrderedDict[int, PairData] = OrderedDict()

    def __len__(self) -> int:
        return len(self.index)

    def _load(self, k: int) -> PairData:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        data = load_pair(self.pairs[k], self.rig)
        if data.frames != self.frames[k]:
            raise InvalidInput(self.pairs[k].clip, "changed on disk since the index was built")
        self._cache[k] = data
        while len(self._cache) > self.cache_clips:
            self._cache.popitem(last=False)
        return data

    def __getitem__(self, i: int) -> dict[str, Any]:
        k, start, valid = self.index[i]
        w = _window(self._load(k), start, valid, self.window)
        rel = w.relation
        return {
            "clip": w.clip,
            "start": start,
            "valid": valid,
            "audio_a": torch.from_numpy(w.audio_a),
            "audio_b": torch.from_numpy(w.audio_b),
            "motion_a": torch.from_numpy(w.motion_a),
            "motion_b": torch.from_numpy(w.motion_b),
            "relation": torch.tensor(
                [rel.blood, rel.equal] if rel else [-1, -1], dtype=torch.float32
            ),
        }
