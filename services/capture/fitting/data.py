"""A capture folder (``capture.folder``) loaded for fitting: frames at the working size,
cameras scaled to match, the rig motion, foreground mattes, the train / held-out split.

The working size is the longer image side in pixels (``--size``); each camera's intrinsics
scale with its frames. Frames stay uint8 in memory (a 20 s clip from two cameras at 256² is
about 200 MB) and become float per iteration.

Mattes: the folder's ``masks/`` when it has them; otherwise ``head_matte`` derives one from
the fitted head (the initial avatar's rendered alpha, dilated, made by ``run``). The loss
and the metrics compare ``frame·matte + background·(1 − matte)`` with the render over the
same background, so the backdrop of the video never has to be explained by Gaussians.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from dyad.errors import InvalidInput
from dyad.motion_io import load_motion
from dyad.services.capture.folder import CaptureFolder, open_capture
from dyad.services.renderer.raster.camera import Camera

HELD_OUT_SHARE = 0.1  # the last 10 % of the clip is never trained on
MIN_SIZE = 32


@dataclass
class FitData:
    folder: CaptureFolder
    motion: np.ndarray  # [T, C] rig motion
    rig: str
    cameras: dict[str, Camera]  # at the working size
    frames: dict[str, torch.Tensor]  # cam → [T, H, W, 3] uint8
    mattes: dict[str, torch.Tensor] | None  # cam → [T, H, W] uint8, None: derive from the head
    train: np.ndarray  # frame indices trained on
    held_out: np.ndarray  # the last 10 %

    @property
    def camera_names(self) -> list[str]:
        return sorted(self.cameras)

    def views(self, frames: np.ndarray) -> list[tuple[int, str]]:
        return [(int(t), c) for t in frames for c in self.camera_names]


def split_frames(num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Train / held-out frame indices: the held-out ones are the last 10 % (at least 1)."""
    n_held = max(1, round(num_frames * HELD_OUT_SHARE))
    if num_frames - n_held < 1:
        raise InvalidInput("--frames", f"{num_frames} frames: need at least 2 to hold one out")
    return np.arange(num_frames - n_held), np.arange(num_frames - n_held, num_frames)


def scaled_camera(spec_k: np.ndarray, viewmat: np.ndarray, w: int, h: int, s: float) -> Camera:
    k = np.array(spec_k, np.float64)
    k[:2] *= s  # fx, cx, fy, cy scale with the image (pixel centres at +0.5 stay aligned)
    return Camera(viewmat, k, max(1, round(w * s)), max(1, round(h * s)))


def _read(path: Path, size: tuple[int, int], grey: bool) -> np.ndarray:
    try:
        with Image.open(path) as src:
            im = src.convert("L" if grey else "RGB")
            if im.size != size:
                im = im.resize(
                    size,
                    Image.Resampling.BOX if size[0] < im.size[0] else Image.Resampling.BILINEAR,
                )
            return np.asarray(im, np.uint8)
    except (OSError, ValueError) as e:
        raise InvalidInput("--frames", f"{path}: not a readable image ({e})") from e


def check_capture(root: Path, size: int) -> tuple[CaptureFolder, np.ndarray, str]:
    """The cheap checks (before any heavy work): folder, motion, size."""
    if size < MIN_SIZE:
        raise InvalidInput("--size", f"must be at least {MIN_SIZE} px, got {size}")
    folder = open_capture(root)
    clip = load_motion(folder.motion_path, field="--frames motion.npz")
    if clip.num_frames < folder.num_frames:
        raise InvalidInput(
            "--frames", f"motion.npz has {clip.num_frames} rows for {folder.num_frames} frames"
        )
    split_frames(folder.num_frames)
    return folder, clip.motion[: folder.num_frames], clip.rig.name


def load_fit_data(root: Path, size: int) -> FitData:
    folder, motion, rig = check_capture(root, size)
    cameras, frames = {}, {}
    mattes: dict[str, torch.Tensor] | None = {} if folder.has_masks() else None
    for name, spec in folder.cameras.items():
        s = size / max(spec.width, spec.height)
        cam = scaled_camera(spec.K, spec.viewmat, spec.width, spec.height, s)
        cameras[name] = cam
        wh = (cam.width, cam.height)
        frames[name] = torch.from_numpy(
            np.stack(
                [_read(folder.frame_path(name, t), wh, False) for t in range(folder.num_frames)]
            )
        )
        if mattes is not None:
            mattes[name] = torch.from_numpy(
                np.stack(
                    [_read(folder.mask_path(name, t), wh, True) for t in range(folder.num_frames)]
                )
            )
    train, held = split_frames(folder.num_frames)
    return FitData(folder, motion, rig, cameras, frames, mattes, train, held)


def dilate(alpha: torch.Tensor, radius: int) -> torch.Tensor:
    """``[H, W]`` matte grown by ``radius`` px (max filter)."""
    k = 2 * radius + 1
    return F.max_pool2d(alpha[None, None], k, stride=1, padding=radius)[0, 0]


def target_image(
    frame: torch.Tensor, matte: torch.Tensor, background: torch.Tensor
) -> torch.Tensor:
    """uint8 ``[H, W, 3]`` frame and float ``[H, W]`` matte in 0–1 → float ``[H, W, 3]`` over
    ``background [3]``."""
    rgb = frame.float() / 255.0
    m = matte[..., None]
    return rgb * m + background * (1.0 - m)
