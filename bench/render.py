"""Gaussian-splatting renderer speed: frames per second at 512×512, medians.

Scene: a head-like ellipsoid shell (18 × 24 × 20 cm) of ~10k flat Gaussians with skin, hair,
eyes and lips, filling about 60% of the frame height; the camera orbits a little between
frames (yaw ±10°) so every frame re-projects and re-bins. (The lead will switch this to the
real default avatar.)

- ``cpu``: the numba tile kernel, median over N frames after a warm-up (compile) frame, with
  every core numba uses and again with one thread;
- ``reference``: the brute-force float64 renderer on ONE frame at 64×64, measured, plus that
  time extrapolated per pixel to 512×512 (labelled as an extrapolation);
- ``torch``: the differentiable path without grad, at 512×512 (and 128×128 with 2k Gaussians
  forward + backward, the avatar-fitting case);
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
from dyad.services.renderer.camera import Camera
from dyad.services.renderer.gaussians import GaussianScene
from dyad.services.renderer.rasterizer import cuda_available, render

SIZE = 512
HEAD_RADII = np.array([0.09, 0.12, 0.10])  # m: half width, half height, half depth


def _quat_z_to(normals: np.ndarray) -> np.ndarray:
    """``[N, 4]`` wxyz rotations taking +z to each unit normal (shortest arc)."""
    w = 1.0 + normals[:, 2]
    q = np.stack([w, -normals[:, 1], normals[:, 0], np.zeros_like(w)], axis=1)
    flip = w < 1e-6  # normal ≈ −z: rotate by π about x
    q[flip] = [0.0, 1.0, 0.0, 0.0]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def head_scene(n: int = 10_000, seed: int = 0) -> GaussianScene:
    """A head-like shell of ``n`` flat Gaussians centred at the origin, facing +z."""
    rng = np.random.default_rng(seed)
    i = np.arange(n) + 0.5  # Fibonacci sphere: even coverage
    phi = np.arccos(1.0 - 2.0 * i / n)
    theta = np.pi * (1.0 + 5**0.5) * i
    unit = np.stack([np.sin(phi) * np.cos(theta), np.cos(phi), np.sin(phi) * np.sin(theta)], 1)
    means = unit * HEAD_RADII
    normals = unit / HEAD_RADII**2
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    area = 4.0 * np.pi * float(np.mean(HEAD_RADII)) ** 2
    sigma = 0.6 * np.sqrt(area / n)  # overlapping splats: no holes
    scales = np.stack([np.full(n, sigma), np.full(n, sigma), np.full(n, 0.1 * sigma)], 1)
    scales *= rng.uniform(0.8, 1.25, (n, 1))
    colors = np.tile([0.86, 0.67, 0.55], (n, 1)) + rng.normal(0, 0.03, (n, 3))
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    hair = (y > 0.45) | ((z < -0.1) & (y > -0.3))
    colors[hair] = [0.25, 0.16, 0.10]
    for side in (-1.0, 1.0):  # eyes
        eye = (x - 0.35 * side) ** 2 + (y - 0.15) ** 2 < 0.012
        colors[eye & (z > 0)] = [0.1, 0.1, 0.12]
    lips = ((x / 0.3) ** 2 + ((y + 0.45) / 0.07) ** 2 < 1.0) & (z > 0)
    colors[lips] = [0.7, 0.25, 0.25]
    return GaussianScene(
        means=means,
        quats=_quat_z_to(normals),
        scales=scales,
        opacities=rng.uniform(0.85, 1.0, n),
        colors=np.clip(colors, 0.0, 1.0),
    )


def orbit_camera(frame: int, size: int = SIZE, distance: float = 0.75) -> Camera:
    """Looking at the head from the front, yaw swinging ±10° over 25 frames."""
    yaw = np.deg2rad(10.0) * np.sin(2.0 * np.pi * frame / 25.0)
    eye = (distance * np.sin(yaw), 0.02, distance * np.cos(yaw))
    return Camera.look_at(eye, (0.0, 0.0, 0.0), fov_y_deg=30.0, width=size, height=size)


def _frames(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    fn(0)  # warm-up: compile / load caches
    times = []
    for k in range(1, n + 1):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"frames": n, "median_s": med, "fps": 1.0 / med, "min_s": min(times)}


def bench_cpu(n_frames: int, scene: GaussianScene) -> dict[str, Any]:
    import numba

    out: dict[str, Any] = _frames(lambda k: render(scene, orbit_camera(k), backend="cpu"), n_frames)
    out["threads"] = numba.get_num_threads()
    first = render(scene, orbit_camera(0), backend="cpu")
    out["coverage"] = float(np.mean(first.alpha > 0.5))  # fraction of the frame covered
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = _frames(lambda k: render(scene, orbit_camera(k), backend="cpu"), n_frames)
    finally:
        numba.set_num_threads(threads)
    out["one_thread"] = one
    return out


def bench_reference(scene: GaussianScene, size: int = 64) -> dict[str, Any]:
    t0 = time.perf_counter()
    render(scene, orbit_camera(0, size=size), backend="reference")
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

    from dyad.services.renderer.raster_torch import render_torch

    torch.set_num_threads(1)
    out: dict[str, Any] = {
        "torch_threads": 1,
        "forward_512": _frames(lambda k: render(scene, orbit_camera(k), backend="torch"), n_frames),
    }
    small = head_scene(2_000, seed=1)
    cam = orbit_camera(0, size=128)
    params = {
        name: torch.tensor(getattr(small, name), requires_grad=True)
        for name in ("means", "quats", "scales", "opacities", "colors")
    }

    def step(_: int) -> None:
        rgb, _alpha, _depth = render_torch(**params, camera=cam, background=torch.ones(3))
        rgb.mean().backward()

    out["forward_backward_128_2k"] = _frames(step, n_frames)
    return out


def bench_gsplat(n_frames: int, scene: GaussianScene) -> dict[str, Any]:
    return _frames(lambda k: render(scene, orbit_camera(k), backend="gsplat"), n_frames)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every backend; ``quick`` uses fewer frames (for smoke runs)."""
    n_frames = 5 if quick else 30
    scene = head_scene()
    result: dict[str, Any] = {
        "size": [SIZE, SIZE],
        "n_gaussians": scene.n,
        "note": "2 shared CPU cores: other processes may slow these numbers down",
        "cpu": bench_cpu(n_frames, scene),
        "reference": bench_reference(scene, size=32 if quick else 64),
        "torch": bench_torch(2 if quick else 5, scene),
    }
    if cuda_available():
        result["gsplat"] = bench_gsplat(n_frames, scene)
    return result


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:])
    path = write_result("render", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
