"""Gaussian-avatar rendering speed at 512×512 per head, medians, one run, per head model.

Two heads, measured side by side in the same run — taking turns frame by frame, and
conversation by conversation — so their ratio holds whatever else the machine is doing (its
load average is recorded before and after); every timing has its wall time and the CPU time
the work took (the thread's for ``alone``, the process's otherwise), which other processes on
the cores disturb far less. The heads: the built-in ``procedural``
head and the ``human`` head (the default, ``DYAD_RENDER_HEAD``), both for an identity with
hair, beard and glasses (``bench.silhouette.WHO``; the human head adds clothing). Each is seen
by speaker A's camera (a three-quarter view), its head turning and its jaw moving between
frames, so every frame re-poses, re-binds, re-projects and re-bins. Per head:

- ``gaussians``: in the avatar, and drawn after back-face culling;
- ``rasterise``: the numba tile kernel alone, median over N frames after a warm-up (compile)
  frame — ``parallel`` (every numba thread, one frame at a time) and ``alone`` (the calling
  thread only, as each head's thread draws in a two-head conversation on ≤ 2 cores);
- ``head_frame``: the whole per-head video path (pose → bind → shade → cull → rasterise →
  uint8), ``parallel`` and ``alone``; ``head_frame_numpy_shade_cull`` the same with the
  numpy shade and cull (the reference of the compiled pass, issue 17 §5), taking turns;
- ``conversation``: ``render_videos`` on a 10 s two-head clip with audio, the composite
  1024×512 and, ``with_singles``, the two single-head videos (H.264 + AAC): wall seconds per
  second of conversation (≤ 1 is real time; and CPU seconds per second, the encoders
  included: ≤ 2 is what 2 cores give), heads drawn in their own threads (``overlap``)
  and, for the reference, one after the other (``serial``).

``avatar_creation_s``: ``create_avatar`` per head with the compiled surfel fit and with its
numpy reference, taking turns.

For the procedural head also, as before: ``reference`` (the brute-force float64 renderer on
ONE frame at 64×64, and that time extrapolated per pixel to 512×512, labelled as such),
``torch`` (the differentiable path without grad at 512, forward + backward at 128 with 2k
Gaussians) and ``gsplat`` on CUDA when present.

``python -m bench.render [--quick]`` prints a table and writes
``bench/results/render-<hostname>.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import write_result
from bench.silhouette import WHO
from dyad.rigs import get_rig
from dyad.services.renderer.avatars import avatar as avatar_module
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.raster import cuda_available, render, render_frame
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.raster.cpu import render_cpu
from dyad.services.renderer.raster.scene import GaussianScene
from dyad.services.renderer.raster.torch_autograd import render_torch
from dyad.services.renderer.video import HeadTrack, VideoOutput, head_camera, render_videos

SIZE = 512
N_POSES = 25
HEADS = ("procedural", "human")
BACKGROUND = (0.91, 0.93, 0.95)


def motion(frames: int = N_POSES) -> np.ndarray:
    """A ``[frames, 55]`` arkit55 clip: the jaw opening and the head turning."""
    rig = get_rig("arkit55")
    t = np.arange(frames) / 25.0
    m = np.zeros((frames, len(rig.channels)), np.float32)
    m[:, rig.channels.index("jawOpen")] = 0.4 + 0.4 * np.sin(2 * np.pi * 3 * t)
    m[:, rig.channels.index("headYaw")] = 0.25 * np.sin(2 * np.pi * 0.5 * t)
    m[:, rig.channels.index("headPitch")] = 0.1 * np.sin(2 * np.pi * 0.7 * t)
    return m


def head_camera_px(size: int = SIZE) -> Camera:
    return head_camera("a", size)


def scenes(avatar: GaussianAvatar, frames: int = N_POSES, *, cull: bool = True) -> list[Any]:
    """One scene per pose; ``cull``: without the Gaussians facing away from A's camera, as the
    video path draws them (``GaussianAvatar.scenes(cull_from=…)``)."""
    cull_from = head_camera_px().position if cull else None
    return list(avatar.scenes(motion(frames), cull_from=cull_from))


def _frames(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    fn(0)  # warm-up: compile / load caches
    times = []
    for k in range(1, n + 1):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"frames": n, "median_s": med, "fps": 1.0 / med, "min_s": min(times)}


def _side_by_side(
    fns: dict[str, Callable[[int], Any]], n: int, cpu_clock: Callable[[], float]
) -> dict[str, dict[str, float]]:
    """Each head's ``fn(k)`` for k = 1…n, the heads taking turns frame by frame (so both see
    the same load), after a warm-up call each: medians of wall time and of ``cpu_clock``
    (the CPU time the work itself took, which other processes on the cores disturb far less)."""
    for fn in fns.values():
        fn(0)
    wall: dict[str, list[float]] = {h: [] for h in fns}
    cpu: dict[str, list[float]] = {h: [] for h in fns}
    for k in range(1, n + 1):
        for h, fn in fns.items():
            t0, c0 = time.perf_counter(), cpu_clock()
            fn(k)
            cpu[h].append(cpu_clock() - c0)
            wall[h].append(time.perf_counter() - t0)
    out = {}
    for h in fns:
        w, c = statistics.median(wall[h]), statistics.median(cpu[h])
        out[h] = {"frames": n, "median_s": w, "fps": 1 / w, "cpu_median_s": c, "cpu_fps": 1 / c}
    return out


def bench_rasterise(
    n_frames: int, drawn: dict[str, list[GaussianScene]]
) -> dict[str, dict[str, Any]]:
    """The rasteriser alone per head: on every numba thread, and on the calling one."""
    cam = head_camera_px()
    bg = np.asarray(BACKGROUND)

    def frame(h: str, parallel: bool) -> Callable[[int], Any]:
        return lambda k: render_cpu(drawn[h][k % len(drawn[h])], cam, bg, parallel=parallel)

    out: dict[str, dict[str, Any]] = {h: {} for h in drawn}
    for mode, parallel, clock in (
        ("parallel", True, time.process_time),
        ("alone", False, time.thread_time),
    ):
        for h, r in _side_by_side({h: frame(h, parallel) for h in drawn}, n_frames, clock).items():
            out[h][mode] = r
    return out


def bench_head_frame(
    n_frames: int, avatars: dict[str, GaussianAvatar]
) -> dict[str, dict[str, Any]]:
    """Pose → bind → shade → cull → rasterise → uint8, per frame (one head's video path);
    per head also ``numpy_shade_cull``: the same with the numpy shade and cull
    (``scenes(compiled=False)``, the reference of the compiled pass), taking turns with it."""
    cam = head_camera_px()

    def frames(avatar: GaussianAvatar, parallel: bool, compiled: bool) -> Callable[[int], Any]:
        it = avatar.scenes(motion(n_frames + 1), cull_from=cam.position, compiled=compiled)
        return lambda _k: render_frame(
            next(it), cam, background=BACKGROUND, backend="cpu", parallel=parallel
        )

    out: dict[str, dict[str, Any]] = {h: {"numpy_shade_cull": {}} for h in avatars}
    for mode, parallel, clock in (
        ("parallel", True, time.process_time),
        ("alone", False, time.thread_time),
    ):
        fns = {h: frames(av, parallel, True) for h, av in avatars.items()}
        fns.update({f"{h}/numpy": frames(av, parallel, False) for h, av in avatars.items()})
        for h, r in _side_by_side(fns, n_frames, clock).items():
            if h.endswith("/numpy"):
                out[h.split("/")[0]]["numpy_shade_cull"][mode] = r
            else:
                out[h][mode] = r
    return out


def bench_creation(repeats: int) -> dict[str, dict[str, Any]]:
    """``create_avatar`` per head, the compiled surfel fit (``surfels_fast``) and its numpy
    reference (``avatar.COMPILED_PATHS`` off) taking turns: median wall and CPU seconds (the
    human head model comes from ``human_head``'s cache after the first: this is the Gaussians'
    fit, what the switch changes)."""
    out: dict[str, dict[str, Any]] = {}
    for h in HEADS:
        create_avatar(WHO, head=h)  # the head model's data parsed, kernels compiled
        times: dict[str, list[tuple[float, float]]] = {"compiled": [], "numpy": []}
        for _ in range(repeats):
            for key, flag in (("compiled", True), ("numpy", False)):
                avatar_module.COMPILED_PATHS = flag
                try:
                    t0, c0 = time.perf_counter(), time.process_time()
                    create_avatar(WHO, head=h)  # the human head model from its cache
                    times[key].append((time.perf_counter() - t0, time.process_time() - c0))
                finally:
                    avatar_module.COMPILED_PATHS = True
        out[h] = {
            k: {
                "repeats": repeats,
                "median_s": statistics.median(w for w, _c in v),
                "cpu_median_s": statistics.median(c for _w, c in v),
            }
            for k, v in times.items()
        }
    return out


def bench_conversation(
    avatar: GaussianAvatar, seconds: float, singles: bool, overlap: bool
) -> dict[str, Any]:
    """Both heads (the same avatar, two cameras), the composite (+ singles) with audio."""
    frames = int(seconds * 25)
    m = motion(frames)
    heads = {
        "a": HeadTrack(avatar, m, head_camera("a", SIZE)),
        "b": HeadTrack(avatar, m[::-1].copy(), head_camera("b", SIZE)),
    }
    n = frames * 16000 // 25
    t = np.arange(n) / 16000.0
    track_a = (0.2 * np.sin(2 * np.pi * 220 * t) * (t < seconds / 2)).astype(np.float32)
    track_b = (0.2 * np.sin(2 * np.pi * 330 * t) * (t >= seconds / 2)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        outputs = [VideoOutput(d / "conversation.mp4", "side", np.stack([track_a, track_b], 1))]
        if singles:
            outputs += [
                VideoOutput(d / "speaker_a.mp4", "single", track_a, "a"),
                VideoOutput(d / "speaker_b.mp4", "single", track_b, "b"),
            ]
        t0, c0 = time.perf_counter(), time.process_time()
        render_videos(heads, outputs, audio_rate=16000, backend="cpu", overlap=overlap)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "seconds": seconds,
        "outputs": len(outputs),
        "overlap": overlap,
        "wall_s": wall,
        "wall_over_duration": wall / seconds,
        "cpu_s_over_duration": cpu / seconds,
    }


def bench_heads(n_frames: int, seconds: float) -> dict[str, dict[str, Any]]:
    """Every measurement of both heads, the heads taking turns within each."""
    avatars = {h: create_avatar(WHO, head=h) for h in HEADS}
    drawn = {h: scenes(av) for h, av in avatars.items()}
    out: dict[str, dict[str, Any]] = {
        h: {"gaussians": av.num_gaussians, "gaussians_drawn": drawn[h][0].n, "conversation": {}}
        for h, av in avatars.items()
    }
    for h, r in bench_rasterise(n_frames, drawn).items():
        out[h]["rasterise"] = r
    for h, r in bench_head_frame(n_frames, avatars).items():
        out[h]["head_frame_numpy_shade_cull"] = r.pop("numpy_shade_cull")
        out[h]["head_frame"] = r
    for singles in (True, False):
        for overlap in (True, False):
            key = f"{'with' if singles else 'without'}_singles_{'overlap' if overlap else 'serial'}"
            for h, av in avatars.items():
                out[h]["conversation"][key] = bench_conversation(av, seconds, singles, overlap)
    return out


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


def table(heads: dict[str, dict[str, Any]]) -> str:
    """The per-head rows side by side."""

    def fps(what: str, mode: str) -> Callable[[dict[str, Any]], str]:
        return lambda h: f"{h[what][mode]['fps']:.1f} / {h[what][mode]['cpu_fps']:.1f}"

    def rtf(key: str) -> Callable[[dict[str, Any]], str]:
        c = "conversation"
        return lambda h: (
            f"{h[c][key]['wall_over_duration']:.2f} / {h[c][key]['cpu_s_over_duration']:.2f}"
        )

    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("Gaussians (drawn)", lambda h: f"{h['gaussians']} ({h['gaussians_drawn']})"),
    ]
    for what in ("rasterise", "head_frame", "head_frame_numpy_shade_cull"):
        for mode in ("parallel", "alone"):
            rows.append((f"{what} fps, {mode}: wall / CPU", fps(what, mode)))
    rows += [(f"{k}: wall / CPU s per s", rtf(k)) for k in heads[HEADS[0]]["conversation"]]
    lines = [f"{'':46s}" + "".join(f"{m:>16s}" for m in heads)]
    for label, cell in rows:
        lines.append(f"{label:46s}" + "".join(f"{cell(h):>16s}" for h in heads.values()))
    return "\n".join(lines)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure both heads and every backend; ``quick`` uses fewer frames (smoke runs)."""
    n_frames = 5 if quick else 50
    load_before = os.getloadavg()
    heads = bench_heads(n_frames, 2.0 if quick else 10.0)
    creation = bench_creation(1 if quick else 3)
    proc = scenes(create_avatar(WHO, head="procedural"), 2)
    reference = bench_reference(proc[0], size=32 if quick else 64)
    ratio = {
        f"{what}_{mode}_cpu": heads["human"][what][mode]["cpu_median_s"]
        / heads["procedural"][what][mode]["cpu_median_s"]
        for what in ("rasterise", "head_frame")
        for mode in ("parallel", "alone")
    }
    result: dict[str, Any] = {
        "size": [SIZE, SIZE],
        "identity": WHO.to_dict(),
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "note": (
            "2 CPU cores shared with other processes (see the load averages); compare the "
            "heads by their ratio in this run"
        ),
        "heads": heads,
        "avatar_creation_s": creation,
        "human_over_procedural_time": ratio,
        "reference": reference,
        "cpu_speedup_over_reference_extrapolated": (
            reference["extrapolated_s_per_frame_at_512"]
            / heads["procedural"]["rasterise"]["parallel"]["median_s"]
        ),
        "torch": bench_torch(2 if quick else 5, proc[0]),
    }
    if cuda_available():
        cam = head_camera_px()

        def gsplat(k: int) -> Any:
            return render(proc[k % len(proc)], cam, backend="gsplat")

        result["gsplat"] = _frames(gsplat, n_frames)
    return result


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:])
    path = write_result("render", result)
    print(json.dumps(result, indent=2))
    print(table(result["heads"]))
    print(f"load average {result['load_average_before']} → {result['load_average_after']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
