"""MP4 output (H.264 + AAC, DESIGN.md §2) with PyAV, and a summary of any media file via ffprobe.

``write_mp4`` streams frames into the encoder one at a time, so a generator of frames never has
to fit in memory; audio (which is small) is passed whole and interleaved with the video as it
goes. Output is atomic: the file appears complete at ``path`` or not at all.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import Any, TypedDict

import av
import numpy as np

from dyad.errors import DeadlineExceeded, FailedPrecondition, InvalidInput
from dyad.media.audio import atomic_output, check_rate, check_samples

#: libx264's speed/size trade-offs, fastest first.
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)
#: The AAC encoder consumes audio in frames of this many samples (per channel).
AAC_FRAME = 1024
_PROBE_TIMEOUT_S = 60


class VideoInfo(TypedDict):
    codec: str
    width: int
    height: int
    fps: float | None  # from r_frame_rate; None when the container does not say
    num_frames: int | None  # from nb_frames; None when the container does not say
    pix_fmt: str | None
    duration_s: float | None  # this stream's own duration


def _duration(s: dict[str, Any]) -> float | None:
    d = s.get("duration")
    try:
        return float(d) if d is not None else None
    except ValueError:
        return None


class AudioInfo(TypedDict):
    codec: str
    sample_rate: int  # Hz
    channels: int
    duration_s: float | None  # this stream's own duration


class MediaInfo(TypedDict):
    duration_s: float | None
    video: VideoInfo | None
    audio: AudioInfo | None


def _check_fps(fps: object) -> Fraction:
    """Frames per second as an exact fraction (29.97 stays 2997/100), or InvalidInput."""
    if isinstance(fps, bool) or not isinstance(fps, int | float | Fraction):
        raise InvalidInput("fps", f"expected a positive number, got {fps!r}")
    if not math.isfinite(fps) or fps <= 0:
        raise InvalidInput("fps", f"must be positive and finite, got {fps}")
    return Fraction(fps).limit_denominator(1001)


def _check_frame(frame: object, index: int, size: tuple[int, int] | None) -> np.ndarray:
    """One RGB frame ``[H, W, 3]`` uint8 with even sizes, matching ``size`` (H, W) if given."""
    where = f"frame {index}"
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        got = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise InvalidInput("frames", f"{where}: expected a uint8 RGB numpy array, got {got}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InvalidInput("frames", f"{where}: expected shape [H, W, 3], got {list(frame.shape)}")
    h, w = frame.shape[:2]
    if size is not None and (h, w) != size:
        raise InvalidInput(
            "frames", f"{where}: size {w}×{h} differs from frame 0 ({size[1]}×{size[0]})"
        )
    if h == 0 or w == 0 or h % 2 or w % 2:
        # yuv420p subsamples chroma 2×2, so libx264 needs even sizes.
        raise InvalidInput("frames", f"{where}: width and height must be even and >0, got {w}×{h}")
    return frame


def _validated_frames(frames: Iterable[np.ndarray] | np.ndarray) -> Iterator[np.ndarray]:
    """Yield frames one by one, checking each as it arrives (all must match frame 0's size)."""
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise InvalidInput("frames", f"expected [T, H, W, 3], got shape {list(frames.shape)}")
    try:
        iterator = iter(frames)
    except TypeError:
        raise InvalidInput("frames", f"expected frames, got {type(frames).__name__}") from None
    size: tuple[int, int] | None = None
    for index, frame in enumerate(iterator):
        checked = _check_frame(frame, index, size)
        size = (checked.shape[0], checked.shape[1])
        yield checked


def write_mp4(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: int | float | Fraction = 25,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    crf: int = 23,
    preset: str = "veryfast",
) -> None:
    """Encode RGB frames (and optional audio) to an H.264/AAC MP4 at ``path``, atomically.

    frames: iterable of uint8 ``[H, W, 3]`` RGB arrays, or one ``[T, H, W, 3]`` array; H and W
        even and equal for all frames. fps: frames per second.
    audio: float ``[N]`` mono or ``[N, C]`` with C ≤ 2, in [-1, 1] (clipped), at ``audio_rate``
        Hz; None writes a silent video with no audio stream. Audio and video lengths need not
        match: nothing is padded or trimmed, and the file lasts as long as the longer stream.
    crf: x264 quality, 0 (lossless) – 51 (worst). preset: one of ``X264_PRESETS``.

    Bad arguments raise InvalidInput naming the argument; a bad frame found mid-stream does too,
    and the partial output is deleted.
    """
    rate = _check_fps(fps)
    hz = check_rate(audio_rate, "audio_rate")
    planar = None  # [C, N]: the AAC encoder takes planar float ("fltp")
    if audio is not None:
        samples = np.clip(check_samples(audio, "audio", max_channels=2), -1.0, 1.0)  # [N, C]
        planar = np.ascontiguousarray(samples.T)
    if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 51:
        raise InvalidInput("crf", f"expected an integer in 0–51, got {crf!r}")
    if preset not in X264_PRESETS:
        raise InvalidInput("preset", f"expected one of {', '.join(X264_PRESETS)}, got {preset!r}")
    stream = _validated_frames(frames)
    first = next(stream, None)
    if first is None:
        raise InvalidInput("frames", "no frames")
    height, width = first.shape[:2]

    with (
        atomic_output(path) as tmp,
        av.open(tmp, "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf), "preset": preset}
        sound: Any = None
        if planar is not None:
            sound = out.add_stream("aac", rate=hz)
            sound.layout = "mono" if planar.shape[0] == 1 else "stereo"
        n_audio = 0 if planar is None else planar.shape[1]  # samples per channel
        chunk = 0  # index of the next AAC frame to encode
        frame_time_base = 1 / rate  # s per frame, exact
        for index, frame in enumerate(itertools.chain([first], stream)):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = index, frame_time_base
            _encode_and_mux(out, video, vf)
            # Keep audio level with the video so the muxer interleaves as it goes instead of
            # buffering one whole stream until the other arrives.
            due = min(n_audio, math.ceil((index + 1) * hz * frame_time_base))  # samples
            while planar is not None and chunk * AAC_FRAME < due:
                _encode_and_mux(out, sound, _aac_frame(planar, chunk, hz, sound.layout))
                chunk += 1
        _encode_and_mux(out, video, None)  # flush
        if planar is not None:
            while chunk * AAC_FRAME < n_audio:
                _encode_and_mux(out, sound, _aac_frame(planar, chunk, hz, sound.layout))
                chunk += 1
            _encode_and_mux(out, sound, None)


def _aac_frame(planar: np.ndarray, chunk: int, hz: int, layout: Any) -> av.AudioFrame:
    """AAC frame number ``chunk`` of planar audio ``[C, N]``; only the last one may be short."""
    start = chunk * AAC_FRAME
    samples = np.ascontiguousarray(planar[:, start : start + AAC_FRAME])  # [C, ≤1024]
    frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
    frame.sample_rate, frame.pts, frame.time_base = hz, start, Fraction(1, hz)
    return frame


def _encode_and_mux(out: Any, stream: Any, frame: av.VideoFrame | av.AudioFrame | None) -> None:
    """Encode one frame (None flushes the encoder) and write the packets it yields."""
    for packet in stream.encode(frame):
        out.mux(packet)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Summarise a media file with ffprobe: duration (s), first video and first audio stream.

    Raises FailedPrecondition when ffprobe is not installed, InvalidInput("path") when the file
    is missing or ffprobe cannot parse it.
    """
    exe = shutil.which("ffprobe")
    if exe is None:
        raise FailedPrecondition("ffprobe not found: install ffmpeg (make setup does)")
    # An absolute path never starts with "-" or looks like a "proto:" URL to ffprobe.
    target = os.path.abspath(os.fspath(path))
    if not os.path.isfile(target):
        raise InvalidInput("path", f"no such file: {target}")
    cmd = [exe, "-v", "error", "-show_streams", "-show_format", "-of", "json", target]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"ffprobe took over {_PROBE_TIMEOUT_S} s on {target}") from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise InvalidInput("path", f"ffprobe cannot read {target}: {reason}")
    report = json.loads(proc.stdout or "{}")
    streams: list[dict[str, Any]] = report.get("streams", [])
    # Cover art in music files shows up as a one-frame "video" stream; it is not the video.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    duration = report.get("format", {}).get("duration")  # absent when unknown
    audio: AudioInfo | None = None
    if audios:
        a = audios[0]
        audio = {
            "codec": a.get("codec_name", "unknown"),
            "sample_rate": int(a.get("sample_rate", 0)),
            "channels": int(a.get("channels", 0)),
            "duration_s": _duration(a),
        }
    return {
        "duration_s": float(duration) if duration is not None else None,
        "video": _video_info(videos[0]) if videos else None,
        "audio": audio,
    }


def _video_info(s: dict[str, Any]) -> VideoInfo:
    num, _, den = str(s.get("r_frame_rate", "0/0")).partition("/")
    fps = int(num) / int(den) if num.isdigit() and den.isdigit() and int(den) else None
    frames = s.get("nb_frames")
    return {
        "codec": s.get("codec_name", "unknown"),
        "width": int(s.get("width", 0)),
        "height": int(s.get("height", 0)),
        "fps": fps or None,
        "num_frames": int(str(frames)) if str(frames).isdigit() else None,
        "pix_fmt": s.get("pix_fmt"),
        "duration_s": _duration(s),
    }
