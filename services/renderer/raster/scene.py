"""A set of 3-D Gaussians to splat (3DGS / RSATalker eq. 1): the renderer's input.

Per Gaussian k: mean μ_k, rotation (unit quaternion, ``wxyz``), per-axis standard deviations
s_k (so Σ_k = R S Sᵀ Rᵀ with S = diag(s_k)), opacity o_k and an RGB colour. Colours are plain
RGB (no spherical harmonics): the avatar binds view-independent colours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from dyad.errors import InvalidInput

_FIELDS = ("means", "quats", "scales", "opacities", "colors")
_WIDTH = {"means": 3, "quats": 4, "scales": 3, "opacities": None, "colors": 3}


@dataclass(eq=False)
class GaussianScene:
    means: np.ndarray  # [N, 3] float32 world positions
    quats: np.ndarray  # [N, 4] float32 rotations wxyz (need not be normalised, must not be 0)
    scales: np.ndarray  # [N, 3] float32 linear standard deviations (≥ 0; 0 = flat axis)
    opacities: np.ndarray  # [N] float32 in [0, 1]
    colors: np.ndarray  # [N, 3] float32 RGB in [0, 1]
    #: The surface the Gaussians are bound to, posed for this frame: vertices ``[V, 3]`` and
    #: faces ``[F, 3]``; video frames are matted to its silhouette (``matte``). None: no
    #: surface (loose Gaussians), no matte.
    surface: tuple[np.ndarray, np.ndarray] | None = None

    def __post_init__(self) -> None:
        for name in _FIELDS:
            value = getattr(self, name)
            try:
                arr = np.ascontiguousarray(value, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise InvalidInput(name, f"not a numeric array: {exc}") from None
            setattr(self, name, arr)

    @property
    def n(self) -> int:
        return int(self.means.shape[0]) if self.means.ndim >= 1 else 0

    def __len__(self) -> int:
        return self.n

    def validate(self) -> GaussianScene:
        """Shapes, finiteness and ranges; raises ``InvalidInput`` naming the field."""
        n = self.n
        for name in _FIELDS:
            arr: np.ndarray = getattr(self, name)
            width = _WIDTH[name]
            expected = (n,) if width is None else (n, width)
            if arr.shape != expected:
                raise InvalidInput(name, f"expected shape {expected}, got {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise InvalidInput(name, "must be finite")
        if self.surface is not None:
            verts, faces = (np.asarray(x) for x in self.surface)
            if verts.ndim != 2 or verts.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
                raise InvalidInput(
                    "surface", f"expected [V, 3] and [F, 3], got {verts.shape}, {faces.shape}"
                )
            if faces.size and (faces.min() < 0 or faces.max() >= len(verts)):
                raise InvalidInput("surface", "a face indexes a vertex that does not exist")
        if n == 0:
            return self
        if np.any(np.einsum("ij,ij->i", self.quats, self.quats) <= 0.0):
            raise InvalidInput("quats", "a rotation quaternion is zero")
        if np.any(self.scales < 0.0):
            raise InvalidInput("scales", "standard deviations must be ≥ 0")
        if np.any((self.opacities < 0.0) | (self.opacities > 1.0)):
            raise InvalidInput("opacities", "must lie in [0, 1]")
        if np.any((self.colors < 0.0) | (self.colors > 1.0)):
            raise InvalidInput("colors", "must lie in [0, 1]")
        return self

    @classmethod
    def empty(cls) -> GaussianScene:
        return cls(
            means=np.zeros((0, 3)),
            quats=np.zeros((0, 4)),
            scales=np.zeros((0, 3)),
            opacities=np.zeros((0,)),
            colors=np.zeros((0, 3)),
        )

    @classmethod
    def concat(cls, scenes: Iterable[GaussianScene]) -> GaussianScene:
        """All Gaussians of ``scenes`` in one scene (order kept); no scenes → empty. The
        scenes' surfaces are dropped (a frame of several heads is matted per head or not)."""
        parts = list(scenes)
        if not parts:
            return cls.empty()
        means, quats, scales, opacities, colors = (
            np.concatenate([getattr(s, name) for s in parts]) for name in _FIELDS
        )
        return cls(means, quats, scales, opacities, colors)

    def subset(self, index: np.ndarray | slice) -> GaussianScene:
        """The Gaussians selected by ``index`` (boolean mask, indices or slice), on the
        same surface."""
        means, quats, scales, opacities, colors = (getattr(self, n)[index] for n in _FIELDS)
        return GaussianScene(means, quats, scales, opacities, colors, self.surface)
