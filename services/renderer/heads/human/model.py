"""``HumanHead``: the MakeHuman (hm08) bust posed by ``arkit55`` clips through the CC0 Face
Units targets. Provenance and licences: see ``data``.

Head coordinates as every head model: metres, +y up, +z out of the face, +x the subject's
left, origin at eye height, midway between the front and back of the skull. hm08 already
faces +z with its left on +x, so converting is ``(p − origin) · 0.1`` (MakeHuman works in
decimetres).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from dyad.rigs import ARKIT_BLENDSHAPES, get_rig

from ..appearance import Appearance
from ..model import Material, apply_head_pose, validated_clip
from ..shape import HairStyle
from .accessories import ITEMS as ACCESSORIES
from .accessories import accessories
from .bust import Bust, crop_bust, label_faces, neck_line
from .carriers import Carriers
from .clothing import cloth_level, clothable, dress, neckline_of, still_threshold
from .cut import cut_faces, split_long_edges
from .data import BaseMesh, face_unit_files, load_base_mesh, read_target
from .face_units import correct_units, limit_weights
from .facial_hair import KINDS as FACIAL_HAIR
from .facial_hair import facial_hair_shell
from .hair import hair_shell
from .identity import fitted_offsets, identity_offsets
from .lashes import LOWER_GROUPS

_N_BLENDSHAPES = len(ARKIT_BLENDSHAPES)  # 52
DM_TO_M = 0.1
#: Head-turn falloff on ``bust.neck_line`` (dm): weight 0 at or below ``_NECK_LO`` (the base
#: of the neck, shoulders), 1 at or above ``_NECK_HI`` (the jaw line), smoothstep between.
_NECK_LO = -0.45
_NECK_HI = 0.1
#: Round the clothing's edge (``_cut_neckline``): triangles reaching within this of the line
#: (m, beyond half their longest edge) are split until no edge is longer than ``_CUT_EDGE_M``
#: (m: ≈ 11 px at the renderer's 512² head size, where a sliver's Gaussian no longer streaks).
_CUT_BAND_M = 0.004
_CUT_EDGE_M = 0.008
#: Face-unit file names that differ from ARKit's (none in faceunits01; kept for other packs).
_UNIT_ALIASES: dict[str, str] = {}


@dataclass(frozen=True)
class _Base:
    """What every identity shares, parsed once: the base mesh, the bust, the face units (dm,
    CC0 with the ``face_units`` corrections) and the face labels (measured on the undeformed
    bust; identities keep the topology)."""

    mesh: BaseMesh
    bust: Bust
    deltas_dm: np.ndarray  # [52, V, 3] float64
    labels: np.ndarray  # [F] int8
    missing_units: tuple[str, ...]
    extra_units: tuple[str, ...]


@lru_cache(maxsize=1)
def _base() -> _Base:
    mesh = load_base_mesh()
    bust = crop_bust(mesh)
    units = face_unit_files()
    wanted = {_UNIT_ALIASES.get(n, n) for n in ARKIT_BLENDSHAPES}
    missing = tuple(n for n in ARKIT_BLENDSHAPES if _UNIT_ALIASES.get(n, n) not in units)
    deltas = np.zeros((_N_BLENDSHAPES, len(bust.vertices), 3), dtype=np.float64)  # [52, V, 3]
    for k, name in enumerate(ARKIT_BLENDSHAPES):
        path = units.get(_UNIT_ALIASES.get(name, name))
        if path is not None:
            deltas[k] = bust.scatter(*read_target(path, len(mesh.vertices)))
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
    labels = label_faces(bust, eyes, lid, np.asarray(brow))  # [F] int8 (from the CC0 units)
    deltas = correct_units(deltas, (bust, eyes, labels))  # what the reader needs (face_units)
    return _Base(mesh, bust, deltas, labels, missing, tuple(sorted(set(units) - wanted)))


#: What every identity shares (parsed once), for the shape fitter (``capture.fitting``).
base_data = _base


class HumanHead:
    """A human bust (head, neck, top of the shoulders, eyeballs, teeth, tongue, lashes, hair).

    Implements ``HeadModel`` with rig ``arkit55``: the 52 face units are a linear delta basis
    ``[52, V, 3]`` in ``ARKIT_BLENDSHAPES`` order (eye gaze too: the units move the eyeball
    helpers); ``headPitch/Yaw/Roll`` turn the head about the ``joint-head`` cube (top of the
    neck) with a smooth falloff down the neck so the shoulders stay still. ``appearance``
    shapes the identity (``identity``: MakeHuman's age/gender/ethnicity and feature targets)
    and picks the hair (``hair``: shells over the scalp that follow their skin vertex); None
    is the bald base mesh.
    """

    def __init__(
        self,
        appearance: Appearance | None = None,
        hair_seed: int | None = None,
        shape_fit: Mapping[str, float] | None = None,
        neckline_cut: bool = False,
    ) -> None:
        self.rig = get_rig("arkit55")
        base = _base()
        mesh, self.bust = base.mesh, base.bust
        self.missing_units, self.extra_units = base.missing_units, base.extra_units
        offsets = (
            identity_offsets(appearance, len(mesh.vertices))
            if appearance is not None
            else np.zeros_like(mesh.vertices)
        )  # [Vbase, 3] dm
        self.shape_fit = dict(shape_fit or {})  # {target: weight}
        if shape_fit:  # a fitted identity (``dyad avatar fit``) on top of the appearance's
            offsets = offsets + fitted_offsets(shape_fit, len(mesh.vertices))
        moved = mesh.vertices + offsets

        def joint(name: str) -> np.ndarray:
            return np.asarray(moved[mesh.group_vertices(name)].mean(axis=0))  # [3] dm

        v_dm = self.bust.vertices + offsets[self.bust.base_index]  # [V, 3] decimetres
        body = self.bust.vertices_in("body")
        head_skin = body[neck_line(self.bust.vertices[body]) > 0.0]
        eye_y = 0.5 * (joint("joint-l-eye")[1] + joint("joint-r-eye")[1])
        z_mid = 0.5 * (v_dm[head_skin, 2].max() + v_dm[head_skin, 2].min())
        self.origin_dm = np.array([0.0, eye_y, z_mid])  # [3] base-mesh point at our origin

        self.deltas = (base.deltas_dm * DM_TO_M).astype(np.float32)  # [52, V, 3] metres
        self.faces = self.bust.faces  # [F, 3] int32
        self.face_labels = base.labels  # [F] int8
        self._neutral = ((v_dm - self.origin_dm) * DM_TO_M).astype(np.float32)  # [V, 3]
        self.neck_pivot = ((joint("joint-head") - self.origin_dm) * DM_TO_M).astype(np.float32)
        # The turn's falloff is measured on the undeformed bust: the same skin turns for all.
        t = np.clip((neck_line(self.bust.vertices) - _NECK_LO) / (_NECK_HI - _NECK_LO), 0.0, 1.0)
        self.head_weights = (t * t * (3.0 - 2.0 * t)).astype(np.float32)  # [V]
        self._active = np.flatnonzero(np.any(self.deltas != 0.0, axis=(0, 2)))  # [A]
        self._flat_deltas = np.ascontiguousarray(
            self.deltas[:, self._active].reshape(_N_BLENDSHAPES, -1)
        )  # [52, A·3]

        self.hair = appearance.hair if appearance is not None else HairStyle.BALD
        if hair_seed is None:
            text = appearance.person if appearance is not None else ""
            hair_seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
        # Extras (hair, accessories, the neckline's cut, …): vertices carried by bust vertices.
        self._extra_rest = np.zeros((0, 3), np.float32)  # [H, 3]
        self._carriers = Carriers.single(np.zeros(0, np.int64))  # [H] of them
        hair_v, hair_f, hair_skin = hair_shell(
            self._neutral, self.faces, self.face_labels, self.hair, seed=hair_seed
        )  # [H, 3], [G, 3] (indexing bust ⊕ hair), [H]
        self._add_extra(hair_v, hair_f, hair_skin, np.full(len(hair_f), Material.HAIR, np.int8))
        extras = appearance.extras if appearance is not None else frozenset()
        n_b, n_f = len(self._neutral), len(self.bust.faces)
        bust_labels = self.face_labels[:n_f].copy()
        self.facial_hair = next((x for x in sorted(extras) if x in FACIAL_HAIR), "")
        if self.facial_hair:
            fv, ff, fs = facial_hair_shell(
                self._neutral, self.bust.faces, bust_labels, self.facial_hair, seed=hair_seed
            )  # faces index bust ⊕ these: shift them past the extras so far
            ff = np.where(ff >= n_b, ff + len(self._extra_rest), ff)
            material = Material.STUBBLE if self.facial_hair == "stubble" else Material.BEARD
            self._add_extra(fv, ff, fs, np.full(len(ff), material, np.int8))
        self.clothing = next((x[9:] for x in sorted(extras) if x.startswith("clothing:")), "")
        if self.clothing:
            relabelled, cv, cf, cs, cl = dress(
                self._neutral,
                self.bust.faces,
                bust_labels,
                self.clothing,
                seed=hair_seed,
                head_weights=self.head_weights,
            )
            labels = self.face_labels.copy()  # base.labels is shared by every head
            labels[:n_f] = relabelled
            self.face_labels = labels
            cf = np.where(cf >= n_b, cf + len(self._extra_rest), cf)
            self._add_extra(cv, cf, cs, cl)
        self.accessories = frozenset(x for x in extras if x in ACCESSORIES)
        acc_v, acc_f, acc_skin, acc_labels = accessories(
            self._neutral,
            self.bust.faces,
            bust_labels,
            self.accessories,
            seed=hair_seed,
            offset=len(self._neutral) + len(self._extra_rest),
        )  # faces index bust ⊕ hair ⊕ accessories; acc_skin: the bust vertex each follows
        self._add_extra(acc_v, acc_f, acc_skin, acc_labels)
        self.neckline = neckline_of(self.clothing, hair_seed) if self.clothing else ""
        self.neckline_cut = neckline_cut and bool(self.clothing)
        if self.neckline_cut:
            self._cut_neckline(self.neckline, bust_labels)
        carried = self._carriers.carry(self.head_weights[:, None])[:, 0]  # [H]
        self._pose_weights = np.concatenate([self.head_weights, carried]).astype(np.float32)

    def _add_extra(
        self, verts: np.ndarray, faces: np.ndarray, skin: np.ndarray, labels: np.ndarray
    ) -> None:
        """Append geometry carried by bust vertices ``skin`` (faces already index the whole
        vertex array: bust ⊕ every extra so far ⊕ these)."""
        self._extra_rest = np.concatenate([self._extra_rest, verts]).astype(np.float32)
        self._carriers = self._carriers.concat(Carriers.single(skin))
        self.faces = np.concatenate([self.faces, faces]).astype(np.int32)
        self.face_labels = np.concatenate([self.face_labels, labels]).astype(np.int8)

    def _cut_neckline(self, neckline: str, bust_labels: np.ndarray) -> None:
        """The bust's triangles that the clothing's edge crosses cut along it (``cut``,
        ``clothing.cloth_level``: below the ``neckline`` and still under the head turn): the
        pieces inside turn to cloth, so the clothing ends on a line and not in the saw-tooth
        of hm08's neck slivers. The cut points are extras on their edges."""
        n_b, n_f = len(self._neutral), len(self.bust.faces)
        level = np.zeros(self.num_vertices)
        # still under the head turn: ``neck_line`` below the falloff's _STILL point (m)
        turn = neck_line(self.bust.vertices) - still_threshold(_NECK_LO, _NECK_HI)
        level[:n_b] = cloth_level(self._neutral, turn * DM_TO_M, neckline)
        which = np.zeros(len(self.faces), bool)
        which[:n_f] = clothable(bust_labels)
        cut = cut_faces(level, self.faces, which)
        ends = cut.ends
        t = cut.t[:, None].astype(np.float32)
        points = (1.0 - t) * self._neutral[ends[:, 0]] + t * self._neutral[ends[:, 1]]
        labels = np.asarray(self.face_labels)[cut.face_parent].astype(np.int8)
        labels[which[cut.face_parent] & cut.below] = Material.CLOTH
        self._extra_rest = np.concatenate([self._extra_rest, points]).astype(np.float32)
        self._carriers = self._carriers.concat(Carriers.on_edges(ends, cut.t))
        # The band round the line split fine, so that its Gaussians do not streak across it.
        rest = self.neutral()
        gap = np.linalg.norm(rest[:, None, :] - points[None, :, :], axis=2)  # [V, N] m
        tri = rest[cut.faces]  # [F', 3, 3]
        longest = np.linalg.norm(tri - tri[:, [1, 2, 0]], axis=2).max(axis=1)  # [F']
        reach = gap.min(axis=1, initial=np.inf)[cut.faces].min(axis=1)  # [F'] corner to line
        band = which[cut.face_parent] & (reach < _CUT_BAND_M + 0.5 * longest)
        fine = split_long_edges(rest, cut.faces, _CUT_EDGE_M, band)
        self._extra_rest = fine.vertices[n_b:]
        self._carriers = self._carriers.with_midpoints(fine.new_from, n_b)
        self.faces = fine.faces
        self.face_labels = labels[fine.face_parent]

    @property
    def lower_lash_faces(self) -> np.ndarray:
        """``[F]`` bool: the lower lashes' triangles (bust triangles keep their index through
        every extra and cut: ``lashes``)."""
        out = np.zeros(len(self.faces), bool)
        out[: len(self.bust.faces)] = self.bust.faces_in(*LOWER_GROUPS)
        return out

    @property
    def num_vertices(self) -> int:
        return len(self._neutral) + len(self._extra_rest)

    def to_head(self, points_dm: np.ndarray) -> np.ndarray:
        """Base-mesh points ``[..., 3]`` (dm) → head coordinates (m), float32."""
        return ((np.asarray(points_dm) - self.origin_dm) * DM_TO_M).astype(np.float32)

    def neutral(self) -> np.ndarray:
        """``[V + H, 3]`` float32 rest pose (bust, then hair)."""
        return np.concatenate([self._neutral, self._extra_rest]).astype(np.float32)

    def pose(self, motion: np.ndarray) -> np.ndarray:
        """``[T, 55]`` arkit55 clip → ``[T, V + H, 3]`` float32: linear face-unit deltas
        (mouthClose limited to jawOpen, eyeLookUp by eyeBlink: ``face_units.limit_weights``),
        hair carried by its skin vertex, then the head turn about ``neck_pivot`` with the neck
        falloff (DESIGN §2 angles)."""
        clip = limit_weights(validated_clip(self.rig, motion))  # [T, 55]
        n_t, n_b = clip.shape[0], len(self._neutral)
        verts = np.repeat(self.neutral()[None], n_t, axis=0)  # [T, V + H, 3]
        moved = clip[:, :_N_BLENDSHAPES] @ self._flat_deltas  # [T, A·3]
        verts[:, self._active] += moved.reshape(n_t, -1, 3)
        # Hair, shells, accessories, cut points: carried by their bust vertices.
        verts[:, n_b:] += self._carriers.carry(verts[:, :n_b] - self._neutral)
        pose = clip[:, _N_BLENDSHAPES:]  # [T, 3] pitch, yaw, roll
        if np.any(pose):
            verts = apply_head_pose(verts, pose, self.neck_pivot, self._pose_weights)
        return verts.astype(np.float32, copy=False)


@lru_cache(maxsize=1)
def default_human_head() -> HumanHead:
    """The bald base bust, shared (the base data is parsed once: about a second)."""
    return HumanHead()


@lru_cache(maxsize=32)
def human_head(
    appearance: Appearance,
    shape_fit: tuple[tuple[str, float], ...] = (),
    neckline_cut: bool = False,
) -> HumanHead:
    """The bust of ``appearance`` (identity shape and hair) plus a fitted shape (``(target,
    weight)`` pairs, ``identity.fitted_offsets``), its triangles cut along the clothing's
    neckline when ``neckline_cut`` (avatars made before it keep their triangles), cached."""
    return HumanHead(appearance, shape_fit=dict(shape_fit), neckline_cut=neckline_cut)
