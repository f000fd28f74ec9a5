"""Synthetic capture data: a known avatar under procedural motion, seen by K cameras.

``synth_capture(out, identity, num_frames, ...)`` writes a capture folder (``capture.folder``)
whose ground truth is known exactly, for testing ``dyad avatar fit`` and ``dyad track``::

    out/frames/<cam>/<t:06d>.png   RGB, the renderer's product path (CPU rasteriser, closed
                                   surface, the service's default background colour)
    out/masks/<cam>/<t:06d>.png    8-bit grey: the closed alpha of the same render × 255
    out/motion.npz                 [T, 55] arkit55: the motion that drove the avatar
    out/avatar/                    the avatar (``GaussianAvatar.save``)
    out/identity.txt               the identity text it was created from
    out/cameras.json               written last (``write_cameras``)

The motion is the motion service's procedural animator on a synthetic two-speaker
conversation (``speech``): the avatar is speaker A, talking and listening in turns. Cameras
are framed as the renderer frames a bust (``renderer.video.head_camera``: 0.68 m away, 30°
vertical field of view, aimed just below the head origin); cam00 is frontal, the next ones
turn ±30° in yaw with a few degrees of pitch (``camera_rig``). The whole folder is built in a
hidden temporary directory beside ``out`` and renamed onto it, so a crash never leaves half a
folder. Deterministic per (identity, seed, frames, cameras, size).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.image import png_bytes
from dyad.motion_io import save_motion
from dyad.services.capture.folder import CameraSpec, write_cameras
from dyad.services.capture.synthdata.speech import conversation
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.raster import Camera
from dyad.services.renderer.video import CAMERA_DISTANCE_M, FOV_Y_DEG, parse_colour
from dyad.timebase import FPS, SAMPLE_RATE

MIN_SIZE, MAX_SIZE = 64, 2048
MAX_FRAMES = 25 * 60 * 10  # ten minutes
MAX_CAMERAS = 16
TARGET = (0.0, -0.025, 0.0)  # the bust camera's aim (renderer.video.head_camera)
#: (yaw, pitch) in degrees per camera, in order; yaw > 0 puts the camera on the subject's
#: left (+x), pitch > 0 above. Beyond these, cameras fill in between (``camera_angles``).
ANGLES_DEG = ((0.0, 0.0), (30.0, 6.0), (-30.0, -4.0), (15.0, -8.0), (-15.0, 10.0))
BACKGROUND = "#8a8f96"  # a mid grey, unlike skin or hair, so masks are not the only cue

Progress = Callable[[int, int], None]


def camera_angles(count: int) -> list[tuple[float, float]]:
    """``count`` (yaw, pitch) pairs: ``ANGLES_DEG`` first, then a deterministic spread."""
    angles = list(ANGLES_DEG[:count])
    k = 0
    while len(angles) < count:
        yaw = (-1) ** k * (7.5 + 7.5 * (k // 2 % 4))
        pitch = (-1) ** (k // 2) * (3.0 + 2.0 * (k % 3))
        angles.append((yaw, pitch))
        k += 1
    return angles


def camera_rig(count: int, size: int) -> dict[str, Camera]:
    """``cam00`` … ``cam{count-1}``: square ``size``² bust cameras around the head."""
    cams = {}
    for i, (yaw_deg, pitch_deg) in enumerate(camera_angles(count)):
        yaw, pitch = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
        direction = np.array(
            [np.sin(yaw) * np.cos(pitch), np.sin(pitch), np.cos(yaw) * np.cos(pitch)]
        )
        eye = np.asarray(TARGET) + CAMERA_DISTANCE_M * direction
        cams[f"cam{i:02d}"] = Camera.look_at(
            eye, TARGET, fov_y_deg=FOV_Y_DEG, width=size, height=size
        )
    return cams


def camera_spec(cam: Camera) -> CameraSpec:
    return CameraSpec(cam.width, cam.height, np.array(cam.K), np.array(cam.viewmat))


def spec_camera(spec: CameraSpec) -> Camera:
    return Camera(viewmat=spec.viewmat, K=spec.K, width=spec.width, height=spec.height)


def procedural_motion(num_frames: int, seed: int, rig: str = "arkit55") -> np.ndarray:
    """``[T, C]`` motion of speaker A of a synthetic conversation lasting ``num_frames``."""
    from dyad.services.motion.procedural.animator import ProceduralAnimator

    conv = conversation(num_frames * SAMPLE_RATE // FPS, seed)
    motion_a, _ = ProceduralAnimator().animate(
        conv.track_a, conv.track_b, conv.timeline, seed=int(seed), rig=rig
    )
    return motion_a[:num_frames]


def grey_png_bytes(image: np.ndarray) -> bytes:
    """``[H, W]`` uint8 → an 8-bit greyscale PNG (the masks; ``png_bytes`` writes RGB)."""
    img = np.asarray(image, np.uint8)
    h, w = img.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


def render_with_mask(
    avatar: GaussianAvatar, motion: np.ndarray, camera: Camera, background: str = BACKGROUND
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames ``[H, W, 3]`` uint8 (``render_frame``, CPU) and masks ``[H, W]`` uint8 of a clip.

    The mask is the frame's final coverage (cut to the mesh's outline and closed, as the
    frame composites it: ``raster.render_frame_alpha``), rounded to 0–255.
    """
    from dyad.services.renderer.raster import render_frame_alpha

    colour = parse_colour(background)
    frames, masks = [], []
    for scene in avatar.scenes(motion, cull_from=camera.position):
        frame, alpha = render_frame_alpha(scene, camera, background=colour, backend="cpu")
        masks.append(np.rint(np.clip(alpha, 0, 1) * 255).astype(np.uint8))
        frames.append(frame)
    return frames, masks


