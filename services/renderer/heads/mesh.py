"""The built-in procedural head mesh: one closed skin surface plus eyeball, teeth and tongue shells.

The skin is a grid of rays from the head centre (``surface``): rows of polar angle from
the crown to the flat base of the neck, columns of azimuth, denser over the face. Two row
*bands* are folded into pockets so the surface stays closed while having openings:

- the **eye band** (5 rows) — its first and last rows are the upper and lower lid margins,
  lying on a sphere just outside the eyeball; the rows between fold into a socket behind the
  front of the eyeball (hidden by it);
- the **mouth band** (13 rows) — vermilion border, mid-lip and margin of the upper lip, seven
  rows of mouth interior (behind the lips, up over the upper teeth, the palate, the throat,
  the floor under the tongue, down in front of the lower teeth), then the lower lip's margin,
  mid-lip and border. The two margins touch at rest; opening the jaw reveals the cavity.

Outside the eye and mouth, the band rows are ordinary skin rows, pinched together at the eye
and mouth corners. Everything is deterministic numpy: the same ``HeadShape`` gives the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .folds import (
    EYE_BAND,
    MOUTH_BAND,
    fold_eyes,
    fold_mouth,
    teeth,
    tongue,
)
from .grid import N_COLS, skin_grid
from .hair import hair_mask
from .model import Material
from .parts import eyeball
from .shape import HairStyle, HeadShape
from .surface import Landmarks, cast_rays, landmarks, sphere_directions

__all__ = ["EYE_BAND", "MOUTH_BAND", "HeadGeometry", "Part", "build_geometry"]


class Part(IntEnum):
    """Which shell a vertex belongs to."""

    SKIN = 0
    EYE_LEFT = 1
    EYE_RIGHT = 2
    TEETH_UPPER = 3
    TEETH_LOWER = 4
    TONGUE = 5


@dataclass(frozen=True)
class HeadGeometry:
    """A neutral procedural head and what the blendshape builder needs to know about it."""

    vertices: np.ndarray  # [V, 3] float64 neutral
    faces: np.ndarray  # [F, 3] int32
    labels: np.ndarray  # [F] int8 Material
    part: np.ndarray  # [V] int8 Part
    grid_row: np.ndarray  # [V] int32 skin row (-1 for poles and other shells)
    grid_col: np.ndarray  # [V] int32
    eye_s: np.ndarray  # [V] position across the nearer eye opening (−1 inner … +1 outer corner)
    eye_side: np.ndarray  # [V] +1 nearer the left eye (+x), −1 the right
    mouth_s: np.ndarray  # [V] position across the mouth (−1 right corner … +1 left corner)
    rows: dict[str, int]  # row indices of the bands
    lm: Landmarks
    eye_centres: np.ndarray  # [2, 3] left (+x), right
    r_lid: float
    mouth_contact: np.ndarray  # [3] where the lips meet, middle of the mouth
    n_rows: int = 0
    n_cols: int = N_COLS


def build_geometry(shape: HeadShape, hair: HairStyle = HairStyle.SHORT) -> HeadGeometry:
    """The neutral procedural head for ``shape`` with ``hair`` (labels and volume)."""
    lm = landmarks(shape)
    grid = skin_grid(lm, hair)
    theta, phi = grid.theta, grid.phi
    n_r, n_c = theta.shape
    i_eye, i_mouth = grid.i_eye, grid.i_mouth
    eye_s_col, eye_side_col, mouth_s_col = grid.eye_s, grid.eye_side, grid.mouth_s
    ye = lm.y_eye

    # --- skin positions ---
    dirs = sphere_directions(theta.ravel(), np.broadcast_to(phi, theta.shape).ravel())
    skin = (dirs * cast_rays(dirs, lm, hair)[:, None]).reshape(n_r, n_c, 3)
    eye_c = np.array([[lm.x_eye, ye, lm.z_eye], [-lm.x_eye, ye, lm.z_eye]])
    r_lid = lm.r_eye + 0.0009
    fold_eyes(skin, i_eye, eye_s_col, eye_side_col, eye_c, r_lid, lm)
    contact = fold_mouth(skin, i_mouth, mouth_s_col, lm)
    top = np.array([[0.0, float(cast_rays(np.array([[0.0, 1.0, 0.0]]), lm, hair)[0]), 0.0]])
    bottom_r = float(cast_rays(np.array([[0.0, -1.0, 0.0]]), lm, hair)[0])
    bottom = np.array([[0.0, -bottom_r, 0.0]])
    skin_v = np.concatenate([top, skin.reshape(-1, 3), bottom])
    skin_f = _grid_faces(n_r, n_c)

    # --- other shells ---
    shells = [
        eyeball(eye_c[0], lm.r_eye),
        eyeball(eye_c[1], lm.r_eye),
        *teeth(contact, lm),
        tongue(contact, lm),
    ]
    verts = [skin_v]
    faces = [skin_f]
    labels = [
        _skin_labels(skin_v, skin_f, n_r, n_c, i_eye, i_mouth, eye_s_col, mouth_s_col, lm, hair)
    ]
    part = [np.zeros(len(skin_v), dtype=np.int8)]
    offset = len(skin_v)
    for pid, (v, f, lab) in zip((1, 2, 3, 4, 5), shells, strict=True):
        verts.append(v)
        faces.append(f + offset)
        labels.append(lab)
        part.append(np.full(len(v), pid, dtype=np.int8))
        offset += len(v)
    all_v = np.concatenate(verts)
    n_v = len(all_v)
    grid_row = np.full(n_v, -1, dtype=np.int32)
    grid_col = np.full(n_v, -1, dtype=np.int32)
    rr, cc = np.meshgrid(np.arange(n_r), np.arange(n_c), indexing="ij")
    grid_row[1 : 1 + n_r * n_c] = rr.ravel()
    grid_col[1 : 1 + n_r * n_c] = cc.ravel()

    def per_col(a: np.ndarray) -> np.ndarray:  # a column value for every vertex (9 = none)
        return np.where(grid_col >= 0, np.nan_to_num(a, nan=9.0)[np.maximum(grid_col, 0)], 9.0)

    rows = {"eye": i_eye, "mouth": i_mouth, "chin": grid.i_chin}
    return HeadGeometry(
        vertices=all_v,
        faces=np.concatenate(faces).astype(np.int32),
        labels=np.concatenate(labels).astype(np.int8),
        part=np.concatenate(part),
        grid_row=grid_row,
        grid_col=grid_col,
        eye_s=per_col(eye_s_col),
        eye_side=np.where(grid_col >= 0, eye_side_col[np.maximum(grid_col, 0)], 0.0),
        mouth_s=per_col(mouth_s_col),
        rows=rows,
        lm=lm,
        eye_centres=eye_c,
        r_lid=r_lid,
        mouth_contact=contact,
        n_rows=n_r,
        n_cols=n_c,
    )


def _grid_faces(n_r: int, n_c: int) -> np.ndarray:
    """Triangles of the skin: vertex 0 the crown, then rows of ``n_c``, then the neck base."""
    idx = 1 + np.arange(n_r * n_c).reshape(n_r, n_c)
    nxt = np.roll(idx, -1, axis=1)
    a, e = idx[:-1], nxt[:-1]
    b, d = idx[1:], nxt[1:]
    quads = np.concatenate(
        [np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, e], -1).reshape(-1, 3)]
    )
    top = np.stack([np.zeros(n_c, dtype=np.int64), idx[0], nxt[0]], axis=1)
    last = 1 + n_r * n_c
    bottom = np.stack([np.full(n_c, last), nxt[-1], idx[-1]], axis=1)
    return np.concatenate([top, quads, bottom]).astype(np.int64)


def _skin_labels(
    v: np.ndarray,
    f: np.ndarray,
    n_r: int,
    n_c: int,
    i_eye: int,
    i_mouth: int,
    eye_s_col: np.ndarray,
    mouth_s_col: np.ndarray,
    lm: Landmarks,
    hair: HairStyle,
) -> np.ndarray:
    labels = np.full(len(f), Material.SKIN, dtype=np.int8)
    # Row and column of each face's first grid vertex (poles: row −1 / n_r).
    vid = f.min(axis=1) - 1
    row = np.clip(vid // n_c, -1, n_r)
    row = np.where(f.min(axis=1) == 0, -1, row)
    cols = (f - 1) % n_c
    es = np.nan_to_num(eye_s_col, nan=9.0)[cols]
    ms = np.nan_to_num(mouth_s_col, nan=9.0)[cols]
    in_eye = np.all(np.abs(es) <= 1.0 + 1e-9, axis=1)
    in_mouth = np.all(np.abs(ms) <= 1.0 + 1e-9, axis=1)
    centroid = v[f].mean(axis=1)
    # Neck: below the jaw line (chin → angle of the jaw), behind the chin.
    jaw_line = (
        lm.y_chin
        + (centroid[:, 2] < 0.06) * 0.0
        + np.clip((0.07 - centroid[:, 2]) / 0.09, 0, 1) * 0.03
    )
    labels[(centroid[:, 1] < jaw_line - 0.004) & (centroid[:, 2] < 0.075)] = Material.NECK
    # Hair, then brows, lids, lips and mouth (later rules win).
    labels[hair_mask(centroid, lm, hair)] = Material.HAIR
    labels[_brow_mask(centroid, lm)] = Material.BROW
    lid_rows = (row >= i_eye - 2) & (row < i_eye + EYE_BAND + 1)
    labels[lid_rows & in_eye] = Material.EYELID
    lips = ((row >= i_mouth) & (row < i_mouth + 2)) | (
        (row >= i_mouth + MOUTH_BAND - 3) & (row < i_mouth + MOUTH_BAND - 1)
    )
    labels[lips & in_mouth] = Material.LIPS
    inner = (row >= i_mouth + 2) & (row < i_mouth + MOUTH_BAND - 3)
    labels[inner & in_mouth] = Material.MOUTH
    return labels


def _brow_mask(p: np.ndarray, lm: Landmarks) -> np.ndarray:
    """Eyebrows: an arch above each eye, thick at the inner end, thin at the outer."""
    t = lm.shape.brow_thickness
    u = (np.abs(p[:, 0]) - lm.x_eye) / 0.021  # −1 inner end … +1 outer end (roughly)
    inside = (u > -0.95) & (u < 1.05) & (p[:, 2] > 0.03)
    arch = lm.y_brow + 0.0035 * (1.0 - (u - 0.15) ** 2) - 0.002 * np.clip(u - 0.6, 0, None)
    half = (0.0036 - 0.0014 * (u + 1.0) / 2.0) * t
    return inside & (np.abs(p[:, 1] - arch) < half)
