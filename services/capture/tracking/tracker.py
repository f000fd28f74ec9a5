"""Face tracking: a video → per-face ``arkit55`` motion at 25 fps, landmarks, head matrices.

MediaPipe's Face Landmarker runs in VIDEO mode (it carries the face from frame to frame) on the
25 fps frames of ``video.iter_frames``, up to two faces per frame. Per frame the faces are
assigned to the requested track(s) (``select``); frames where a track has no face are filled
by linear interpolation (held at the ends) and flagged in ``detected``; the motion and
landmarks are then smoothed without lag (``filters.smooth_zero_phase``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import InvalidInput
from dyad.rigs import ARKIT_BLENDSHAPES, get_rig
from dyad.timebase import FPS

from .filters import interpolate_missing, smooth_zero_phase
from .pose import matrices_to_pose
from .video import FIELD, MIN_SECONDS, intrinsics, iter_frames, probe_video

FACES = ("largest", "left", "right", "both")
NUM_LANDMARKS = 478
RIG = "arkit55"
#: Smoothing (one-euro, run both ways): blendshape scores (0–1; a blink moves ~10/s and lifts
#: the cutoff by beta·10 Hz), head angles (radians), landmarks (pixels).
SMOOTH_BLENDSHAPES = {"min_cutoff_hz": 2.0, "beta": 1.0}
SMOOTH_POSE = {"min_cutoff_hz": 1.0, "beta": 2.0}
SMOOTH_LANDMARKS = {"min_cutoff_hz": 2.0, "beta": 0.05}
#: Head-angle disagreement (raw vs smoothed) at which confidence falls to 1/e.
CONFIDENCE_POSE_DEG = 5.0


@dataclass(frozen=True)
class FaceTrack:
    """One tracked face over ``T`` frames at ``fps``.

    motion: ``[T, 55]`` float32, rig ``arkit55`` (51 blendshapes from the landmarker by name,
        ``tongueOut`` 0; headPitch/Yaw/Roll in radians, DESIGN.md §2, ``pose.py``).
    confidence: ``[T]`` float32 in 0–1, 0 where no face (see ``_confidence``).
    detected: ``[T]`` bool, False where the values are interpolated.
    landmarks: ``[T, 478, 3]`` float32: x, y in pixels of the tracked frame, z MediaPipe's
        relative depth × frame width (same scale as x; smaller is nearer the camera).
    matrices: ``[T, 4, 4]`` float32 facial transformation matrices (canonical face → camera,
        centimetres, camera looking along −z), raw: interpolated, not smoothed.
    intrinsics: ``[6]`` float64 fx, fy, cx, cy, width, height of the tracked frames.
    """

    motion: np.ndarray
    confidence: np.ndarray
    detected: np.ndarray
    landmarks: np.ndarray
    matrices: np.ndarray
    intrinsics: np.ndarray
    fps: int = FPS
    face: str = "largest"  # which face of the video: largest, left or right

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the tracked frames."""
        return int(self.intrinsics[4]), int(self.intrinsics[5])


@dataclass
class _Face:
    """One face found in one frame."""

    x: float  # centre, pixels
    area: float  # landmark bounding box, pixels²
    landmarks: np.ndarray  # [478, 3] pixels
    scores: np.ndarray  # [51] in ARKIT_BLENDSHAPES order (tongueOut excluded)
    matrix: np.ndarray  # [4, 4]


_READ = tuple(n for n in ARKIT_BLENDSHAPES if n != "tongueOut")  # the 51 the landmarker gives


def _faces(result: Any, width: int, height: int) -> list[_Face]:
    faces = []
    for marks, shapes, matrix in zip(
        result.face_landmarks,
        result.face_blendshapes,
        result.facial_transformation_matrixes,
        strict=True,
    ):
        pts = np.array([(p.x * width, p.y * height, p.z * width) for p in marks], np.float64)
        by_name = {c.category_name: c.score for c in shapes}
        lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
        faces.append(
            _Face(
                float((lo[0] + hi[0]) / 2),
                float(np.prod(hi - lo)),
                pts,
                np.array([by_name.get(n, 0.0) for n in _READ], np.float64),
                np.asarray(matrix, np.float64).reshape(4, 4),
            )
        )
    return faces


def select(faces: list[_Face], face: str, last: dict[str, float], width: int) -> dict[str, _Face]:
    """The faces of one frame per track name. ``largest``: the largest bounding box. ``left``
    / ``right`` / ``both``: two faces are told apart by horizontal position; a lone face goes
    to the side whose last position (``last``, updated here; at first the quarter of the frame
    on that side) is nearer."""
    if not faces:
        return {}
    if face == "largest":
        return {"largest": max(faces, key=lambda f: f.area)}
    if len(faces) >= 2:
        two = sorted(sorted(faces, key=lambda f: -f.area)[:2], key=lambda f: f.x)
        sides = {"left": two[0], "right": two[1]}
    else:
        ref_l, ref_r = last.get("left", 0.25 * width), last.get("right", 0.75 * width)
        lone = faces[0]
        sides = {"left" if abs(lone.x - ref_l) <= abs(lone.x - ref_r) else "right": lone}
    for name, f in sides.items():
        last[name] = f.x
    if face == "both":
        return sides
    return {face: sides[face]} if face in sides else {}


