"""Real people → DualTalk's layout: ``dyad dataset from-video``.

Two sources, both giving speaker A (``speaker1``) and speaker B (``speaker2``):

- ``video``: one video with the two people side by side. Both faces are tracked
  (``track_video(face="both")``: left → A, right → B). The one mono sound track is split
  between the speakers by who moves their mouth (``split_by_mouth``): per frame, each face's
  mouth activity (the short-time spread and speed of its jawOpen) gives soft weights
  ``w_a = act_a² / (act_a² + act_b²)`` (``w_b = 1 − w_a``), smoothed over 0.2 s and ramped
  linearly between frame centres, and each track is the mix times its weight (the sum of the
  two tracks is the mix). Plain mouth-based assignment: a listener's mouth movements (a smile,
  a backchannel) take some of the sound; a shared room tail goes to whoever moves.
- ``video_a`` + ``video_b``: two videos, one person each (the largest face). Each video's own
  audio is its speaker's track. The two are aligned at their starts and trimmed to the
  shorter (they are not assumed to be one conversation; this gives real single-person motion
  with its own audio on both sides).

Then: the pair is cut to ``T`` frames, the fewest of the two motions and the two audio
lengths (ceil(samples / 640)), and both tracks to exactly ``T · 640`` samples. Frames where
either face was not detected are EXCLUDED: the clip is split into runs where both faces
were found, each run into windows of ``window_s`` seconds (20 s, the synthetic corpus's
usual clip), a run's remainder kept as a shorter clip when it lasts at least
``min_window_s``; shorter runs are dropped. Each window is one clip
``real_<index:06d>`` in ``split``, with the usual files and a sidecar / ``metadata.jsonl``
line saying where it came from (video, first frame, detection confidence, how the audio was
split). The corpus is written into a hidden temporary directory beside ``out`` and renamed
onto it, so a failure never leaves half a corpus.

This root imports the capture root's tracker (``dyad.services.capture.tracking``): a
composition root importing another root, which the architecture allows (no service imports
either).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dyad.dataset.layout import SPLITS, metadata_line, motion_arrays, npz_bytes, wav_bytes
from dyad.domain import Relation
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.timebase import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME

FORMAT = "dyad.real-dyadic/1"
ARKIT = get_rig("arkit55")
JAW = ARKIT.index("jawOpen")
ACTIVITY_S = 0.4  # window of the mouth-activity measure
SMOOTH_S = 0.2  # smoothing of the per-frame speaker weights
MIN_ACTIVITY = 1e-4  # below this for both faces, the sound is shared equally

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Tracked:
    """One speaker's tracked face, cut to the pair's common length later."""

    source: str
    motion: np.ndarray  # [T, 55] arkit55 at 25 fps
    detected: np.ndarray  # [T] bool
    confidence: np.ndarray  # [T] float, 0 where not detected


@dataclass(frozen=True)
class FromVideoReport:
    out_dir: Path
    clips: int
    frames_total: int  # common length of the pair, frames
    frames_kept: int  # frames inside written clips
    audio: str  # "separate" or "split-by-mouth"


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of ``[T]`` with edge values repeated (same length)."""
    if width <= 1:
        return x.astype(np.float64)
    pad = np.pad(x.astype(np.float64), (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(pad, np.full(width, 1.0 / width), mode="valid")


def mouth_activity(motion: np.ndarray) -> np.ndarray:
    """``[T]`` how much a face's mouth moves around each frame: the local standard deviation
    of jawOpen plus its mean absolute speed, over ``ACTIVITY_S``."""
    jaw = motion[:, JAW].astype(np.float64)
    width = max(1, round(ACTIVITY_S * FPS))
    mean = _moving_average(jaw, width)
    spread = np.sqrt(np.maximum(_moving_average(jaw**2, width) - mean**2, 0.0))
    speed = _moving_average(np.abs(np.diff(jaw, prepend=jaw[:1])), width)
    return spread + speed


def split_by_mouth(
    audio: np.ndarray, motion_a: np.ndarray, motion_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One mono mix ``[T·640]`` → (track A, track B, weight of A per frame ``[T]``)."""
    act_a, act_b = mouth_activity(motion_a), mouth_activity(motion_b)
    total = act_a**2 + act_b**2
    w_a = np.where(total > MIN_ACTIVITY**2, act_a**2 / np.maximum(total, 1e-30), 0.5)
    w_a = np.clip(_moving_average(w_a, max(1, round(SMOOTH_S * FPS))), 0.0, 1.0)
    centres = (np.arange(w_a.size) + 0.5) * SAMPLES_PER_FRAME
    gain = np.interp(np.arange(audio.size), centres, w_a).astype(np.float32)  # [N]
    return audio * gain, audio * (1.0 - gain), w_a


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Maximal ``[start, end)`` runs of True in ``[T]``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def windows(detected: np.ndarray, window: int, min_window: int) -> list[tuple[int, int]]:
    """``[start, end)`` clips: each detected run cut into ``window``-frame pieces, the last
    piece kept when it has at least ``min_window`` frames."""
    out = []
    for start, end in runs(detected):
        for s in range(int(start), int(end), window):
            e = min(s + window, int(end))
            if e - s >= min_window:
                out.append((s, e))
    return out


def _as_tracked(track: Any, source: str) -> Tracked:
    motion = ARKIT.validate(np.asarray(track.motion, np.float32), field_name=source)
    t = motion.shape[0]
    detected = np.asarray(track.detected, bool).reshape(t)
    confidence = np.asarray(track.confidence, np.float32)
    if confidence.shape != (t,):
        confidence = np.full(t, float(np.mean(confidence)), np.float32)
    return Tracked(source, motion, detected, np.where(detected, confidence, 0.0))


def _fit_audio(audio: np.ndarray, frames: int) -> np.ndarray:
    n = frames * SAMPLES_PER_FRAME
    return np.pad(np.asarray(audio, np.float32)[:n], (0, max(0, n - audio.size)))


def check_sources(
    video: Path | None, video_a: Path | None, video_b: Path | None
) -> list[tuple[str, Path]]:
    """The (flag, path) pairs to read; InvalidInput when the combination or a file is wrong."""
    if video is not None and (video_a is not None or video_b is not None):
        raise InvalidInput("--video", "give either --video or --video-a with --video-b")
    if video is None and (video_a is None or video_b is None):
        raise InvalidInput("--video", "give --video, or both --video-a and --video-b")
    given = (
        [("--video", video)]
        if video is not None
        else [("--video-a", video_a), ("--video-b", video_b)]
    )
    sources = [(flag, Path(p)) for flag, p in given if p is not None]
    for flag, path in sources:
        if not path.is_file():
            raise InvalidInput(flag, f"{path} is not a file")
    return sources


def check_out(out: Path, split: str, window_s: float, min_window_s: float) -> None:
    if split not in SPLITS:
        raise InvalidInput("--split", f"{split!r} is not one of {list(SPLITS)}")
    if not 1.0 <= window_s <= 600.0:
        raise InvalidInput("--seconds", f"expected 1–600 s, got {window_s}")
    if not 0.04 <= min_window_s <= window_s:
        raise InvalidInput("--min-seconds", f"expected 0.04 s – --seconds, got {min_window_s}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput("--out", f"{out} exists and is not an empty directory")
    if not out.parent.is_dir():
        raise InvalidInput("--out", f"parent directory {out.parent} does not exist")


def track_sources(
    sources: Sequence[tuple[str, Path]], max_side: int, progress: Progress | None = None
) -> tuple[Tracked, Tracked, np.ndarray, np.ndarray, str]:
    """(A, B, audio A, audio B, how the audio was split) from one or two videos."""
    from dyad.services.capture.tracking import extract_audio_16k, track_video

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    def audio_of(flag: str, path: Path) -> np.ndarray:
        audio = extract_audio_16k(path)
        if audio is None or audio.size == 0:
            raise FailedPrecondition(f"{flag}: {path} has no audio stream")
        return audio

    if len(sources) == 1:
        flag, path = sources[0]
        say(f"tracking both faces in {path.name}")
        tracks = track_video(path, face="both", max_side=max_side)
        if len(tracks) != 2:
            raise FailedPrecondition(f"{flag}: expected two faces in {path}, found {len(tracks)}")
        a = _as_tracked(tracks[0], f"{path.name}:left")
        b = _as_tracked(tracks[1], f"{path.name}:right")
        mix = audio_of(flag, path)
        t = min(a.motion.shape[0], b.motion.shape[0], -(-mix.size // SAMPLES_PER_FRAME))
        track_a, track_b, _ = split_by_mouth(_fit_audio(mix, t), a.motion[:t], b.motion[:t])
        return a, b, track_a, track_b, "split-by-mouth"
    found = []
    for flag, path in sources:
        say(f"tracking {path.name}")
        tracks = track_video(path, face="largest", max_side=max_side)
        if not tracks:
            raise FailedPrecondition(f"{flag}: no face found in {path}")
        found.append((_as_tracked(tracks[0], path.name), audio_of(flag, path)))
    (a, audio_a), (b, audio_b) = found
    return a, b, audio_a, audio_b, "separate"


def corpus_from_video(
    out: str | Path,
    *,
    video: str | Path | None = None,
    video_a: str | Path | None = None,
    video_b: str | Path | None = None,
    split: str = "train",
    window_s: float = 20.0,
    min_window_s: float = 4.0,
    max_side: int = 1280,
    relation: Relation | None = None,
    progress: Progress | None = None,
) -> FromVideoReport:
    """Track the video(s) and write the corpus ``out`` (see the module docstring).

    ``relation``: what the two people are to each other, when known; it goes into every
    clip's metadata (social models train only on clips that have one). None: unknown."""
    out = Path(out)
    sources = check_sources(
        None if video is None else Path(video),
        None if video_a is None else Path(video_a),
        None if video_b is None else Path(video_b),
    )
    check_out(out, split, window_s, min_window_s)
    a, b, audio_a, audio_b, audio_mode = track_sources(sources, max_side, progress)
    frames = min(
        a.motion.shape[0],
        b.motion.shape[0],
        -(-audio_a.size // SAMPLES_PER_FRAME),
        -(-audio_b.size // SAMPLES_PER_FRAME),
    )
    audio_a, audio_b = _fit_audio(audio_a, frames), _fit_audio(audio_b, frames)
    both = a.detected[:frames] & b.detected[:frames]  # [T]
    clips = windows(both, round(window_s * FPS), max(1, round(min_window_s * FPS)))
    if not clips:
        raise FailedPrecondition(
            f"no stretch of {min_window_s:g} s with both faces detected "
            f"({int(both.sum())} of {frames} frames detected)"
        )
    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / split).mkdir(parents=True)
    try:
        lines = []
        for index, (s, e) in enumerate(clips):
            meta = _write_clip(tmp / split, index, s, e, a, b, audio_a, audio_b)
            meta.update({"split": split, "audio": audio_mode, "format": FORMAT})
            if relation is not None:
                meta["relation"] = relation.to_dict()
            lines.append(metadata_line(meta) + "\n")
            (tmp / split / f"{meta['clip']}.json").write_text(lines[-1])
        (tmp / "metadata.jsonl").write_text("".join(lines))
        if out.is_dir():
            out.rmdir()  # empty (checked above): the rename needs the name free
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    kept = sum(e - s for s, e in clips)
    return FromVideoReport(out, len(clips), frames, kept, audio_mode)


def _write_clip(
    folder: Path,
    index: int,
    start: int,
    end: int,
    a: Tracked,
    b: Tracked,
    audio_a: np.ndarray,
    audio_b: np.ndarray,
) -> dict[str, Any]:
    clip = f"real_{index:06d}"
    s0, s1 = start * SAMPLES_PER_FRAME, end * SAMPLES_PER_FRAME
    for tag, track, audio in (("speaker1", a, audio_a), ("speaker2", b, audio_b)):
        (folder / f"{clip}_{tag}.wav").write_bytes(wav_bytes(audio[s0:s1]))
        arrays = motion_arrays(track.motion[start:end], "arkit55")
        (folder / f"{clip}_{tag}.npz").write_bytes(npz_bytes(arrays))
    return {
        "clip": clip,
        "index": index,
        "rig": "arkit55",
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "frames": end - start,
        "duration_s": round((end - start) / FPS, 6),
        "sources": {"a": a.source, "b": b.source},
        "source_start_frame": start,
        "confidence": {
            "a": round(float(a.confidence[start:end].mean()), 4),
            "b": round(float(b.confidence[start:end].mean()), 4),
        },
    }
