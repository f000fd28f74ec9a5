"""Cropping MakeHuman's whole-body base mesh to a bust, and labelling its faces.

Everything here is in MakeHuman units (decimetres, +y up, facing +z, +x the figure's left);
``model.HumanHead`` converts to head coordinates in metres. The bust keeps the ``body`` faces
above the top of the shoulders and the head's helper groups (eyeballs, teeth, tongue,
eyelashes); each bust vertex remembers its base-mesh index so targets still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import Material
from .data import BaseMesh

#: Base-mesh groups that belong to the head (the hair, tights, skirt and genital helpers and
#: the joint cubes are dropped).
HEAD_GROUPS = (
    "body",
    "helper-l-eye",
    "helper-r-eye",
    "helper-upper-teeth",
    "helper-lower-teeth",
    "helper-tongue",
    "helper-l-eyelashes-1",
    "helper-l-eyelashes-2",
    "helper-r-eyelashes-1",
    "helper-r-eyelashes-2",
)
#: Bust crop: body faces entirely above ``Y_MIN`` and within ``±X_MAX`` (decimetres). The
#: chin is at y ≈ 6.16, the neck joint at 5.89, the shoulder joints at (±1.68, 5.25).
Y_MIN = 4.7  # below the frame of every camera (a jagged edge must never show)
X_MAX = 2.1

# Face-label landmarks (decimetres), measured on hm08 and its face units: mouth corners at
# (±0.25, 6.65) (mouthSmile's peak), lip seam 6.63, upper lip top ≈ 6.79, lower lip bottom
# ≈ 6.49, lips' front z ≈ 1.5–1.6.
_MOUTH_CENTRE = np.array([0.0, 6.64, 1.0])
_LIP_HALF_WIDTH = 0.26
_LIP_HALF_HEIGHT = 0.16
# Brows: between these heights (the eyes' centres are at y 7.28), not across the nose …
_BROW_Y = (7.42, 7.66)
_BROW_INNER_X = 0.07
# … and within a brow's outline: a centre line arching over the eye and a half-height that
# tapers from the head of the brow (≈ 1.3 cm tall) to its tail (≈ 5 mm), by |x| (dm). The
# brow units' whole band (2–2.4 cm) drawn dark read as a painted bar.
_BROW_OUTLINE_X = np.array([0.07, 0.2, 0.35, 0.5, 0.56])
_BROW_OUTLINE_Y = np.array([7.51, 7.54, 7.56, 7.52, 7.49])
_BROW_OUTLINE_HALF = np.array([0.065, 0.06, 0.05, 0.035, 0.025])
_PUPIL_DEG = 11.5  # eyeball rings sit at 11°, 22.5°, 45°, …, from the eye's forward axis
_IRIS_DEG = 23.0


@dataclass(frozen=True)
class Bust:
    """The cropped mesh: ``vertices [V, 3]`` float64 (dm), ``faces [F, 3]`` int32 (bust
    indices, CCW from outside), ``face_group [F]`` (index into ``groups``) and
    ``base_index [V]`` int64 (the base-mesh vertex of each bust vertex)."""

    vertices: np.ndarray
    faces: np.ndarray
    face_group: np.ndarray
    groups: tuple[str, ...]
    base_index: np.ndarray

    def faces_in(self, *names: str) -> np.ndarray:
        """``[F]`` bool: triangles whose group is one of ``names``."""
        ids = [self.groups.index(n) for n in names if n in self.groups]
        return np.isin(self.face_group, ids)

    def vertices_in(self, *names: str) -> np.ndarray:
        """Sorted bust vertex indices of the groups ``names``  # [K]."""
        return np.unique(self.faces[self.faces_in(*names)])

    def scatter(self, base_index: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """A sparse target (base indices ``[K]``, offsets ``[K, 3]``) as ``[V, 3]`` bust
        offsets (vertices outside the bust are dropped)."""
        lookup = np.full(int(max(self.base_index.max(), base_index.max(initial=0))) + 1, -1)
        lookup[self.base_index] = np.arange(len(self.base_index))
        local = lookup[base_index]
        keep = local >= 0
        out = np.zeros((len(self.base_index), 3), dtype=np.float64)
        out[local[keep]] = delta[keep]
        return out


def crop_bust(mesh: BaseMesh, *, y_min: float = Y_MIN, x_max: float = X_MAX) -> Bust:
    """Keep the head's groups; of ``body``, only triangles with every corner above ``y_min``
    and within ``±x_max``. Vertices are re-indexed in base-mesh order."""
    v = mesh.vertices
    ids = [mesh.groups.index(n) for n in HEAD_GROUPS if n in mesh.groups]
    keep = np.isin(mesh.face_group, ids)
    corner = v[mesh.faces]  # [F, 3, 3]
    inside = np.all(corner[..., 1] > y_min, axis=1) & np.all(np.abs(corner[..., 0]) < x_max, axis=1)
    keep &= inside | ~mesh.group_faces("body")
    faces = mesh.faces[keep]
    used = np.unique(faces)  # [V] base indices, sorted
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return Bust(
        vertices=v[used].copy(),
        faces=remap[faces].astype(np.int32),
        face_group=mesh.face_group[keep],
        groups=mesh.groups,
        base_index=used,
    )


def neck_line(points: np.ndarray) -> np.ndarray:
    """Signed height (dm) above the jaw-line plane, for points ``[..., 3]``: the plane runs
    under the chin (y 6.0 at z 1.0) up to the skull base at the back (y 6.75 at z −0.2);
    > 0 is head, < 0 neck and shoulders."""
    return np.asarray(points[..., 1] - 6.0 + 0.625 * (points[..., 2] - 1.0))


def label_faces(
    bust: Bust,
    eyes: dict[str, tuple[np.ndarray, np.ndarray]],
    lid_motion: np.ndarray,
    brow_motion: np.ndarray,
) -> np.ndarray:
    """``[F]`` int8 ``Material`` labels from groups and geometric rules.

    ``eyes``: side ("l"/"r") → (eyeball centre ``[3]``, unit forward axis ``[3]``);
    ``lid_motion`` / ``brow_motion`` ``[V]``: how far the blink / brow units move each vertex,
    so the lids and brows are found where their own units act.
    """
    v, f = bust.vertices, bust.faces
    tri = v[f]  # [F, 3, 3]
    centre = tri.mean(axis=1)  # [F, 3]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # [F, 3]
    labels = np.full(len(f), Material.SKIN, dtype=np.int8)
    body = bust.faces_in("body")

    labels[neck_line(centre) < 0.0] = Material.NECK
    # Brows and lids: where their units move the skin most (mean over a face's corners).
    brow = brow_motion[f].mean(axis=1)
    in_band = (centre[:, 1] > _BROW_Y[0]) & (centre[:, 1] < _BROW_Y[1])
    in_band &= np.abs(centre[:, 0]) > _BROW_INNER_X
    ax = np.abs(centre[:, 0])
    brow_y = np.interp(ax, _BROW_OUTLINE_X, _BROW_OUTLINE_Y)
    in_band &= np.abs(centre[:, 1] - brow_y) < np.interp(ax, _BROW_OUTLINE_X, _BROW_OUTLINE_HALF)
    labels[body & in_band & (brow > 0.5 * brow.max())] = Material.BROW
    lid = lid_motion[f].mean(axis=1)
    labels[body & (lid > 0.2 * lid.max())] = Material.EYELID
    # Lips: a lens around the lip seam on the front of the face (thin at the corners).
    dx = centre[:, 0] / _LIP_HALF_WIDTH
    dy = (centre[:, 1] - _MOUTH_CENTRE[1]) / _LIP_HALF_HEIGHT
    lips = body & (np.abs(dy) < 1.0 - dx**2) & (centre[:, 2] > 1.3)
    labels[lips] = Material.LIPS
    # Mouth interior: body faces near the mouth whose normal points into the cavity.
    rel = centre - _MOUTH_CENTRE
    near = (np.abs(rel[:, 0]) < 0.45) & (rel[:, 1] > -0.5) & (rel[:, 1] < 0.35)
    near &= (centre[:, 2] < 1.62) & (neck_line(centre) > 0.0)
    inward = np.einsum("ij,ij->i", normal, rel) < 0.0
    labels[body & near & inward] = Material.MOUTH

    labels[bust.faces_in("helper-upper-teeth", "helper-lower-teeth")] = Material.TEETH
    labels[bust.faces_in("helper-tongue")] = Material.TONGUE
    lashes = [f"helper-{s}-eyelashes-{k}" for s in "lr" for k in (1, 2)]
    labels[bust.faces_in(*lashes)] = Material.BROW  # dark hair, like the brows
    for side, (eye_centre, forward) in eyes.items():
        ball = bust.faces_in(f"helper-{side}-eye")
        d = centre[ball] - eye_centre
        cos = d @ forward / np.maximum(np.linalg.norm(d, axis=1), 1e-12)
        ang = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        labels[ball] = np.where(
            ang < _PUPIL_DEG,
            Material.PUPIL,
            np.where(ang < _IRIS_DEG, Material.IRIS, Material.SCLERA),
        )
    return labels
