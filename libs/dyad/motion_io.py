"""Motion files (DESIGN.md §2): ``.npz`` with ``motion`` ``[T, C]`` float32, ``rig``,
``channels`` (the rig's names in order) and ``fps``.

``save_motion`` writes atomically and validates against the rig; ``load_motion`` checks the
file's own claims (channel names match the rig, shape matches, finite values) and names the
field that is wrong.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import atomic_output
from dyad.rigs import Rig, check_channels, get_rig
from dyad.timebase import FPS


@dataclass(frozen=True)
class MotionClip:
    motion: np.ndarray  # [T, C] float32
    rig: Rig
    fps: int = FPS

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


def motion_bytes(
    motion: np.ndarray, rig: str | Rig, fps: int = FPS, *, check_range: bool = True
) -> bytes:
    """The ``.npz`` bytes of a clip (validated against the rig)."""
    r = get_rig(rig) if isinstance(rig, str) else rig
    arr = r.validate(motion, check_range=check_range)
    if fps <= 0:
        raise InvalidInput("fps", "must be positive")
    buf = io.BytesIO()
    np.savez(
        buf, motion=arr, rig=np.array(r.name), channels=np.array(r.channels), fps=np.array(fps)
    )
    return buf.getvalue()


def save_motion(path: str | Path, motion: np.ndarray, rig: str | Rig, fps: int = FPS) -> Path:
    """Write ``path`` atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    data = motion_bytes(motion, rig, fps)
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return path


def load_motion(source: str | Path | bytes, *, field: str = "motion") -> MotionClip:
    """Read and check a motion file (path or bytes)."""
    try:
        with np.load(
            io.BytesIO(source) if isinstance(source, bytes) else source, allow_pickle=False
        ) as z:
            missing = {"motion", "rig", "channels", "fps"} - set(z.files)
            if missing:
                raise InvalidInput(field, f"motion file lacks {sorted(missing)}")
            rig = get_rig(str(z["rig"]), field_name=f"{field}.rig")
            check_channels(rig, [str(c) for c in z["channels"]], field_name=f"{field}.channels")
            fps = int(z["fps"])
            motion = rig.validate(z["motion"], field_name=field, check_range=False)
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InvalidInput(field, f"not a readable .npz motion file: {e}") from None
    if fps <= 0:
        raise InvalidInput(f"{field}.fps", "must be positive")
    return MotionClip(motion, rig, fps)
