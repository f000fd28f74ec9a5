"""Feature files (DESIGN.md §2): ``.npy`` holding ``[T, D]`` float32 at 25 fps.

The audio encoder writes them (``features_bytes``); the motion model and the refiner read them
(``load_features``, ``load_feature_pair``) instead of encoding audio again. A consumer fits a
clip to its own frame count (``fit_frames``): the encoder gives ``ceil(samples / 640)`` frames,
a conversation's motion may differ by a frame or so at the end.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from dyad.domain import StoredFeatures
from dyad.errors import InvalidInput
from dyad.media.arrays import load_npy
from dyad.storage import ArtifactStore
from dyad.timebase import FPS

NPY_CONTENT_TYPE = "application/x-npy"
#: Features may end this many frames (1 s) before or after the motion they condition.
MAX_FRAME_MISMATCH = FPS


def features_bytes(features: np.ndarray) -> bytes:
    """The ``.npy`` bytes of ``[T, D]`` features (float32, no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def load_features(data: bytes, *, field: str = "features") -> np.ndarray:
    """A ``.npy`` of finite ``[T, D]`` values → float32; anything else names ``field``.

    The header is checked before the data is read (``dyad.media.arrays.load_npy``)."""
    arr = load_npy(data, field=field)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInput(field, f"expected [T, D] features, got shape {list(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
        raise InvalidInput(field, "expected finite float values")
    return arr.astype(np.float32, copy=False)


def fit_frames(features: np.ndarray, frames: int) -> np.ndarray:
    """Cut ``[T', D]`` to ``frames`` rows, or repeat the last row up to it (float32)."""
    if features.shape[0] >= frames:
        out = features[:frames]
    elif features.shape[0] == 0:
        out = np.zeros((frames, features.shape[1]), dtype=np.float32)
    else:
        out = np.pad(features, ((0, frames - features.shape[0]), (0, 0)), mode="edge")
    return np.ascontiguousarray(out, dtype=np.float32)


@dataclass(frozen=True)
class FeatureShape:
    """What a feature clip claims (a stored ref) or is (an array): ``[num_frames, dim]``."""

    num_frames: int
    dim: int
    backend: str = ""

    @classmethod
    def of(cls, features: StoredFeatures | np.ndarray) -> FeatureShape:
        if isinstance(features, StoredFeatures):
            return cls(features.num_frames, features.dim, features.backend)
        return cls(int(features.shape[0]), int(features.shape[-1]))


def _check(name: str, shape: FeatureShape, frames: int, dim: int, wants: str) -> None:
    # A zero is an unknown claim (an older client left the field unset): the array decides.
    if shape.dim and shape.dim != dim:
        what = f"{shape.backend} features" if shape.backend else "features"
        raise InvalidInput(f"{name}.dim", f"{shape.dim} ({what}); {wants} reads {dim}")
    if shape.num_frames and abs(shape.num_frames - frames) > MAX_FRAME_MISMATCH:
        raise InvalidInput(f"{name}.num_frames", f"{shape.num_frames}; the motion has {frames}")


def check_feature_shapes(
    shapes: tuple[FeatureShape, FeatureShape], frames: int, dim: int, *, field: str, wants: str
) -> None:
    """Both speakers' features fit ``frames`` motion frames (within ``MAX_FRAME_MISMATCH``)
    and have ``dim`` columns; checked before anything is downloaded or computed. ``wants``
    names the reader in the error."""
    for speaker, shape in zip("ab", shapes, strict=True):
        _check(f"{field}_{speaker}", shape, frames, dim, wants)


def load_feature_pair(
    store: ArtifactStore,
    pair: tuple[StoredFeatures, StoredFeatures],
    frames: int,
    dim: int,
    *,
    field: str = "features",
    wants: str = "the model",
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' features from the store as ``[frames, dim]`` float32 (``fit_frames``);
    the claims are checked before the download and the arrays' own shapes after it."""
    check_feature_shapes(
        (FeatureShape.of(pair[0]), FeatureShape.of(pair[1])), frames, dim, field=field, wants=wants
    )
    out = []
    for speaker, f in zip("ab", pair, strict=True):
        name = f"{field}_{speaker}"
        try:
            data = store.get_bytes(f.artifact if f.artifact.sha256 else f.artifact.uri)
        except InvalidInput as e:  # a URI outside this store
            raise InvalidInput(f"{name}.artifact.uri", e.reason) from None
        arr = load_features(data, field=name)
        _check(name, FeatureShape.of(arr), frames, dim, wants)
        out.append(fit_frames(arr, frames))
    return out[0], out[1]
