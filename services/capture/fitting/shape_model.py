"""The human head's landmark points as a differentiable function of its identity shape and
head pose: a torch re-implementation of the linear parts of ``HumanHead`` (neutral + target
deltas, origin and neck pivot from the shaped mesh, face-unit deltas, the head turn about the
neck with its falloff) restricted to the vertices the landmark triangles use. The parity test
holds it to ``HumanHead.pose``.

Identity parameters (what ``fit_geometry`` optimises), all relative to the starting head:

- ``features [17]``: one signed coefficient per ``identity.FEATURE_TARGETS`` field in −1…1;
  ``c > 0`` applies the field's "+" targets at ``gain · c``, ``c < 0`` its "−" targets at
  ``gain · |c|`` (the rule ``identity`` uses for ``HeadShape`` multipliers);
- ``age``, ``gender`` (MakeHuman values, clamped to 0.1875…1 and 0…1) and the ethnic blend
  ``[3]`` (non-negative, normalised): the 18 macro targets get ``W(age, gender, ethnic) −
  W(start)``, their sum's mean over the head skin removed (``identity.macro_offsets``).

``shape_fit(...)`` flattens them to the ``{target: weight}`` a head_config carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dyad.services.renderer.heads.human import identity as ident
from dyad.services.renderer.heads.human.bust import neck_line
from dyad.services.renderer.heads.human.ethnicity import ETHNICITIES, ethnic_weights
from dyad.services.renderer.heads.human.face_units import limit_weights
from dyad.services.renderer.heads.human.model import DM_TO_M, HumanHead, base_data

from .correspondence import Correspondence

FIELDS = tuple(ident.FEATURE_TARGETS)
_GENDERS = ("female", "male")
_AGES = ("child", "young", "old")
_JOINTS = ("joint-l-eye", "joint-r-eye", "joint-head")
Z_CANDIDATE_DM = 0.25  # skin this close to the front- or backmost point may become it


def _expand(targets: tuple[tuple[str, float], ...]) -> list[tuple[str, float]]:
    return [
        (name.format(s=side), gain)
        for name, gain in targets
        for side in (("l", "r") if "{s}" in name else ("",))
    ]


def age_weights_torch(age: torch.Tensor) -> torch.Tensor:
    """``identity.age_weights`` in torch: ``[3]`` child/young/old weights of ``age``."""
    a = age.clamp(0.1875, 1.0)
    lo = torch.stack([(0.5 - a) / 0.3125, (a - 0.1875) / 0.3125, torch.zeros_like(a)])
    hi = torch.stack([torch.zeros_like(a), (1.0 - a) / 0.5, (a - 0.5) / 0.5])
    return torch.where(a < 0.5, lo, hi)


def euler_yxz_torch(angles: torch.Tensor) -> torch.Tensor:
    """``heads.model.euler_yxz`` for ``angles [..., 3]`` (pitch, yaw, roll) → ``[..., 3, 3]``."""
    cp, sp = torch.cos(angles[..., 0]), torch.sin(angles[..., 0])
    cy, sy = torch.cos(angles[..., 1]), torch.sin(angles[..., 1])
    cr, sr = torch.cos(angles[..., 2]), torch.sin(angles[..., 2])
    rows = [
        [cy * cr + sy * sp * sr, -cy * sr + sy * sp * cr, sy * cp],
        [cp * sr, cp * cr, -sp],
        [-sy * cr + cy * sp * sr, sy * sr + cy * sp * cr, cy * cp],
    ]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


@dataclass
class IdentityParams:
    """The free identity parameters (module docstring), as leaf tensors."""

    features: torch.Tensor  # [17] raw; coefficient = clamp(raw, −1, 1)
    age: torch.Tensor  # [] raw offset from the start age
    gender: torch.Tensor  # [] raw offset from the start gender
    ethnic: torch.Tensor  # [3] raw offsets from the start blend

    @staticmethod
    def zeros() -> IdentityParams:
        z = torch.zeros
        return IdentityParams(
            z(len(FIELDS), dtype=torch.float64),
            z((), dtype=torch.float64),
            z((), dtype=torch.float64),
            z(3, dtype=torch.float64),
        )

    def tensors(self) -> list[torch.Tensor]:
        return [self.features, self.age, self.gender, self.ethnic]


class LandmarkModel:
    """Landmark points ``[T, L, 3]`` of one human head (``head_config`` with its appearance and
    any earlier ``shape_fit``) for identity parameters, expression and head pose."""

    def __init__(self, head: HumanHead, appearance: Any, corr: Correspondence) -> None:
        base = base_data()
        mesh, bust = base.mesh, base.bust
        n_base = len(mesh.vertices)
        self.corr = corr
        corners = np.asarray(head.faces)[corr.faces]  # [L, 3] bust vertex indices
        self.used, inverse = np.unique(corners, return_inverse=True)  # [U], [L·3]
        self.corner_index = torch.from_numpy(inverse.reshape(-1, 3))  # [L, 3] into used
        self.bary = torch.from_numpy(corr.barycentric)  # [L, 3]
        body = bust.vertices_in("body")
        skin = body[neck_line(bust.vertices[body]) > 0.0]  # bust indices of the head skin
        # Only the skin near its front and back can set the origin's z (max + min) within
        # the shapes the fit reaches: keep those rows (the parity test checks the result).
        start = head_offsets(head, appearance, n_base)  # [Vbase, 3] dm, the start identity
        z0 = bust.vertices[skin, 2] + start[bust.base_index[skin], 2]
        skin = skin[(z0 >= z0.max() - Z_CANDIDATE_DM) | (z0 <= z0.min() + Z_CANDIDATE_DM)]
        # Rows of every per-vertex quantity: used bust vertices, then the head skin (its z
        # sets the origin), then the three joint cubes' centroids.
        rows_base = np.concatenate([bust.base_index[self.used], bust.base_index[skin]])
        joint_sets = [mesh.group_vertices(j) for j in _JOINTS]
        n_used, n_skin = len(self.used), len(skin)
        self._slices = (n_used, n_used + n_skin)

        def gather(dense: np.ndarray) -> np.ndarray:  # [Vbase, 3] → [R, 3]
            joints = np.stack([dense[j].mean(axis=0) for j in joint_sets])
            return np.concatenate([dense[rows_base], joints])

        self.start_rows = torch.from_numpy(gather(mesh.vertices + start))  # [R, 3] dm
        plus = np.zeros((len(FIELDS), len(self.start_rows), 3))
        minus = np.zeros_like(plus)
        for k, field in enumerate(FIELDS):
            for out, side in ((plus, 0), (minus, 1)):  # the field's "+" / "−" targets
                dense = np.zeros((n_base, 3))
                for name, gain in _expand(ident.FEATURE_TARGETS[field][side]):
                    idx, delta = ident.sparse_target(name, n_base)
                    dense[idx] += gain * delta
                out[k] = gather(dense)
        self.plus, self.minus = torch.from_numpy(plus), torch.from_numpy(minus)  # [17, R, 3]
        stack = ident.macro_stack(n_base)  # [3, 2, 3, Vbase, 3]
        head_skin = ident.head_skin_indices(n_base)
        macro = np.stack(
            [gather(stack[e, g, a]) for e in range(3) for g in range(2) for a in range(3)]
        )
        macro_mean = np.stack(
            [
                stack[e, g, a][head_skin].mean(axis=0)
                for e in range(3)
                for g in range(2)
                for a in range(3)
            ]
        )  # [18, 3]: removed from every row (the re-centring is linear in the weights)
        self.macro = torch.from_numpy(macro - macro_mean[:, None, :])  # [18, R, 3]
        self.start_age = float(ident.AGE_VALUES[appearance.age_band])
        self.start_gender = float(ident.GENDER_VALUES.get(appearance.gender, 0.5))
        self.start_ethnic = torch.from_numpy(ethnic_weights(appearance))  # [3]
        self.w0 = self._macro_weights(
            torch.tensor(self.start_age, dtype=torch.float64),
            torch.tensor(self.start_gender, dtype=torch.float64),
            self.start_ethnic,
        )  # [18]
        self.deltas = torch.from_numpy(head.deltas[:, self.used].astype(np.float64))  # [52, U, 3]
        weights = head.head_weights[self.used].astype(np.float64)  # [U]
        # Most landmark vertices turn with the whole head (weight 1): one rotation per frame
        # for those, a rotation per vertex only for the few on the neck falloff.
        self.partial = torch.from_numpy(np.flatnonzero(weights < 1.0 - 1e-6))  # [P]
        self.partial_weights = torch.from_numpy(weights[self.partial.numpy()])  # [P]

    # --- identity ------------------------------------------------------------------------
    @staticmethod
    def _macro_weights(age: torch.Tensor, gender: torch.Tensor, eth: torch.Tensor) -> torch.Tensor:
        w_g = torch.stack([1.0 - gender, gender])
        return (
            eth[:, None, None] * w_g[None, :, None] * age_weights_torch(age)[None, None, :]
        ).reshape(-1)

    def coefficients(self, p: IdentityParams) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature coefficients ``[17]`` in −1…1 and macro weight changes ``[18]``."""
        features = p.features.clamp(-1.0, 1.0)
        age = (self.start_age + p.age).clamp(0.1875, 1.0)
        gender = (self.start_gender + p.gender).clamp(0.0, 1.0)
        eth = (self.start_ethnic + p.ethnic).clamp(min=0.0)
        eth = eth / eth.sum().clamp(min=1e-6)
        return features, self._macro_weights(age, gender, eth) - self.w0

    def rows_dm(self, p: IdentityParams) -> torch.Tensor:
        """``[R, 3]`` dm: used vertices, head skin and joints of the shaped base mesh."""
        c, dw = self.coefficients(p)
        out = self.start_rows + torch.einsum("k,krc->rc", c.clamp(min=0.0), self.plus)
        out = out + torch.einsum("k,krc->rc", (-c).clamp(min=0.0), self.minus)
        return out + torch.einsum("k,krc->rc", dw, self.macro)

    def neutral(self, p: IdentityParams) -> tuple[torch.Tensor, torch.Tensor]:
        """Used vertices ``[U, 3]`` in head coordinates (m) and the neck pivot ``[3]``."""
        rows = self.rows_dm(p)
        a, b = self._slices
        eye_y = 0.5 * (rows[b, 1] + rows[b + 1, 1])
        z = rows[a:b, 2]
        origin = torch.stack([torch.zeros_like(eye_y), eye_y, 0.5 * (z.max() + z.min())])
        return (rows[:a] - origin) * DM_TO_M, (rows[b + 2] - origin) * DM_TO_M

    # --- posing --------------------------------------------------------------------------
    def expression_offsets(self, motion: np.ndarray) -> torch.Tensor:
        """``[T, U, 3]`` m: the face units of ``motion [T, 55]`` (with ``limit_weights``)."""
        w = torch.from_numpy(limit_weights(np.asarray(motion, np.float64))[:, :52])
        return torch.einsum("tk,kuc->tuc", w, self.deltas)

    def points(
        self, p: IdentityParams, expression: torch.Tensor, pose: torch.Tensor
    ) -> torch.Tensor:
        """Landmark points ``[T, L, 3]`` (head coordinates, m) for expression offsets
        ``[T, U, 3]`` and head angles ``pose [T, 3]`` (pitch, yaw, roll, radians)."""
        verts, pivot = self.neutral(p)
        verts = verts[None] + expression  # [T, U, 3]
        rel = verts - pivot  # [T, U, 3]
        turned = torch.einsum("tij,tuj->tui", euler_yxz_torch(pose), rel) + pivot
        if len(self.partial):
            w = self.partial_weights[None, :, None]  # [1, P, 1]
            rot = euler_yxz_torch(pose[:, None, :] * w)  # [T, P, 3, 3]
            part = torch.einsum("tpij,tpj->tpi", rot, rel[:, self.partial]) + pivot
            turned = turned.index_copy(1, self.partial, part)
        corners = turned[:, self.corner_index]  # [T, L, 3, 3]
        return torch.einsum("tlkc,lk->tlc", corners, self.bary)

    def shape_fit(self, p: IdentityParams, earlier: dict[str, float]) -> dict[str, float]:
        """``{target: weight}`` for a head_config: ``earlier`` plus these parameters."""
        c, dw = (t.detach().numpy() for t in self.coefficients(p))
        out = dict(earlier)
        for k, field in enumerate(FIELDS):
            table = 0 if c[k] > 0 else 1
            for name, gain in _expand(ident.FEATURE_TARGETS[field][table]):
                if abs(c[k]) > 1e-6:
                    out[name] = out.get(name, 0.0) + gain * abs(float(c[k]))
        names = [
            ident.macro_target_name(e, g, a) for e in ETHNICITIES for g in _GENDERS for a in _AGES
        ]
        for name, w in zip(names, dw, strict=True):
            if abs(float(w)) > 1e-6:
                out[name] = out.get(name, 0.0) + float(w)
        return {k: round(v, 6) for k, v in sorted(out.items()) if abs(v) > 1e-6}


def head_offsets(head: HumanHead, appearance: Any, n_base: int) -> np.ndarray:
    """``[Vbase, 3]`` dm of the head as built: its appearance plus any earlier shape_fit."""
    out = ident.identity_offsets(appearance, n_base)
    if head.shape_fit:
        out = out + ident.fitted_offsets(head.shape_fit, n_base)
    return out