def _confidence(
    found: np.ndarray, landmarks: np.ndarray, raw_pose: np.ndarray, pose: np.ndarray, size: tuple
) -> np.ndarray:
    """``[T]``: 0 where no face; else the fraction of the 478 landmarks inside the frame (a
    face cut by the border counts less) × exp(−Δ/5°), Δ the largest gap between the frame's
    raw head angles and the smoothed track (a frame that jumps away from its neighbours — a
    misdetection, an occlusion — counts less). MediaPipe's tasks API reports no per-face
    presence score, hence these two measurable proxies."""
    w, h = size
    x, y = landmarks[..., 0], landmarks[..., 1]
    inside = ((x >= 0) & (x < w) & (y >= 0) & (y < h)).mean(axis=1)
    gap_deg = np.degrees(np.abs(raw_pose - pose).max(axis=1))
    conf = inside * np.exp(-gap_deg / CONFIDENCE_POSE_DEG)
    return np.where(found, conf, 0.0).astype(np.float32)


def _build(
    per_frame: list[_Face | None], face: str, k: np.ndarray, size: tuple[int, int]
) -> FaceTrack:
    t_count = len(per_frame)
    found = np.array([f is not None for f in per_frame])
    scores = np.zeros((t_count, len(_READ)))
    marks = np.zeros((t_count, NUM_LANDMARKS, 3))
    mats = np.tile(np.eye(4), (t_count, 1, 1))
    for t, f in enumerate(per_frame):
        if f is not None:
            scores[t], marks[t], mats[t] = f.scores, f.landmarks, f.matrix
    scores = interpolate_missing(scores, found)
    marks = interpolate_missing(marks, found)
    mats = interpolate_missing(mats, found)
    raw_pose = np.unwrap(matrices_to_pose(mats), axis=0)  # [T, 3]; unwrapped so it filters
    pose = smooth_zero_phase(raw_pose, FPS, **SMOOTH_POSE)
    scores = np.clip(smooth_zero_phase(scores, FPS, **SMOOTH_BLENDSHAPES), 0.0, 1.0)
    marks = smooth_zero_phase(marks, FPS, **SMOOTH_LANDMARKS)
    rig = get_rig(RIG)
    motion = np.zeros((t_count, len(rig.channels)), np.float32)  # tongueOut stays 0
    for j, name in enumerate(_READ):
        motion[:, rig.channels.index(name)] = scores[:, j]
    motion[:, -3:] = pose
    return FaceTrack(
        motion=motion,
        confidence=_confidence(found, marks, raw_pose, pose, size),
        detected=found,
        landmarks=marks.astype(np.float32),
        matrices=mats.astype(np.float32),
        intrinsics=k,
        fps=FPS,
        face=face,
    )


def track_video(
    path: Path,
    *,
    face: str = "largest",
    max_side: int = 1280,
    focal_px: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_frame: Callable[[int, np.ndarray], None] | None = None,
    model: Path | None = None,
) -> list[FaceTrack]:
    """Track the face(s) of the video at ``path``: one ``FaceTrack`` (``largest``, ``left``,
    ``right``), or two (``both``: left, then right).

    ``max_side``: frames with a longer side are resized to it first (a 4K clip is tracked at
    1280 px; landmarks and intrinsics refer to the resized frames). ``focal_px``: the focal
    length at the tracked size (default: ``video.ASSUMED_FOV_Y_DEG``). ``progress(done,
    total)``: after each frame (total: the expected count, or 0 when the container does not
    say). ``on_frame(t, rgb)``: each 25 fps frame as tracked (``dyad track --frames`` saves
    them). ``model``: the landmarker file (default ``DYAD_TRACK_MODEL``, else the wheel's).

    Bad input raises before frames are decoded where it can be known then: ``--face``, the
    model (``ConfigError``), an unreadable or too short video; after decoding, a clip that
    turned out shorter than a second or in which no frame has a face (``InvalidInput``).
    """
    import mediapipe as mp

    from dyad.services.capture.settings import CaptureSettings

    from .landmarker import load_model_bytes, open_landmarker, quiet_native_stderr

    if face not in FACES:
        raise InvalidInput("--face", f"expected one of {', '.join(FACES)}, got {face!r}")
    if max_side < 64:
        raise InvalidInput("--max-side", f"must be at least 64, got {max_side}")
    weights = load_model_bytes(
        model if model is not None else CaptureSettings.from_env().track_model
    )
    meta = probe_video(path)
    width, height = meta.tracked_size(max_side)
    k = intrinsics(width, height, focal_px)
    total = meta.num_frames() or 0
    names = ("left", "right") if face == "both" else (face,)
    picked: dict[str, list[_Face | None]] = {n: [] for n in names}
    last: dict[str, float] = {}
    landmarker = open_landmarker(weights, num_faces=2)
    try:
        for t, frame in enumerate(iter_frames(path, max_side=max_side)):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame))
            stamp_ms = round(t * 1000 / FPS)
            if t == 0:  # the first inference logs its delegate set-up from C++
                with quiet_native_stderr():
                    result = landmarker.detect_for_video(image, stamp_ms)
            else:
                result = landmarker.detect_for_video(image, stamp_ms)
            chosen = select(_faces(result, width, height), face, last, width)
            for n in names:
                picked[n].append(chosen.get(n))
            if on_frame is not None:
                on_frame(t, frame)
            if progress is not None:
                progress(t + 1, max(total, t + 1))
    finally:
        landmarker.close()
    count = len(picked[names[0]])
    if count < MIN_SECONDS * FPS:
        raise InvalidInput(FIELD, f"{path} gave {count} frames at {FPS} fps, under {MIN_SECONDS} s")
    for n in names:
        if not any(f is not None for f in picked[n]):
            which = "" if face == "largest" else f" on the {n}"
            raise InvalidInput(FIELD, f"no face found{which} in any of {count} frames of {path}")
    return [_build(picked[n], n, k, (width, height)) for n in names]
