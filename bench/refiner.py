"""Refiner speed: seconds of refinement per second of conversation, for 10 and 50 steps.

The whole pipeline (SFBG → RFBG → TCR, ``refine_conversation``) on a synthetic 60 s
conversation (alternating 4 s turns with 0.3 s pauses, smooth ``arkit55`` motion, 160-d
features for both speakers) with the bundled checkpoint, DDIM, the default strength 0.5 and
75 frames of context. CPU with 2 threads and 1 thread; CUDA too when a GPU is present. Medians
after a warm-up. Goal: 10-step refinement faster than real time on 2 CPU cores.

``python -m bench.refiner`` writes ``bench/results/refiner-<hostname>.json``; ``run(quick=True)``
(20 s, one repeat, fewer cases) is for a smoke check.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import torch

from bench.common import median_s, write_result
from dyad.domain import Emotion, Identity, Relation, Segment, Timeline
from dyad.services.refiner.core import BUNDLED, RefineOptions, refine_conversation
from dyad.services.refiner.denoiser import load_pretrained


def conversation(seconds: float) -> dict[str, Any]:
    """Timeline, both speakers' motion ``[T, 55]`` and features ``[T, 160]``."""
    frames = round(seconds * 25)
    segs, t, spk, k = [], 0.2, "a", 0
    while t + 1.0 < seconds:
        end = min(t + 4.0, seconds - 0.1)
        segs.append(Segment(spk, "sentence", "words", t, end, Emotion("neutral", 0.3), k))
        t, spk, k = end + 0.3, "b" if spk == "a" else "a", k + 1
    tl = Timeline(
        16_000, seconds, {"a": Identity("A"), "b": Identity("B")}, Relation(), "studio", tuple(segs)
    )
    rng = np.random.default_rng(0)
    time = np.arange(frames)[:, None] / 25.0

    def motion() -> np.ndarray:
        f, p = rng.uniform(0.1, 1.0, (1, 55)), rng.uniform(0, 6.3, (1, 55))
        x = 0.3 + 0.2 * np.sin(2 * np.pi * f * time + p)
        x[:, -3:] -= 0.3
        return x.astype(np.float32)

    feats = rng.standard_normal((2, frames, 160)).astype(np.float32)
    return {"a": motion(), "b": motion(), "timeline": tl, "fa": feats[0], "fb": feats[1]}


def bench_case(
    model: Any, conv: dict[str, Any], steps: int, threads: int | None, repeat: int
) -> dict[str, Any]:
    opts = RefineOptions(steps=steps)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        med = median_s(
            lambda: refine_conversation(
                model,
                conv["a"],
                conv["b"],
                conv["timeline"],
                rig="arkit55",
                features_a=conv["fa"],
                features_b=conv["fb"],
                options=opts,
            ),
            repeat,
        )
    finally:
        torch.set_num_threads(before)
    seconds = conv["timeline"].duration_s
    return {
        "steps": steps,
        "threads": threads or before,
        "median_s": med,
        "s_per_conversation_s": med / seconds,
        "x_realtime": seconds / med,
    }


def run(quick: bool = False) -> dict[str, Any]:
    seconds = 20.0 if quick else 60.0
    repeat = 1 if quick else 3
    conv = conversation(seconds)
    result: dict[str, Any] = {
        "conversation_s": seconds,
        "checkpoint": BUNDLED.name,
        "setup": "sfbg+rfbg+tcr, ddim, strength 0.5, context 75",
    }
    model = load_pretrained(BUNDLED)
    for steps in (10, 50):
        for threads in (2,) if quick else (2, 1):
            result[f"cpu_{threads}t_{steps}steps"] = bench_case(model, conv, steps, threads, repeat)
    if torch.cuda.is_available():
        gpu = load_pretrained(BUNDLED, device="cuda")
        for steps in (10, 50):
            result[f"cuda_{steps}steps"] = bench_case(gpu, conv, steps, None, repeat)
    ten = result["cpu_2t_10steps"]["x_realtime"]
    result["goal_10steps_faster_than_realtime_2_cores"] = bool(ten > 1.0)
    return result


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:])
    path = write_result("refiner", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
