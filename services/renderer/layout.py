"""Composite layouts of the two heads' frames (DESIGN §2: side by side, 1024×512, by default).

- ``side``: A on the left, B on the right, each ``head_px`` square. A faces its own left, i.e.
  towards the right of the picture where B sits (services/motion/README.md's sign convention).
- ``pip``: one ``head_px`` square showing the active speaker, the other in an inset a third
  the size in the bottom-right corner. Who is active comes from the two tracks' loudness with
  hysteresis, so the picture does not flicker on backchannels.
- ``single``: one speaker only.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dyad.domain.limits import check_head_px
from dyad.errors import InvalidInput
from dyad.services.renderer.settings import LAYOUTS
from dyad.timebase import FPS

_BORDER_PX = 3


def check_layout(layout: str, head_px: int) -> None:
    if layout not in LAYOUTS:
        raise InvalidInput("layout", f"expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    check_head_px(head_px)


def frame_size(layout: str, head_px: int) -> tuple[int, int]:
    """(height, width) of a composite frame."""
    check_layout(layout, head_px)
    return (head_px, 2 * head_px) if layout == "side" else (head_px, head_px)


def active_speaker(
    track_a: np.ndarray, track_b: np.ndarray, num_frames: int, rate: int, hold_s: float = 0.6
) -> np.ndarray:
    """``[T]`` int8, 0 = A, 1 = B: the louder speaker, switching only after ``hold_s`` of the
    other being louder (so a backchannel does not cut away). Tracks ``[N]`` at ``rate`` Hz."""
    hop = rate / FPS
    energy = np.zeros((2, num_frames))
    for s, track in enumerate((track_a, track_b)):
        x = np.asarray(track, dtype=np.float64)
        for t in range(num_frames):
            seg = x[int(t * hop) : int((t + 1) * hop)]
            energy[s, t] = float(np.mean(seg * seg)) if seg.size else 0.0
    louder = (energy[1] > energy[0]).astype(np.int8)
    out = np.zeros(num_frames, dtype=np.int8)
    current, run, hold = int(louder[0]) if num_frames else 0, 0, max(1, round(hold_s * FPS))
    for t in range(num_frames):
        run = run + 1 if louder[t] != current else 0
        if run >= hold:
            current, run = int(louder[t]), 0
        out[t] = current
    return out


def _shrink(img: np.ndarray, size: int) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    small = F.interpolate(x, size=(size, size), mode="area")
    return small[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def compose(
    layout: str, frame_a: np.ndarray, frame_b: np.ndarray | None, *, active: int = 0
) -> np.ndarray:
    """Frames ``[h, h, 3]`` uint8 per head → one composite ``[H, W, 3]`` uint8.

    ``single`` shows ``frame_a`` (pass the wanted speaker's frame there); ``pip`` shows the
    ``active`` speaker (0 = A, 1 = B) large.
    """
    if layout == "single" or frame_b is None:
        return frame_a
    if layout == "side":
        return np.concatenate([frame_a, frame_b], axis=1)
    big, small = (frame_a, frame_b) if active == 0 else (frame_b, frame_a)
    out = big.copy()
    h = big.shape[0]
    inset = (h // 3) & ~1
    y0 = x0 = h - inset - 2 * _BORDER_PX
    out[y0 - _BORDER_PX : y0 + inset + _BORDER_PX, x0 - _BORDER_PX : x0 + inset + _BORDER_PX] = 255
    out[y0 : y0 + inset, x0 : x0 + inset] = _shrink(small, inset)
    return out
