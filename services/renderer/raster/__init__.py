"""The Gaussian rasterisers; this package's entry is ``render(scene, camera) -> RenderOutput``
(and ``render_frame``: a uint8 video frame, fused into one compiled pass on the CPU).

Owns the rasteriser's inputs (``scene.GaussianScene``, ``camera.Camera``), the shared
projection model and compositing rules (``projection``) and the backends — one model, one set
of rules:

| backend     | what                                                                       |
|-------------|----------------------------------------------------------------------------|
| ``auto``    | ``gsplat`` when CUDA is available, else ``cpu``                            |
| ``cpu``     | tiled numba kernels (``cpu``, ``cpu_kernels``): the default without a GPU  |
| ``torch``   | differentiable torch path (``torch_autograd``), run here without grad      |
| ``gsplat``  | ``gsplat.rasterization`` on CUDA (``gsplat_cuda``)                         |
| ``reference`` | brute-force float64 (``reference``): tests and benchmarks                |

The ``cpu``, ``torch`` and ``gsplat`` backends are imported when first asked for (numba,
torch and gsplat are heavy; importing this package loads none of them).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dyad.errors import FailedPrecondition, InvalidInput

from .camera import Camera
from .matte import apply_matte, matte_reference
from .reference import render_reference
from .scene import GaussianScene
from .surface import close_surface

BACKENDS = ("auto", "cpu", "torch", "gsplat", "reference")


@dataclass(eq=False)
class RenderOutput:
    rgb: np.ndarray  # [H, W, 3] float32 in [0, 1], composited over the background
    alpha: np.ndarray  # [H, W] float32 in [0, 1] (1 − final transmittance)
    depth: np.ndarray | None = None  # [H, W] float32 expected depth (0 where alpha = 0)
    backend: str = ""


@functools.cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA device (torch is imported only when this is asked)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _background(value: Sequence[float] | np.ndarray) -> np.ndarray:
    bg = np.asarray(value, dtype=np.float64)
    if bg.shape != (3,):
        raise InvalidInput("background", f"expected 3 numbers (RGB), got shape {bg.shape}")
    if not np.all(np.isfinite(bg)) or np.any(bg < 0) or np.any(bg > 1):
        raise InvalidInput("background", "values must lie in [0, 1]")
    return bg


def resolve_backend(backend: str) -> str:
    """``auto`` → ``gsplat`` or ``cpu``; checks the name and that ``gsplat`` has CUDA."""
    if backend not in BACKENDS:
        raise InvalidInput("backend", f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        return "gsplat" if cuda_available() else "cpu"
    if backend == "gsplat" and not cuda_available():
        raise FailedPrecondition(
            "the gsplat backend needs a CUDA GPU and none is visible to torch; "
            "use backend='cpu' (or 'auto')"
        )
    return backend


def render(
    scene: GaussianScene,
    camera: Camera,
    *,
    background: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0),
    backend: str = "auto",
    with_depth: bool = False,
) -> RenderOutput:
    """Splat ``scene`` through ``camera`` over a uniform ``background`` colour."""
    if not isinstance(scene, GaussianScene):
        raise InvalidInput("scene", f"expected a GaussianScene, got {type(scene).__name__}")
    if not isinstance(camera, Camera):
        raise InvalidInput("camera", f"expected a Camera, got {type(camera).__name__}")
    scene.validate()
    bg = _background(background)
    name = resolve_backend(backend)
    if name == "cpu":
        from .cpu import render_cpu

        rgb, alpha, depth = render_cpu(scene, camera, bg)
    elif name == "reference":
        color, alpha64, acc_depth = render_reference(scene, camera)
        rgb = (color + (1.0 - alpha64)[..., None] * bg).astype(np.float32)
        alpha = alpha64.astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = np.where(alpha64 > 0, acc_depth / alpha64, 0.0).astype(np.float32)
    elif name == "torch":
        from .torch_autograd import render_scene_torch

        rgb, alpha, depth = render_scene_torch(scene, camera, bg)
    else:
        from .gsplat_cuda import render_gsplat

        rgb, alpha, depth = render_gsplat(scene, camera, bg)
    np.clip(rgb, 0.0, 1.0, out=rgb)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    return RenderOutput(rgb=rgb, alpha=alpha, depth=depth if with_depth else None, backend=name)


def render_batch(
    scenes: Iterable[GaussianScene],
    camera: Camera | Sequence[Camera],
    *,
    background: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0),
    backend: str = "auto",
    with_depth: bool = False,
) -> list[RenderOutput]:
    """One frame per scene, one after another (the CPU kernel already uses every core).

    ``camera`` is one camera for every frame or one per scene.
    """
    frames = list(scenes)
    cams = [camera] * len(frames) if isinstance(camera, Camera) else list(camera)
    if len(cams) != len(frames):
        raise InvalidInput("camera", f"{len(cams)} cameras for {len(frames)} scenes")
    return [
        render(s, c, background=background, backend=backend, with_depth=with_depth)
        for s, c in zip(frames, cams, strict=True)
    ]


def render_frame(
    scene: GaussianScene,
    camera: Camera,
    *,
    background: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0),
    plate: np.ndarray | None = None,
    backend: str = "auto",
    parallel: bool = True,
    matte: bool = True,
) -> np.ndarray:
    """One video frame ``[H, W, 3]`` uint8 of ``scene``: the Gaussians drawn over black;
    cut to the silhouette of the scene's surface where it has one and ``matte`` is on
    (``matte``: nothing of the head beyond 2 px outside its mesh); the head's surface
    closed (``surface.close_surface``: what the front surfels leave 75–99 % opaque is made
    opaque, the outline untouched); then ``rgb + (1 − α')·back`` over a
    ``plate`` ``[H, W, 3]`` float in [0, 1] or the ``background`` colour.

    The reference is that in numpy on ``render``'s output, which every backend but ``cpu``
    takes; ``cpu`` fuses cutting, closing, compositing and rounding into one compiled pass
    with the same numbers (``test_raster_fast_paths``, ``test_matte``). ``parallel`` (``cpu``
    only): off draws the frame on the calling thread alone, so threads can draw frames at
    once.
    """
    frame, _alpha = render_frame_alpha(
        scene,
        camera,
        background=background,
        plate=plate,
        backend=backend,
        parallel=parallel,
        matte=matte,
    )
    return frame


def render_frame_alpha(
    scene: GaussianScene,
    camera: Camera,
    *,
    background: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0),
    plate: np.ndarray | None = None,
    backend: str = "auto",
    parallel: bool = True,
    matte: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """``render_frame`` and the frame's final α ``[H, W]`` float32 (cut, closed): the
    coverage it composited the background with (a synthetic capture's mask)."""
    colour = _background(background)
    if plate is not None:
        shape = (camera.height, camera.width, 3)
        if plate.shape != shape:
            raise InvalidInput("background", f"plate is {plate.shape}, frames are {shape}")
    black = np.zeros(3)
    if isinstance(scene, GaussianScene):
        scene.validate()  # the surface too, before a kernel indexes it
    surface = scene.surface if matte and isinstance(scene, GaussianScene) else None
    cover = None
    if surface is not None:  # the compiled coverage on every backend (the same pixels as
        from .frame_kernels import frame_coverage  # ``matte.coverage_reference``)

        cover = frame_coverage(camera, *surface)
    if resolve_backend(backend) == "cpu" and isinstance(scene, GaussianScene):
        from .cpu import render_cpu, to_uint8_cpu

        rgb, alpha, _depth = render_cpu(scene, camera, black, parallel=parallel)
        final = np.empty_like(alpha)
        return to_uint8_cpu(rgb, alpha, plate, colour, cover, final), final
    out = render(scene, camera, background=black, backend=backend)
    rgb, alpha = out.rgb, out.alpha
    if cover is not None:
        rgb, alpha = apply_matte(rgb, alpha, matte_reference(cover.astype(bool)))
    closed, alpha = close_surface(rgb, alpha, black)
    back = colour.astype(np.float32)[None, None, :] if plate is None else plate
    return to_uint8(closed + (1.0 - alpha)[..., None] * back.astype(np.float32)), alpha


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` float in [0, 1] → uint8 (rounded, clipped)."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InvalidInput("rgb", f"expected shape [H, W, 3], got {arr.shape}")
    return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
