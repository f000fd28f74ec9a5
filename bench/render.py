"""Gaussian-avatar rendering speed at 512×512 per head, medians, one run.

Scene: the default avatar (the built-in procedural head, one Gaussian per triangle: 10 920
Gaussians) seen by speaker A's camera (a three-quarter view), its head turning and its jaw
moving between frames, so every frame re-poses, re-binds, re-projects and re-bins.

- ``cpu``: the numba tile kernel alone (rasterise only), median over N frames after a warm-up
  (compile) frame, with every core numba uses and again with one thread;
- ``head_frame``: the whole per-head video path (pose → bind → shade → rasterise → uint8);
- ``conversation``: ``RendererCore.render_conversation`` on a 10 s two-head clip writing all
  three videos (composite 1024×512 + two single heads, H.264 + AAC): wall seconds per second
  of conversation;
- ``reference``: the brute-force float64 renderer on ONE frame at 64×64 (same camera, same
  avatar), measured, plus that time extrapolated per pixel to 512×512 (labelled as such);
- ``torch``: the differentiable path without grad at 512×512, and forward + backward at
  128×128 with 2k Gaussians (the avatar-fitting case);
- ``gsplat``: on CUDA when present.

``python -m bench.render [--quick]`` writes ``bench/results/render-<hostname>.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import write_result
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.raster import cuda_available, render
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.scene import GaussianScene
from dyad.services.renderer.raster.torch_autograd import render_torch
from dyad.services.renderer.settings import RendererSettings
from dyad.services.renderer.video import HeadTrack, head_camera, head_frames

SIZE = 512
N_POSES = 25


def avatar_and_motion(frames: int = N_POSES) -> tuple[Any, np.ndarray]:
    """The default avatar and a ``[frames, 55]`` clip: jaw opening and the head turning."""
    rig = get_rig("arkit55")
    t = np.arange(frames) / 25.0
    m = np.zeros((frames, len(rig.channels)), np.float32)
    m[:, rig.channels.index("jawOpen")] = 0.4 + 0.4 * np.sin(2 * np.pi * 3 * t)
    m[:, rig.channels.index("headYaw")] = 0.25 * np.sin(2 * np.pi * 0.5 * t)
    m[:, rig.channels.index("headPitch")] = 0.1 * np.sin(2 * np.pi * 0.7 * t)
    return create_avatar(""), m


def avatar_scenes(frames: int = N_POSES, *, cull: bool = True) -> list[GaussianScene]:
    """One scene per pose; ``cull``: without the Gaussians facing away from A's camera, as the
    video path renders them (``GaussianAvatar.scenes(cull_from=…)``)."""
    avatar, motion = avatar_and_motion(frames)
    return list(avatar.scenes(motion, cull_from=head_camera_px().position if cull else None))


def head_camera_px(size: int = SIZE) -> Camera:
    return head_camera("a", size)


def _frames(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    fn(0)  # warm-up: compile / load caches
    times = []
    for k in range(1, n + 1):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"frames": n, "median_s": med, "fps": 1.0 / med, "min_s": min(times)}


def bench_cpu(n_frames: int, scenes: list[GaussianScene]) -> dict[str, Any]:
    import numba

    cam = head_camera_px()

    def frame(k: int) -> Any:
        return render(scenes[k % len(scenes)], cam, backend="cpu")

    out: dict[str, Any] = _frames(frame, n_frames)
    out["threads"] = numba.get_num_threads()
    out["coverage"] = float(np.mean(frame(0).alpha > 0.5))  # fraction of the frame covered
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        out["one_thread"] = _frames(frame, n_frames)
    finally:
        numba.set_num_threads(threads)
    return out


def bench_head_frame(n_frames: int) -> dict[str, Any]:
    """Pose → bind → shade → rasterise → uint8, per frame (the video path for one head)."""
    avatar, motion = avatar_and_motion(n_frames + 1)
    frames = head_frames(
        HeadTrack(avatar, motion, head_camera_px()), background=(0.91, 0.93, 0.95), backend="cpu"
    )
    return _frames(lambda _k: next(frames), n_frames)


def bench_conversation(seconds: float) -> dict[str, Any]:
    """Both heads, three videos (composite + singles) with audio, through RendererCore."""
    import tempfile
    from pathlib import Path

    frames = int(seconds * 25)
    _avatar, motion = avatar_and_motion(frames)
    n = frames * 16000 // 25
    t = np.arange(n) / 16000.0
    track_a = (0.2 * np.sin(2 * np.pi * 220 * t) * (t < seconds / 2)).astype(np.float32)
    track_b = (0.2 * np.sin(2 * np.pi * 330 * t) * (t >= seconds / 2)).astype(np.float32)
    core = RendererCore(None, RendererSettings(backend="cpu"))
    core.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        core.render_conversation(
            motion,
            motion[::-1].copy(),
            "arkit55",
            Path(tmp),
            track_a=track_a,
            track_b=track_b,
            identities={"a": "", "b": "woman, red hair"},
        )
        wall = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "head_px": SIZE,
        "outputs": 3,
        "wall_s": wall,
        "wall_per_conversation_second": wall / seconds,
        "real_time_factor": seconds / wall,
    }


def bench_reference(scene: GaussianScene, size: int = 64) -> dict[str, Any]:
    t0 = time.perf_counter()
    render(scene, head_camera_px(size), backend="reference")
    measured = time.perf_counter() - t0
    per_pixel = measured / (size * size)
    return {
        "measured_size": size,
        "measured_s_one_frame": measured,
        "extrapolated_s_per_frame_at_512": per_pixel * SIZE * SIZE,
        "note": (
            "extrapolated = measured time per pixel × 512², not measured at 512; the "
            "per-Gaussian overhead of the small frame makes it an over-estimate"
        ),
    }


def bench_torch(n_frames: int, scene: GaussianScene) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    out: dict[str, Any] = {
        "torch_threads": 1,
        "forward_512": _frames(
            lambda k: render(scene, head_camera_px(), backend="torch"), n_frames
        ),
    }
    small = scene.subset(np.arange(0, scene.n, max(1, scene.n // 2000)))
    cam = head_camera_px(128)
    params = {
        name: torch.tensor(getattr(small, name), requires_grad=True)
        for name in ("means", "quats", "scales", "opacities", "colors")
    }

    def step(_: int) -> None:
        rgb, _alpha, _depth = render_torch(**params, camera=cam, background=torch.ones(3))
        rgb.mean().backward()

    out["forward_backward_128_2k"] = _frames(step, n_frames)
    return out


def bench_gsplat(n_frames: int, scenes: list[GaussianScene]) -> dict[str, Any]:
    cam = head_camera_px()
    return _frames(lambda k: render(scenes[k % len(scenes)], cam, backend="gsplat"), n_frames)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every backend; ``quick`` uses fewer frames (for smoke runs)."""
    n_frames = 5 if quick else 50
    scenes = avatar_scenes()
    full = avatar_scenes(cull=False)
    cpu = bench_cpu(n_frames, scenes)
    reference = bench_reference(scenes[0], size=32 if quick else 64)
    result: dict[str, Any] = {
        "size": [SIZE, SIZE],
        "n_gaussians": full[0].n,
        "n_gaussians_after_backface_culling": scenes[0].n,
        "cpu_without_culling": _frames(
            lambda k: render(full[k % len(full)], head_camera_px(), backend="cpu"), n_frames
        ),
        "note": "2 CPU cores; other processes may slow these numbers down",
        "cpu": cpu,
        "head_frame": bench_head_frame(n_frames),
        "conversation": bench_conversation(2.0 if quick else 10.0),
        "reference": reference,
        "cpu_speedup_over_reference_extrapolated": (
            reference["extrapolated_s_per_frame_at_512"] / cpu["median_s"]
        ),
        "torch": bench_torch(2 if quick else 5, scenes[0]),
    }
    if cuda_available():
        result["gsplat"] = bench_gsplat(n_frames, scenes)
    return result


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:])
    path = write_result("render", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
