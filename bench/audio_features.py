"""Speed of the weight-free audio backends (``mel``, ``mfcc``): real-time factor on CPU.

``python -m bench.audio_features [seconds] [repeat]`` prints JSON. The timed call is the whole
``encode_batch`` of one track (STFT, filterbank, log, [DCT], deltas, alignment to 25 fps);
``log_mel`` alone is timed too. Real-time factor = audio seconds / compute seconds (the
median over ``repeat`` runs, after one warm-up run). The goal is ≥ 500× on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import torch

from dyad.services.audio_encoder.alignment import SAMPLE_RATE, frame_count
from dyad.services.audio_encoder.features import MelBackend, MfccBackend, log_mel


def _median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm-up: caches, allocator, thread pool
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_weight_free(seconds: float = 60.0, repeat: int = 5) -> dict[str, Any]:
    """Median seconds and real-time factor of each backend on ``seconds`` of audio."""
    rng = np.random.default_rng(0)
    n = int(seconds * SAMPLE_RATE)
    wave = (0.1 * rng.standard_normal(n)).astype(np.float32)
    frames = frame_count(n)
    out: dict[str, Any] = {
        "audio_s": seconds,
        "repeat": repeat,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "machine": f"{platform.node()} {platform.machine()} {platform.system()}",
    }
    backends: list[MelBackend | MfccBackend] = [MelBackend(), MfccBackend()]
    for backend in backends:
        med = _median_s(partial(backend.encode_batch, [wave], [frames]), repeat)
        out[backend.name] = {"median_s": med, "rtf": seconds / med}
    med = _median_s(lambda: log_mel(wave), repeat)
    out["log_mel_only"] = {"median_s": med, "rtf": seconds / med}
    return out


if __name__ == "__main__":
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    print(json.dumps(bench_weight_free(secs, reps), indent=2))
