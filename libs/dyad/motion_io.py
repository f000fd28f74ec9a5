"""Motion files (DESIGN.md §2): ``.npz`` with ``motion`` ``[T, C]`` float32, ``rig``,
``channels`` (the rig's names in order) and ``fps``.

``save_motion`` writes atomically and validates against the rig; ``load_motion`` checks the
file's own claims (channel names match the rig, shape matches, finite values) and names the
field that is wrong.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.arrays import load_npz
from dyad.media.audio import atomic_output
from dyad.media.probe import MediaLimits
from dyad.rigs import Rig, check_channels, get_rig
from dyad.timebase import FPS

#: Zip directory and ``.npy`` headers on top of the arrays themselves.
_NPZ_OVERHEAD = 64 * 1024
#: Highest frame rate a motion file may claim (the pipeline runs at 25 fps).
_MAX_FPS = 1000


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


def load_motion(
    source: str | Path | bytes, *, field: str = "motion", limits: MediaLimits | None = None
) -> MotionClip:
    """Read and check a motion file (path or bytes); every array's header is checked against
    ``limits`` (``DYAD_MEDIA_MAX_ARRAY_BYTES``) before it is read (``dyad.media.arrays``)."""
    lim = limits or MediaLimits.from_env()
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(field, f"no such file: {path}")
        if path.stat().st_size > lim.max_array_bytes + _NPZ_OVERHEAD:
            raise InvalidInput(field, f"larger than {lim.max_array_bytes} bytes")
        data = path.read_bytes()
    z = load_npz(data, field=field, limits=lim)
    missing = {"motion", "rig", "channels", "fps"} - set(z)
    if missing:
        raise InvalidInput(field, f"motion file lacks {sorted(missing)}")
    rig = get_rig(_scalar(z["rig"], f"{field}.rig"), field_name=f"{field}.rig")
    if z["channels"].ndim != 1:
        raise InvalidInput(f"{field}.channels", "expected a list of channel names")
    check_channels(rig, [str(c) for c in z["channels"]], field_name=f"{field}.channels")
    try:
        fps = int(_scalar(z["fps"], f"{field}.fps"))
    except ValueError:
        raise InvalidInput(f"{field}.fps", "expected an integer") from None
    if not 0 < fps <= _MAX_FPS:
        raise InvalidInput(f"{field}.fps", f"expected 1–{_MAX_FPS}, got {fps}")
    motion = rig.validate(z["motion"], field_name=field, check_range=False)
    return MotionClip(motion, rig, fps)


def _scalar(arr: np.ndarray, field: str) -> str:
    """A 0-d array's value as text (how ``np.savez`` stores ``rig`` and ``fps``)."""
    if arr.ndim != 0:
        raise InvalidInput(field, f"expected a single value, got shape {list(arr.shape)}")
    return str(arr.item())
