"""Video in for tracking: frames resampled to 25 fps and resized, the audio at 16 kHz, and the
camera intrinsics assumed for a video that does not say.

Frames are decoded with PyAV as a stream (a 4K clip never sits in memory whole). Resampling to
the motion rate (DESIGN.md §2: 25 fps) takes, for each output instant ``k / 25`` s, the source
frame nearest in time: no blending, so every tracked frame is a real photograph. Frames are
turned upright as a player shows them (a phone's portrait clip is stored as landscape frames
with a display rotation). Frames whose
longer side exceeds ``max_side`` are shrunk (area filter) before detection: the landmarker works
on a 256² crop of the face anyway, and full 4K frames only cost decoding and memory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import SAMPLE_RATE
from dyad.timebase import FPS

FIELD = "--video"
#: The shortest clip tracked: under a second there is no motion worth the name.
MIN_SECONDS = 1.0
#: Vertical field of view assumed when the focal length is not given: the one MediaPipe's face
#: geometry pipeline assumes (``perspective_camera { vertical_fov_degrees: 63 }`` in the model's
#: metadata), so the intrinsics agree with the facial transformation matrices it returns; a
#: phone's main camera filming video is close to it (≈ 60–70° across the short side).
ASSUMED_FOV_Y_DEG = 63.0


@dataclass(frozen=True)
class VideoMeta:
    """What the container says before decoding: coded frame size, rate, duration (s), and the
    rotation a player applies (phones store portrait video as rotated landscape frames)."""

    width: int  # as coded
    height: int
    fps: float
    duration_s: float | None
    has_audio: bool
    rotation: int = 0  # degrees counter-clockwise to display upright: 0, 90, 180 or 270

    def coded_size(self, max_side: int) -> tuple[int, int]:
        """(width, height) of the coded frame resized to fit ``max_side``, kept even."""
        scale = min(1.0, max_side / max(self.width, self.height))
        if scale >= 1.0:
            return self.width, self.height
        return max(2, round(self.width * scale / 2) * 2), max(2, round(self.height * scale / 2) * 2)

    def tracked_size(self, max_side: int) -> tuple[int, int]:
        """(width, height) of the frames tracked: resized, then turned upright."""
        w, h = self.coded_size(max_side)
        return (h, w) if self.rotation in (90, 270) else (w, h)

    def num_frames(self) -> int | None:
        """25 fps frames the clip will give (``ceil(seconds · 25)``), if the duration is known."""
        if self.duration_s is None:
            return None
        return max(1, math.ceil(self.duration_s * FPS - 1e-6))


def _open(path: Path) -> av.container.InputContainer:
    if not Path(path).is_file():
        raise InvalidInput(FIELD, f"{path} is not a file")
    try:
        return av.open(str(path), "r")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise InvalidInput(FIELD, f"{path} is not a readable video ({e})") from e


def probe_video(path: Path) -> VideoMeta:
    """Check ``path`` is a video of at least ``MIN_SECONDS`` (when the container says how long)
    before any frame is decoded; ``InvalidInput("--video", …)`` otherwise."""
    with _open(path) as container:
        if not container.streams.video:
            raise InvalidInput(FIELD, f"{path} has no video stream")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise InvalidInput(FIELD, f"{path}: video stream has no frame size")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else float(FPS)
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        try:  # the first frame: it decodes at all, and says how it is displayed
            first = next(iter(container.decode(stream)), None)
        except av.FFmpegError as e:
            raise InvalidInput(FIELD, f"{path}: cannot decode its first frame ({e})") from e
        if first is None:
            raise InvalidInput(FIELD, f"{path} has no decodable frame")
        # Display matrices of other than quarter turns (rare: a skewed transform) are ignored.
        turn = round(float(getattr(first, "rotation", 0) or 0)) % 360
        rotation = turn if turn in (90, 180, 270) else 0
        meta = VideoMeta(width, height, fps, duration, bool(container.streams.audio), rotation)
    if duration is not None and duration < MIN_SECONDS:
        raise InvalidInput(FIELD, f"{path} lasts {duration:.2f} s, shorter than {MIN_SECONDS} s")
    return meta


def iter_frames(path: Path, *, fps: int = FPS, max_side: int = 1280) -> Iterator[np.ndarray]:
    """``[H, W, 3]`` uint8 RGB frames at ``fps``, each the source frame nearest to ``k / fps``
    s after the first, resized to fit ``max_side``. Decoding errors are ``InvalidInput``."""
    meta = probe_video(path)
    width, height = meta.coded_size(max_side)
    quarter_turns = meta.rotation // 90  # np.rot90 turns counter-clockwise, as the player does
    src_step = 1.0 / meta.fps  # how long the last source frame lasts
    k = 0  # index of the next output frame
    start: float | None = None
    # The previous source frame: (time, decoded frame, its RGB array once converted). Frames
    # no output instant picks (a 60 fps source) are never converted.
    prev: list = []

    def rgb() -> np.ndarray:
        if prev[2] is None:
            frame = prev[1]
            if (frame.width, frame.height) != (width, height):
                frame = frame.reformat(width=width, height=height, interpolation="AREA")
            rgb24 = frame.to_ndarray(format="rgb24")
            prev[2] = (
                np.ascontiguousarray(np.rot90(rgb24, quarter_turns)) if quarter_turns else rgb24
            )
        return prev[2]

    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                t = float(frame.pts * Fraction(frame.time_base))
                start = t if start is None else start
                t -= start
                if prev:
                    # Output instants closer to the previous frame than to this one get it.
                    while k / fps <= (prev[0] + t) / 2:
                        yield rgb()
                        k += 1
                prev[:] = [t, frame, None]
        except av.FFmpegError as e:
            raise InvalidInput(FIELD, f"{path}: cannot decode frame {k} ({e})") from e
        if prev:
            while k / fps < prev[0] + src_step - 1e-6:
                yield rgb()
                k += 1


def read_video_frames(
    path: Path, *, fps: int = FPS, max_side: int = 1280
) -> tuple[Iterator[np.ndarray], np.ndarray | None]:
    """(frames ``[H, W, 3]`` uint8 at ``fps`` as an iterator — ``np.stack`` it for a ``[T, H,
    W, 3]`` array when it fits in memory —, the audio mono at 16 kHz ``[N]`` float32 or None)."""
    probe_video(path)  # bad input fails here, before anything is decoded
    return iter_frames(path, fps=fps, max_side=max_side), extract_audio_16k(path)


def extract_audio_16k(path: Path) -> np.ndarray | None:
    """The first audio stream, mixed to mono and resampled to 16 kHz: ``[N]`` float32 in
    [-1, 1]; None when the file has no audio stream."""
    with _open(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as e:
            raise InvalidInput(FIELD, f"{path}: cannot decode the audio ({e})") from e
    if not chunks:
        return None
    return np.clip(np.concatenate(chunks).astype(np.float32), -1.0, 1.0)


def intrinsics(width: int, height: int, focal_px: float | None = None) -> np.ndarray:
    """``[6]`` float64 ``fx, fy, cx, cy, width, height`` of the tracked frames: the given focal
    length (pixels of the tracked size), else ``ASSUMED_FOV_Y_DEG`` across the height."""
    if focal_px is None:
        focal_px = (height / 2) / math.tan(math.radians(ASSUMED_FOV_Y_DEG) / 2)
    elif not math.isfinite(focal_px) or focal_px <= 0:
        raise InvalidInput("--focal-px", f"must be a positive number, got {focal_px}")
    return np.array([focal_px, focal_px, width / 2, height / 2, width, height], np.float64)