def check_args(out: Path, num_frames: int, cameras: int, size: int) -> None:
    """Everything that can be wrong before any rendering, as ``InvalidInput``."""
    if not 1 <= num_frames <= MAX_FRAMES:
        raise InvalidInput("--frames", f"expected 1–{MAX_FRAMES}, got {num_frames}")
    if not 1 <= cameras <= MAX_CAMERAS:
        raise InvalidInput("--cameras", f"expected 1–{MAX_CAMERAS}, got {cameras}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InvalidInput("--size", f"expected {MIN_SIZE}–{MAX_SIZE} pixels, got {size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput("--out", f"{out} exists and is not an empty directory")
    if not out.parent.is_dir():
        raise InvalidInput("--out", f"parent directory {out.parent} does not exist")


def synth_capture(
    out: str | Path,
    identity: str,
    num_frames: int,
    *,
    cameras: int = 3,
    size: int = 512,
    seed: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Write the capture folder ``out`` (see the module docstring); returns ``out``.

    ``progress(done, total)`` is called after each rendered frame (total = frames × cameras).
    """
    out = Path(out)
    check_args(out, num_frames, cameras, size)
    avatar = create_avatar(identity, head="human", seed=int(seed))
    motion = procedural_motion(num_frames, seed, rig=avatar.rig)  # [T, 55]
    rig = camera_rig(cameras, size)
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        done, total = 0, num_frames * cameras
        for name, cam in rig.items():
            (tmp / "frames" / name).mkdir(parents=True)
            (tmp / "masks" / name).mkdir(parents=True)
            # pose in chunks so memory stays flat for long clips
            for start in range(0, num_frames, 32):
                frames, masks = render_with_mask(avatar, motion[start : start + 32], cam)
                for i, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
                    t = start + i
                    (tmp / "frames" / name / f"{t:06d}.png").write_bytes(png_bytes(frame))
                    (tmp / "masks" / name / f"{t:06d}.png").write_bytes(grey_png_bytes(mask))
                    done += 1
                    if progress is not None:
                        progress(done, total)
        save_motion(tmp / "motion.npz", motion, avatar.rig)
        avatar.save(tmp / "avatar")
        (tmp / "identity.txt").write_text(identity + "\n")
        write_cameras(tmp, {n: camera_spec(c) for n, c in rig.items()}, num_frames)
        if out.is_dir():
            out.rmdir()  # empty (checked above): rename needs the name free
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
