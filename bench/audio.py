"""Audio encoder speed: × real time (audio seconds / compute seconds), medians.

Measured through ``AudioEncoder.encode`` — the real path with windows, spans and batching:

- ``mel`` and ``mfcc`` on 60 s of audio (goal: ``mel`` ≥ 500× real time on 2 cores);
- ``wav2vec2`` at base size (94 M parameters, random weights — speed does not depend on the
  weights) on 60 s: one pass vs 20 s windows (the service default), in the same run;
- on CUDA as well when a GPU is present.

``python -m bench.audio`` writes ``bench/results/audio-<hostname>.json``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import numpy as np
import torch
from transformers import Wav2Vec2Model

from bench.common import median_s, write_result
from dyad.services.audio_encoder.core import AudioEncoder
from dyad.services.audio_encoder.features import weight_free_backend
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.audio_encoder.wav2vec2 import Wav2Vec2Backend, base_size_config
from dyad.timebase import SAMPLE_RATE as SR


def _wave(seconds: float) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(int(seconds * SR))).astype(np.float32)


def bench_weight_free(seconds: float = 60.0, repeat: int = 7) -> dict[str, Any]:
    wave = _wave(seconds)
    out = {}
    for name in ("mel", "mfcc"):
        enc = AudioEncoder(weight_free_backend(name), AudioEncoderSettings())
        med = median_s(lambda e=enc: e.encode([wave]), repeat)
        out[name] = {"median_s": med, "x_realtime": seconds / med}
    return out


def bench_wav2vec2(seconds: float = 60.0, repeat: int = 3, device: str = "cpu") -> dict[str, Any]:
    torch.manual_seed(0)
    model = Wav2Vec2Model(base_size_config()).to(device).eval()
    backend = Wav2Vec2Backend.from_model(model, "bench")
    wave = _wave(seconds)
    out: dict[str, Any] = {"params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1)}
    for label, window_s in (("one_pass", 1e6), ("windows_20s", 20.0)):
        settings = dataclasses.replace(AudioEncoderSettings(), window_s=window_s)
        enc = AudioEncoder(backend, settings)
        med = median_s(lambda e=enc: e.encode([wave]), repeat)
        out[label] = {"median_s": med, "x_realtime": seconds / med}
    out["windows_over_one_pass_time_ratio"] = (
        out["windows_20s"]["median_s"] / out["one_pass"]["median_s"]
    )
    return out


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    result: dict[str, Any] = {"audio_s": seconds, "weight_free_cpu": bench_weight_free(seconds)}
    result["wav2vec2_base_cpu"] = bench_wav2vec2(seconds)
    if torch.cuda.is_available():
        result["wav2vec2_base_cuda"] = bench_wav2vec2(seconds, repeat=10, device="cuda")
    path = write_result("audio", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
