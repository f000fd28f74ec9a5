"""``ProceduralHead``: the built-in head (no data files), posed by ``arkit55`` clips."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dyad.rigs import get_rig

from .blendshapes import BlendshapeRig, build_blendshapes
from .mesh import HeadGeometry, build_geometry
from .model import apply_head_pose, rotate_about_axis, validated_clip
from .shape import HairStyle, HeadShape

if TYPE_CHECKING:
    from .appearance import Appearance

_N_BLENDSHAPES = 52


class ProceduralHead:
    """A closed head-and-neck mesh with eyes, teeth and tongue, and 52 ARKit blendshapes.

    Implements ``HeadModel`` with rig ``arkit55``. Deterministic: the same ``shape`` and
    ``hair`` give bit-identical arrays.
    """

    def __init__(self, shape: HeadShape | None = None, hair: HairStyle = HairStyle.SHORT) -> None:
        self.shape = shape if shape is not None else HeadShape()
        self.hair = HairStyle(hair)
        self.rig = get_rig("arkit55")
        self.geometry: HeadGeometry = build_geometry(self.shape, self.hair)
        self.blendshapes: BlendshapeRig = build_blendshapes(self.geometry)
        self.faces = self.geometry.faces  # [F, 3] int32
        self.face_labels = self.geometry.labels  # [F] int8
        self._neutral = self.geometry.vertices.astype(np.float32)  # [V, 3]
        # Only vertices some blendshape moves take part in the delta product.
        deltas = self.blendshapes.deltas  # [52, V, 3]
        self._active = np.flatnonzero(np.any(deltas != 0.0, axis=(0, 2)))
        self._flat_deltas = np.ascontiguousarray(
            deltas[:, self._active].reshape(_N_BLENDSHAPES, -1)
        )

    @classmethod
    def from_appearance(cls, appearance: Appearance) -> ProceduralHead:
        """The head matching an ``appearance.Appearance`` (shape and hair)."""
        return cls(appearance.shape, appearance.hair)

    @property
    def num_vertices(self) -> int:
        return len(self._neutral)

    def neutral(self) -> np.ndarray:
        """``[V, 3]`` float32 rest pose."""
        return self._neutral.copy()

    def pose(self, motion: np.ndarray) -> np.ndarray:
        """``[T, 55]`` arkit55 clip → ``[T, V, 3]`` float32.

        Order: linear blendshape deltas, then the rotators (jaw, eyelids, eyeballs), then the
        head turn about the neck pivot with the neck's skinning falloff (DESIGN §2 angles).
        """
        clip = validated_clip(self.rig, motion)  # [T, 55]
        n_t = clip.shape[0]
        weights = clip[:, :_N_BLENDSHAPES]  # [T, 52]
        # Vertex-major [V, T, 3] while deforming, so each rotator gathers contiguous rows.
        verts = np.repeat(self._neutral[:, None, :], n_t, axis=1)  # [V, T, 3]
        moved = (weights @ self._flat_deltas).reshape(n_t, -1, 3)  # [T, A, 3]
        verts[self._active] += moved.transpose(1, 0, 2)
        for rot in self.blendshapes.rotators:
            drive = weights[:, rot.channels] @ rot.coeffs  # [T]
            if not np.any(drive):
                continue
            angle = rot.angles[:, None] * drive[None, :]  # [n, T]
            verts[rot.vertices] = rotate_about_axis(verts[rot.vertices], rot.pivot, rot.axis, angle)
        verts = np.ascontiguousarray(verts.transpose(1, 0, 2))  # [T, V, 3]
        pose = clip[:, _N_BLENDSHAPES:]  # [T, 3] pitch, yaw, roll
        if np.any(pose):
            verts = apply_head_pose(
                verts, pose, self.blendshapes.neck_pivot, self.blendshapes.head_weights
            )
        return verts.astype(np.float32, copy=False)
