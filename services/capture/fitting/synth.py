"""A small capture folder rendered from a known avatar (tests and ``bench.fit``).

Frames are the renderer's own output (``raster.render``, CPU backend) of ``avatar`` under
``motion`` seen by ``cameras``, over a grey backdrop; ``masks/`` is the rendered alpha, so
the fit's ground truth is exact. ``dyad avatar synth-data`` is the full-featured generator;
this one only needs the renderer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dyad.media.image import write_png
from dyad.motion_io import save_motion
from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.capture.folder import CameraSpec, write_cameras
from dyad.services.renderer.avatars.avatar import GaussianAvatar
from dyad.services.renderer.raster import render
from dyad.services.renderer.raster.camera import Camera

BACKDROP = (0.45, 0.5, 0.55)


def orbit_cameras(count: int, size: int, *, spread_deg: float = 30.0) -> dict[str, Camera]:
    """``count`` cameras 0.9 m from the head, spread over ``spread_deg`` of yaw."""
    cams = {}
    for i, yaw in enumerate(np.linspace(-spread_deg / 2, spread_deg / 2, count)):
        a = np.deg2rad(yaw)
        eye = [0.9 * np.sin(a), 0.02, 0.9 * np.cos(a)]
        cams[f"cam{i:02d}"] = Camera.look_at(
            eye, [0.0, -0.06, 0.0], fov_y_deg=24.0, width=size, height=size
        )
    return cams


def talking_motion(num_frames: int, seed: int = 0) -> np.ndarray:
    """``[T, 55]`` arkit55: jaw, smile, blinks and a slow head turn (smooth, in range)."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / 25.0
    m = np.zeros((num_frames, 55), np.float32)
    idx = {n: i for i, n in enumerate(ARKIT_BLENDSHAPES)}
    m[:, idx["jawOpen"]] = 0.25 * (1 + np.sin(2 * np.pi * 1.7 * t + rng.uniform(0, 6)))
    for side in ("Left", "Right"):
        m[:, idx[f"mouthSmile{side}"]] = 0.3 * (1 + np.sin(2 * np.pi * 0.4 * t))
        m[:, idx[f"eyeBlink{side}"]] = np.clip(np.sin(2 * np.pi * 0.5 * t) * 4 - 3, 0, 1)
    m[:, 52] = 0.08 * np.sin(2 * np.pi * 0.3 * t)  # pitch
    m[:, 53] = 0.15 * np.sin(2 * np.pi * 0.2 * t + 1.0)  # yaw
    m[:, 54] = 0.04 * np.sin(2 * np.pi * 0.25 * t)  # roll
    return m


def render_capture(
    root: str | Path, avatar: GaussianAvatar, motion: np.ndarray, cameras: dict[str, Camera]
) -> Path:
    """Write the capture folder at ``root`` (``cameras.json`` last) and return it."""
    root = Path(root)
    scenes = list(avatar.scenes(motion))
    for name, cam in cameras.items():
        (root / "frames" / name).mkdir(parents=True, exist_ok=True)
        (root / "masks" / name).mkdir(parents=True, exist_ok=True)
        for t, scene in enumerate(scenes):
            out = render(scene, cam, background=BACKDROP, backend="cpu")
            write_png(root / "frames" / name / f"{t:06d}.png", _u8(out.rgb))
            write_png(
                root / "masks" / name / f"{t:06d}.png", _u8(np.repeat(out.alpha[..., None], 3, 2))
            )
    save_motion(root / "motion.npz", motion, avatar.rig)
    specs = {n: CameraSpec(c.width, c.height, c.K, c.viewmat) for n, c in cameras.items()}
    return write_cameras(root, specs, len(motion)).parent


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
