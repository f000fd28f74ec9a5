"""Both heads' motion → frames → MP4s (H.264 + AAC, 25 fps; DESIGN §2).

One pass renders each head once per frame and feeds every requested output (the composite
layout and the single-speaker videos) through its own encoder thread, so three videos cost
one render. Each head is drawn in its own thread (the numba kernels and the encoders release
the GIL), so one head's posing, binding and shading overlap the other's rasterising and the
encoding. Each head has its own camera: a three-quarter view turned towards the partner
(A is seen from its right, so it faces the right of the picture where B sits).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.video import write_mp4
from dyad.services.renderer.avatars.avatar import GaussianAvatar
from dyad.services.renderer.layout import compose, frame_size
from dyad.services.renderer.raster import render_frame
from dyad.services.renderer.raster.camera import Camera
from dyad.timebase import FPS

CAMERA_DISTANCE_M = 0.68
CAMERA_YAW_DEG = 18.0  # how far round each camera sits, towards the partner's side
FOV_Y_DEG = 30.0
_END = object()


def head_camera(speaker: str, head_px: int) -> Camera:
    """The camera of speaker ``a`` or ``b`` (head coordinates, DESIGN §2); ``front`` looks
    straight at the face (previews)."""
    side = {"a": -1.0, "b": 1.0, "front": 0.0}[speaker]  # A's camera on the subject's right
    ang = np.deg2rad(CAMERA_YAW_DEG) * side
    eye = (CAMERA_DISTANCE_M * np.sin(ang), 0.0, CAMERA_DISTANCE_M * np.cos(ang))
    return Camera.look_at(
        eye, (0.0, -0.025, 0.0), fov_y_deg=FOV_Y_DEG, width=head_px, height=head_px
    )


def parse_colour(text: str, field: str = "background") -> tuple[float, float, float]:
    t = text.strip().lstrip("#")
    if len(t) != 6 or any(c not in "0123456789abcdefABCDEF" for c in t):
        raise InvalidInput(field, f"expected #rrggbb, got {text!r}")
    return tuple(int(t[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


Colour = tuple[float, float, float]
#: A head's background: a flat colour, or an ``[h, h, 3]`` float plate (``backdrop``).
Background = Colour | np.ndarray
_BLACK = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class HeadTrack:
    """One speaker to draw: avatar, ``[T, C]`` clip of the avatar's rig, camera."""

    avatar: GaussianAvatar
    motion: np.ndarray
    camera: Camera


def head_frames(
    head: HeadTrack,
    *,
    background: Background,
    backend: str,
    relation: tuple[bool, bool] = (False, True),
    parallel: bool = True,
) -> Iterator[np.ndarray]:
    """``[h, h, 3]`` uint8 frames of one head over a colour or a plate.

    A plate is composited behind the Gaussians drawn over black: ``rgb + (1 − alpha)·plate``
    (``raster.render_frame``; ``parallel`` as there).
    """
    plate, colour = None, _BLACK
    if isinstance(background, np.ndarray):
        shape = (head.camera.height, head.camera.width, 3)
        if background.shape != shape:
            raise InvalidInput("background", f"plate is {background.shape}, frames are {shape}")
        plate = background.astype(np.float32, copy=False)
    else:
        colour = background
    for scene in head.avatar.scenes(head.motion, relation=relation, cull_from=head.camera.position):
        yield render_frame(
            scene, head.camera, background=colour, plate=plate, backend=backend, parallel=parallel
        )


