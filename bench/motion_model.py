"""Neural motion model speed: ``generate_pair`` on a 60 s conversation, × real time.

Both speakers of a 60 s conversation (``T = 1500`` frames, 160-d mel features, ``arkit55``)
through ``dyad.services.motion.neural.generate.generate_pair`` with its defaults (200-frame
windows, 50 frames overlap, both roles of up to 8 windows per pass), for the ``paper`` + ``social``
model at the default size (d = 256, D = 512), a small one (d = 128, D = 256) and the bundled
checkpoint (its own weights and config: d = 128, D = 192, variation latent). Random weights
elsewhere: speed does not depend on them. Medians of 3 after a warm-up; goal ≥ 50× real time
on CPU. On CUDA as well when a GPU is present.

``python -m bench.motion_model`` writes ``bench/results/motion_model-<hostname>.json``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import torch

from bench.common import median_s, write_result
from dyad.services.motion.neural.backend import BUNDLED
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel, load_pretrained

CONFIGS: dict[str, dict[str, Any]] = {
    "d256": {},
    "d128": {"feature_dim": 128, "lstm_hidden": 64},
    "bundled": {},  # the checkpoint's own config and weights
}


def _conversation(frames: int, cfg: MotionModelConfig) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((2, frames, cfg.audio_dim)).astype(np.float32)
    motion = rng.uniform(0.0, 0.3, (2, frames, cfg.motion_dim)).astype(np.float32)
    return [feats[0], feats[1], motion[0], motion[1]]


def bench_config(
    name: str, seconds: float, device: str, repeat: int = 3, threads: int | None = None
) -> dict[str, Any]:
    if name == "bundled":
        model = load_pretrained(BUNDLED, device=device)
        cfg = model.config
    else:
        cfg = MotionModelConfig(variant="paper", social=True, **CONFIGS[name])
        torch.manual_seed(0)
        model = DualTalkModel(cfg).to(device).eval()
    frames = round(seconds * cfg.fps)
    fa, fb, pa, pb = _conversation(frames, cfg)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        med = median_s(lambda: generate_pair(model, fa, fb, pa, pb, (False, True)), repeat)
    finally:
        torch.set_num_threads(before)
    return {
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "frames": frames,
        "threads": threads or before,
        "median_s": med,
        "x_realtime": seconds / med,
    }


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    result: dict[str, Any] = {"audio_s": seconds, "setup": "paper+social, arkit55, mel 160"}
    for name in CONFIGS:
        result[f"{name}_cpu"] = bench_config(name, seconds, "cpu")
        result[f"{name}_cpu_1thread"] = bench_config(name, seconds, "cpu", threads=1)
        if torch.cuda.is_available():
            result[f"{name}_cuda"] = bench_config(name, seconds, "cuda", repeat=10)
    path = write_result("motion_model", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
