"""Real-time factor of the wav2vec2 backend at base-model size (random weights, CPU).

Not a test: ``python -m bench.audio_wav2vec2`` prints the numbers as JSON. The model is
``base_size_config()`` (768-d, 12 layers, group-norm CNN, so the CNN runs per track), built in
memory with random weights; speed does not depend on the weights. Measured with
``torch.set_num_threads(2)``, median of ``repeat`` runs after one warm-up:

- ``one_shot``: the whole clip as one track (``T = 25·seconds`` frames, one attention span);
- ``windows_batched``: the clip cut into 20 s windows, encoded in one ``encode_batch`` call;
- ``windows_sequential``: the same windows, one call each;
- ``cnn_one_shot``: the CNN alone on the whole clip, to split CNN from transformer time.

RTF = wall time / audio duration (below 1 is faster than real time).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from transformers import Wav2Vec2Model

from dyad.services.audio_encoder import alignment
from dyad.services.audio_encoder.wav2vec2 import Wav2Vec2Backend, base_size_config, normalise

WINDOW_S = 20.0


def _median_s(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_wav2vec2(seconds: float = 60.0, repeat: int = 3, threads: int = 2) -> dict[str, Any]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        backend = Wav2Vec2Backend.from_model(Wav2Vec2Model(base_size_config()), "bench")
        rng = np.random.default_rng(0)
        wave = (0.1 * rng.standard_normal(round(seconds * alignment.SAMPLE_RATE))).astype(
            np.float32
        )
        step = round(WINDOW_S * alignment.SAMPLE_RATE)
        windows = [wave[i : i + step] for i in range(0, wave.size, step)]
        frames = [alignment.frame_count(w.size) for w in windows]
        backend.warm_up()

        def cnn_only() -> None:
            with torch.inference_mode():
                backend._cnn([normalise(wave)])

        runs: dict[str, Callable[[], Any]] = {
            "one_shot": lambda: backend.encode_batch([wave], [alignment.frame_count(wave.size)]),
            "windows_batched": lambda: backend.encode_batch(windows, frames),
            "windows_sequential": lambda: [
                backend.encode_batch([w], [t]) for w, t in zip(windows, frames, strict=True)
            ],
            "cnn_one_shot": cnn_only,
        }
        out: dict[str, Any] = {
            "audio_s": seconds,
            "window_s": WINDOW_S,
            "threads": threads,
            "repeat": repeat,
            "params_m": round(sum(p.numel() for p in backend.model.parameters()) / 1e6, 1),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
            "torch": torch.__version__,
        }
        for name, fn in runs.items():
            wall = _median_s(fn, repeat)
            out[name] = {"wall_s": round(wall, 3), "rtf": round(wall / seconds, 4)}
        return out
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    print(json.dumps(bench_wav2vec2(), indent=2))