@dataclass(frozen=True)
class VideoOutput:
    """One MP4 to write: its layout over the heads and its audio ``[N]`` or ``[N, 2]``."""

    path: Path
    layout: str  # side | pip | single
    audio: np.ndarray | None
    speaker: str = "a"  # for ``single``: whose head
    active: np.ndarray | None = None  # for ``pip``: [T] 0 = A, 1 = B


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def _offer(out: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` on ``out`` unless the consumer has stopped (then False)."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _producer(frames: Iterator[np.ndarray], out: queue.Queue, stop: threading.Event) -> None:
    """Put every frame of ``frames`` on ``out``, then ``_END`` (or the error that ended it);
    returns early once the consumer has stopped."""
    try:
        for frame in frames:
            if not _offer(out, frame, stop):
                return
        _offer(out, _END, stop)
    except BaseException as e:  # re-raised by the consumer
        _offer(out, _Failed(e), stop)


def _head_threads(
    streams: dict[str, Iterator[np.ndarray]], stop: threading.Event
) -> dict[str, queue.Queue]:
    """Each head's frames drawn in a thread of its own, ahead of the consumer by ≤ 2."""
    queues: dict[str, queue.Queue] = {k: queue.Queue(maxsize=2) for k in streams}
    for k, s in streams.items():
        threading.Thread(
            target=_producer, args=(s, queues[k], stop), daemon=True, name=f"head-{k}"
        ).start()
    return queues


def _next(q: queue.Queue) -> np.ndarray:
    item = q.get()
    if isinstance(item, _Failed):
        raise item.error
    if item is _END:
        raise InvalidInput("motion", "a head ran out of frames")
    return item


def _writer(
    path: Path,
    frames: queue.Queue,
    audio: np.ndarray | None,
    rate: int,
    crf: int,
    errors: list[BaseException],
) -> None:
    def items() -> Iterator[np.ndarray]:
        while (item := frames.get()) is not _END:
            yield item

    try:
        write_mp4(path, items(), fps=FPS, audio=audio, audio_rate=rate, crf=crf)
    except BaseException as e:  # reported by the caller, who owns the error contract
        errors.append(e)
        while frames.get() is not _END:  # drain so the producer never blocks
            pass


def render_videos(
    heads: dict[str, HeadTrack],
    outputs: list[VideoOutput],
    *,
    audio_rate: int,
    background: Colour | dict[str, np.ndarray] = (0.91, 0.93, 0.95),
    backend: str = "auto",
    crf: int = 20,
    relation: tuple[bool, bool] = (False, True),
    progress: Callable[[int, int], None] | None = None,
    overlap: bool = True,
) -> int:
    """Render ``heads`` (``{"a": …, "b": …}``, equal T) once and encode every output.

    ``background`` is one colour for every head or a plate per head (``{"a": [h, h, 3], …}``).
    Returns the number of frames. ``progress(done, total)`` is called per frame. ``overlap``
    draws each head in its own thread; off, one after the other in this one (the same frames:
    ``test_video_overlap``; ``bench.render`` measures both).
    """
    lengths = {k: h.motion.shape[0] for k, h in heads.items()}
    if len(set(lengths.values())) != 1:
        raise InvalidInput("motion_b", f"clips differ in length: {lengths} frames")
    total = next(iter(lengths.values()))
    for o in outputs:
        frame_size(o.layout, next(iter(heads.values())).camera.height)  # validates the layout
    # Overlapping, with no more cores than heads: each head's thread draws its frames alone
    # (the rasteriser's parallel kernel runs one frame at a time); with more, they share it.
    alone = overlap and len(heads) > 1 and _cores() <= len(heads)
    streams = {
        k: head_frames(
            h,
            background=background[k] if isinstance(background, dict) else background,
            backend=backend,
            relation=relation,
            parallel=not alone,
        )
        for k, h in heads.items()
    }
    queues: list[queue.Queue[object]] = [queue.Queue(maxsize=4) for _ in outputs]
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_writer,
            args=(o.path, q, o.audio, audio_rate, crf, errors),
            daemon=True,
            name=f"mp4-{o.path.name}",
        )
        for o, q in zip(outputs, queues, strict=True)
    ]
    for t in threads:
        t.start()
    stop = threading.Event()
    heads_q = _head_threads(streams, stop) if overlap else None
    try:
        for index in range(total):
            if heads_q is not None:
                frames = {k: _next(q) for k, q in heads_q.items()}
            else:
                frames = {k: next(s) for k, s in streams.items()}
            for o, q in zip(outputs, queues, strict=True):
                q.put(_compose(o, frames, index))
            if progress is not None:
                progress(index + 1, total)
    finally:
        stop.set()
        for q in queues:
            q.put(_END)
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return total


def _cores() -> int:
    """The threads the CPU rasteriser's parallel kernel uses (numba's, without importing it
    unless it is loaded: the GPU path never needs it)."""
    import sys

    numba = sys.modules.get("numba")
    return int(numba.get_num_threads()) if numba is not None else (os.cpu_count() or 1)


def _compose(o: VideoOutput, frames: dict[str, np.ndarray], index: int) -> np.ndarray:
    if o.layout == "single":
        return frames[o.speaker]
    active = int(o.active[index]) if o.active is not None else 0
    return compose(o.layout, frames["a"], frames.get("b"), active=active)
