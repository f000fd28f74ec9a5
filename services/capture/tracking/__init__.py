"""Face tracking from video (issue 18 item 1): ``dyad track``.

``track_video`` → ``FaceTrack`` (arkit55 motion at 25 fps, confidence, landmarks, head
matrices, intrinsics); ``save_track`` / ``load_track`` (``store.py``); ``read_video_frames`` and
``extract_audio_16k`` (``video.py``). Pure numpy / PyAV / MediaPipe: no service is imported.

The names load lazily (PEP 562): ``tracking.cli`` sits in this package and must not pull av or
mediapipe into ``dyad``'s start-up (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import load_track, save_track
    from .tracker import FACES, FaceTrack, track_video
    from .video import extract_audio_16k, read_video_frames

_WHERE = {
    "load_track": "store",
    "save_track": "store",
    "FACES": "tracker",
    "FaceTrack": "tracker",
    "track_video": "tracker",
    "extract_audio_16k": "video",
    "read_video_frames": "video",
}
__all__ = [
    "FACES",
    "FaceTrack",
    "extract_audio_16k",
    "load_track",
    "read_video_frames",
    "save_track",
    "track_video",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
