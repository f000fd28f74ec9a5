"""Photometric avatar fitting (``dyad avatar fit``, RSATalker stage 2) on synthetic data.

A known human avatar (``TRUTH``, shaded as the renderer draws it) is rendered under a
talking clip by two cameras 30° apart (``capture.fitting.synth``); an avatar is then fitted
to the frames with the known motion and cameras, and the held-out frames (the last 10 %)
are scored. ``--start same`` starts from the truth's head geometry (what geometry fitting
gives a real capture) with its unlit albedo; ``--start default`` from another identity's
head (shape, hair and colours all wrong).

Also measured: ms per iteration (pose + bind + splat + loss + backward + Adam step) at 256²
and 512² with the human avatar on one core, which sets the CLI's defaults.

``python -m bench.fit [--seconds 4] [--size 256] [--iters 1000] [--start same]`` writes
``bench/results/fit-<start>-<hostname>.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from bench.common import write_result
from dyad.services.capture.fitting.data import load_fit_data
from dyad.services.capture.fitting.run import FitConfig, _Fitter, fit_avatar
from dyad.services.capture.fitting.synth import orbit_cameras, render_capture, talking_motion
from dyad.services.renderer.avatars.avatar import create_avatar

TRUTH = "a woman in her 40s with brown hair"
FPS = 25


def ms_per_iteration(root: Path, size: int, steps: int = 6) -> float:
    data = load_fit_data(root, size)
    fitter = _Fitter(data, create_avatar("", head="human"), FitConfig(size=size))
    fitter.step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        fitter.step()
    return 1000.0 * (time.perf_counter() - t0) / steps


def run(seconds: float, size: int, iters: int, start: str, timing: bool) -> dict[str, Any]:
    torch.set_num_threads(1)
    truth = create_avatar(TRUTH, head="human")
    frames = max(4, round(seconds * FPS))
    result: dict[str, Any] = {"truth": TRUTH, "start": start, "frames": frames, "cameras": 2}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "capture"
        t0 = time.perf_counter()
        render_capture(root, truth, talking_motion(frames), orbit_cameras(2, max(size, 512)))
        result["capture_s"] = round(time.perf_counter() - t0, 1)
        if timing:
            result["ms_per_iteration"] = {
                f"{s}": round(ms_per_iteration(root, s), 1) for s in (256, 512)
            }
            print(json.dumps(result["ms_per_iteration"]), flush=True)
        avatar = truth if start == "same" else create_avatar("", head="human")
        cfg = FitConfig(iters=iters, size=size, validate_every=max(1, iters // 10))

        def progress(it: int, _n: int, stats: dict[str, float]) -> None:
            if it % cfg.validate_every == 0:
                print(it, {k: round(v, 4) for k, v in stats.items()}, flush=True)

        fit = fit_avatar(
            load_fit_data(root, size), avatar, cfg, Path(tmp) / "avatar", progress=progress
        )
    result["fit"] = fit.metrics
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=4.0, help="clip length (s)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--start", choices=("same", "default"), default="same")
    p.add_argument("--no-timing", action="store_true")
    a = p.parse_args()
    result = run(a.seconds, a.size, a.iters, a.start, not a.no_timing)
    print(json.dumps(result, indent=2))
    print(write_result(f"fit-{a.start}", result))


if __name__ == "__main__":
    main()
