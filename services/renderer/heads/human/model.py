"""``HumanHead``: the MakeHuman (hm08) bust posed by ``arkit55`` clips through the CC0 Face
Units targets. Provenance and licences: see ``data``.

Head coordinates as every head model: metres, +y up, +z out of the face, +x the subject's
left, origin at eye height, midway between the front and back of the skull. hm08 already
faces +z with its left on +x, so converting is ``(p − origin) · 0.1`` (MakeHuman works in
decimetres).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dyad.rigs import ARKIT_BLENDSHAPES, get_rig

from ..model import apply_head_pose, validated_clip
from .bust import Bust, crop_bust, label_faces, neck_line
from .data import face_unit_files, load_base_mesh, read_target

_N_BLENDSHAPES = len(ARKIT_BLENDSHAPES)  # 52
DM_TO_M = 0.1
#: Head-turn falloff on ``bust.neck_line`` (dm): weight 0 at or below ``_NECK_LO`` (the base
#: of the neck, shoulders), 1 at or above ``_NECK_HI`` (the jaw line), smoothstep between.
_NECK_LO = -0.45
_NECK_HI = 0.1
#: Face-unit file names that differ from ARKit's (none in faceunits01; kept for other packs).
_UNIT_ALIASES: dict[str, str] = {}


class HumanHead:
    """A human bust (head, neck, top of the shoulders, eyeballs, teeth, tongue, lashes).

    Implements ``HeadModel`` with rig ``arkit55``: the 52 face units are a linear delta basis
    ``[52, V, 3]`` in ``ARKIT_BLENDSHAPES`` order (eye gaze too: the units move the eyeball
    helpers); ``headPitch/Yaw/Roll`` turn the head about the ``joint-head`` cube (top of the
    neck) with a smooth falloff down the neck so the shoulders stay still.
    """

    def __init__(self) -> None:
        self.rig = get_rig("arkit55")
        mesh = load_base_mesh()
        self.bust: Bust = crop_bust(mesh)
        v_dm = self.bust.vertices  # [V, 3] decimetres
        body = self.bust.vertices_in("body")
        head_skin = body[neck_line(v_dm[body]) > 0.0]
        eye_y = 0.5 * (
            mesh.group_centroid("joint-l-eye")[1] + mesh.group_centroid("joint-r-eye")[1]
        )
        z_mid = 0.5 * (v_dm[head_skin, 2].max() + v_dm[head_skin, 2].min())
        self.origin_dm = np.array([0.0, eye_y, z_mid])  # [3] base-mesh point at our origin

        units = face_unit_files()
        wanted = {_UNIT_ALIASES.get(n, n) for n in ARKIT_BLENDSHAPES}
        self.missing_units = tuple(
            n for n in ARKIT_BLENDSHAPES if _UNIT_ALIASES.get(n, n) not in units
        )
        self.extra_units = tuple(sorted(set(units) - wanted))
        deltas = np.zeros((_N_BLENDSHAPES, len(v_dm), 3), dtype=np.float64)  # [52, V, 3] dm
        for k, name in enumerate(ARKIT_BLENDSHAPES):
            path = units.get(_UNIT_ALIASES.get(name, name))
            if path is not None:
                deltas[k] = self.bust.scatter(*read_target(path, len(mesh.vertices)))
        self.deltas = (deltas * DM_TO_M).astype(np.float32)  # [52, V, 3] metres

        eyes = {}
        for side in "lr":
            c = mesh.group_centroid(f"joint-{side}-eye")
            fwd = mesh.group_centroid(f"joint-{side}-eye-target") - c
            eyes[side] = (c, fwd / np.linalg.norm(fwd))
        moved = np.linalg.norm(deltas, axis=2)  # [52, V]
        idx = {n: i for i, n in enumerate(ARKIT_BLENDSHAPES)}
        lid = moved[idx["eyeBlinkLeft"]] + moved[idx["eyeBlinkRight"]]
        brow_units = ("browDownLeft", "browDownRight")
        brow = sum(moved[idx[n]] / max(moved[idx[n]].max(), 1e-12) for n in brow_units)
        self.faces = self.bust.faces  # [F, 3] int32
        self.face_labels = label_faces(self.bust, eyes, lid, np.asarray(brow))  # [F] int8

        self._neutral = ((v_dm - self.origin_dm) * DM_TO_M).astype(np.float32)  # [V, 3]
        self.neck_pivot = ((mesh.group_centroid("joint-head") - self.origin_dm) * DM_TO_M).astype(
            np.float32
        )  # [3]
        t = np.clip((neck_line(v_dm) - _NECK_LO) / (_NECK_HI - _NECK_LO), 0.0, 1.0)
        self.head_weights = (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # [V]
        self._active = np.flatnonzero(np.any(self.deltas != 0.0, axis=(0, 2)))  # [A]
        self._flat_deltas = np.ascontiguousarray(
            self.deltas[:, self._active].reshape(_N_BLENDSHAPES, -1)
        )  # [52, A·3]

    @property
    def num_vertices(self) -> int:
        return len(self._neutral)

    def to_head(self, points_dm: np.ndarray) -> np.ndarray:
        """Base-mesh points ``[..., 3]`` (dm) → head coordinates (m), float32."""
        return ((np.asarray(points_dm) - self.origin_dm) * DM_TO_M).astype(np.float32)

    def neutral(self) -> np.ndarray:
        """``[V, 3]`` float32 rest pose."""
        return self._neutral.copy()

    def pose(self, motion: np.ndarray) -> np.ndarray:
        """``[T, 55]`` arkit55 clip → ``[T, V, 3]`` float32: linear face-unit deltas, then the
        head turn about ``neck_pivot`` with the neck falloff (DESIGN §2 angles)."""
        clip = validated_clip(self.rig, motion)  # [T, 55]
        n_t = clip.shape[0]
        verts = np.repeat(self._neutral[None], n_t, axis=0)  # [T, V, 3]
        moved = clip[:, :_N_BLENDSHAPES] @ self._flat_deltas  # [T, A·3]
        verts[:, self._active] += moved.reshape(n_t, -1, 3)
        pose = clip[:, _N_BLENDSHAPES:]  # [T, 3] pitch, yaw, roll
        if np.any(pose):
            verts = apply_head_pose(verts, pose, self.neck_pivot, self.head_weights)
        return verts.astype(np.float32, copy=False)


@lru_cache(maxsize=1)
def default_human_head() -> HumanHead:
    """One shared ``HumanHead`` (building it parses ~2 MB of text: about a second)."""
    return HumanHead()
