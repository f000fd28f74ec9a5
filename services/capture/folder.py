"""The capture folder: frames of one person from one or more cameras, with their motion.

What ``dyad avatar synth-data`` writes and ``dyad avatar fit --frames DIR`` reads (``dyad
track`` writes the tracked form of the same folder)::

    DIR/cameras.json            {"format": "dyad-capture", "version": 1, "fps": 25,
                                 "num_frames": T,
                                 "cameras": {"cam00": {"width": W, "height": H,
                                                        "K": [[fx,0,cx],[0,fy,cy],[0,0,1]],
                                                        "viewmat": 4×4 world→camera (OpenCV)}}}
    DIR/motion.npz              [T, C] rig motion at ``fps`` (``dyad.motion_io`` format)
    DIR/frames/<cam>/<t:06d>.png   RGB uint8, W×H of that camera, frame t of the clip
    DIR/masks/<cam>/<t:06d>.png    optional: 8-bit foreground matte (255 = the person)

Frame ``t`` of every camera shows the same instant as row ``t`` of ``motion.npz``. The world
frame is the head model's (DESIGN.md §2: metres, y up, the face looking along +z).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import atomic_output
from dyad.timebase import FPS

FORMAT = "dyad-capture"
VERSION = 1


@dataclass(frozen=True)
class CameraSpec:
    width: int
    height: int
    K: np.ndarray  # [3, 3] float64
    viewmat: np.ndarray  # [4, 4] float64, world → camera (OpenCV)

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "K": np.asarray(self.K, float).tolist(),
            "viewmat": np.asarray(self.viewmat, float).tolist(),
        }

    @staticmethod
    def from_dict(d: dict[str, Any], field: str) -> CameraSpec:
        try:
            spec = CameraSpec(
                int(d["width"]),
                int(d["height"]),
                np.asarray(d["K"], np.float64).reshape(3, 3),
                np.asarray(d["viewmat"], np.float64).reshape(4, 4),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidInput(field, f"expected width, height, K 3×3, viewmat 4×4 ({e})") from e
        if spec.width <= 0 or spec.height <= 0:
            raise InvalidInput(field, "width and height must be positive")
        return spec


@dataclass(frozen=True)
class CaptureFolder:
    root: Path
    fps: int
    num_frames: int
    cameras: dict[str, CameraSpec]

    def frame_path(self, camera: str, t: int) -> Path:
        return self.root / "frames" / camera / f"{t:06d}.png"

    def mask_path(self, camera: str, t: int) -> Path:
        return self.root / "masks" / camera / f"{t:06d}.png"

    @property
    def motion_path(self) -> Path:
        return self.root / "motion.npz"

    def has_masks(self) -> bool:
        return all(self.mask_path(c, 0).is_file() for c in self.cameras)


def write_cameras(
    root: str | Path, cameras: dict[str, CameraSpec], num_frames: int, fps: int = FPS
) -> Path:
    """``root/cameras.json``, atomically (write it last: it marks the folder complete)."""
    root = Path(root)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "fps": fps,
        "num_frames": num_frames,
        "cameras": {name: spec.to_dict() for name, spec in cameras.items()},
    }
    with atomic_output(root / "cameras.json") as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2) + "\n")
    return root / "cameras.json"


def open_capture(root: str | Path, field: str = "--frames") -> CaptureFolder:
    """Read and check ``root/cameras.json`` and that every frame file is there (not decoded)."""
    root = Path(root)
    path = root / "cameras.json"
    if not path.is_file():
        raise InvalidInput(field, f"{root} is not a capture folder (no cameras.json)")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InvalidInput(field, f"{path}: not JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidInput(field, f"{path}: format must be {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise InvalidInput(field, f"{path}: version {doc.get('version')!r} is not {VERSION}")
    cams = doc.get("cameras")
    if not isinstance(cams, dict) or not cams:
        raise InvalidInput(field, f"{path}: no cameras")
    folder = CaptureFolder(
        root,
        int(doc.get("fps", FPS)),
        int(doc.get("num_frames", 0)),
        {name: CameraSpec.from_dict(c, f"{field} cameras.{name}") for name, c in cams.items()},
    )
    if folder.num_frames <= 0:
        raise InvalidInput(field, f"{path}: num_frames must be positive")
    if not folder.motion_path.is_file():
        raise InvalidInput(field, f"{root}: no motion.npz")
    for name in folder.cameras:
        for t in (0, folder.num_frames - 1):
            if not folder.frame_path(name, t).is_file():
                raise InvalidInput(field, f"{root}: missing {folder.frame_path(name, t)}")
    return folder
