"""A tracked face on disk: the files ``dyad track`` writes per face.

    DIR/motion.npz     [T, 55] arkit55 motion at 25 fps (``dyad.motion_io``)
    DIR/track.npz      confidence [T], detected [T], landmarks [T, 478, 3], matrices [T, 4, 4],
                       intrinsics [6] (fx, fy, cx, cy, width, height), fps, face
    DIR/audio.wav      the video's audio, mono 16 kHz (absent when the video has none)
    DIR/cameras.json   one camera ``cam00``: K from the intrinsics, viewmat identity
                       (``capture/folder.py``; written last)
    DIR/frames/cam00/<t:06d>.png   with ``dyad track --frames``: the tracked 25 fps frames

The camera is the world origin: the tracked head pose lives in motion's headPitch/Yaw/Roll, not
in the camera. With the frames, DIR is a capture folder (``dyad avatar fit --frames DIR``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import SAMPLE_RATE, atomic_output, write_wav
from dyad.motion_io import load_motion, save_motion
from dyad.services.capture.folder import CameraSpec, write_cameras

from .tracker import RIG, FaceTrack

CAMERA = "cam00"
_ARRAYS = ("confidence", "detected", "landmarks", "matrices", "intrinsics")


def camera_spec(track: FaceTrack) -> CameraSpec:
    fx, fy, cx, cy, w, h = (float(v) for v in track.intrinsics)
    k = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return CameraSpec(int(w), int(h), k, np.eye(4))


def save_track(directory: str | Path, track: FaceTrack, *, audio: np.ndarray | None) -> Path:
    """Write ``track`` (and ``audio`` ``[N]`` at 16 kHz, if any) into ``directory`` (created if
    missing); each file atomically, ``cameras.json`` last."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_motion(directory / "motion.npz", track.motion, RIG, track.fps)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        confidence=track.confidence.astype(np.float32),
        detected=track.detected.astype(bool),
        landmarks=track.landmarks.astype(np.float32),
        matrices=track.matrices.astype(np.float32),
        intrinsics=track.intrinsics.astype(np.float64),
        fps=np.int64(track.fps),
        face=np.str_(track.face),
    )
    with atomic_output(directory / "track.npz") as tmp:
        Path(tmp).write_bytes(buf.getvalue())
    if audio is not None:
        write_wav(directory / "audio.wav", audio, SAMPLE_RATE, "PCM_16")
    write_cameras(directory, {CAMERA: camera_spec(track)}, track.num_frames, track.fps)
    return directory


def load_track(directory: str | Path, field: str = "track") -> FaceTrack:
    """Read what ``save_track`` wrote."""
    directory = Path(directory)
    clip = load_motion(directory / "motion.npz", field=f"{field} motion.npz")
    if clip.rig.name != RIG:
        raise InvalidInput(field, f"{directory}/motion.npz: rig {clip.rig.name}, expected {RIG}")
    path = directory / "track.npz"
    if not path.is_file():
        raise InvalidInput(field, f"{directory} has no track.npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {n: z[n] for n in _ARRAYS}
            face = str(z["face"])
    except (OSError, KeyError, ValueError) as e:
        raise InvalidInput(field, f"{path}: not a track file ({e})") from e
    t = clip.motion.shape[0]
    shapes = {
        "confidence": (t,),
        "detected": (t,),
        "landmarks": (t, 478, 3),
        "matrices": (t, 4, 4),
        "intrinsics": (6,),
    }
    for name, shape in shapes.items():
        if arrays[name].shape != shape:
            raise InvalidInput(field, f"{path}: {name} is {arrays[name].shape}, expected {shape}")
    return FaceTrack(
        motion=clip.motion.astype(np.float32),
        confidence=arrays["confidence"].astype(np.float32),
        detected=arrays["detected"].astype(bool),
        landmarks=arrays["landmarks"].astype(np.float32),
        matrices=arrays["matrices"].astype(np.float32),
        intrinsics=arrays["intrinsics"].astype(np.float64),
        fps=clip.fps,
        face=face,
    )
