"""FLAME 2020 from a user-supplied ``generic_model.pkl``, posed by ``flame56`` clips.

FLAME is non-commercial and never shipped with Dyad: the operator points the setting
``DYAD_RENDER_FLAME_MODEL`` at their own copy. This module uses only the model's published
description (linear blend skinning with shape and expression blendshapes and pose-corrective
blendshapes driven by ``R − I`` of the non-root joints; joints global, neck, jaw, left eye,
right eye) — no FLAME code.

The file is a Python 2 pickle whose arrays are ``chumpy`` objects. chumpy does not install on
current numpy, and a pickle can run arbitrary code, so ``load_flame_pickle`` uses an
unpickler that resolves only an allow-list of globals: numpy array reconstruction, scipy
sparse matrices (rebuilt from their fields), ``chumpy`` classes (a stand-in that keeps the
array stored under ``'x'``) and a few harmless builtins. Anything else is refused.

``flame56`` (DESIGN §2, DualTalk/DECA layout): ``exp[0:50]`` → expression coefficients 0–49
(``shapedirs[..., 300:350]``), ``jaw`` → the jaw joint, ``neck`` → the neck joint; the global
rotation and the eyes stay zero.

Face labels: all SKIN except the eyeballs, which are recognised by their skinning (faces whose
three vertices follow an eye joint most): SCLERA, with IRIS and PUPIL for the faces around each
eyeball's forward (+z) pole. FLAME 2020 has no lips, teeth or mouth interior as parts.
"""

from __future__ import annotations

import codecs
import copyreg
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig

from .model import Material, validated_clip

SETTING = "DYAD_RENDER_FLAME_MODEL"
N_SHAPE = 300
N_EXPRESSION = 100
N_JOINTS = 5
NECK, JAW, EYE_LEFT, EYE_RIGHT = 1, 2, 3, 4
_FIELD = "flame_model"
_REQUIRED = ("v_template", "shapedirs", "posedirs", "weights", "J_regressor", "kintree_table", "f")
_PUPIL_DEG, _IRIS_DEG = 12.0, 28.0
_CHUNK = 128  # frames posed at once


class _ChumpyStandIn:
    """Takes the place of any ``chumpy`` class while unpickling; keeps the pickled state."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _ChumpyStandIn:
        obj = object.__new__(cls)
        obj.state = None
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def array(self, key: str) -> np.ndarray:
        state = self.state
        if isinstance(state, tuple) and state and isinstance(state[0], dict):
            state = state[0]  # (dict, slots) form
        if isinstance(state, dict) and isinstance(state.get("x"), np.ndarray):
            return np.asarray(state["x"])
        if isinstance(state, np.ndarray):
            return state
        raise InvalidInput(_FIELD, f"{key}: a chumpy object without a stored array ('x')")


class _SparseStandIn:
    """Rebuilds a scipy sparse matrix from its pickled fields (any scipy version's layout)."""

    kind = "csc"

    def __new__(cls, *args: Any, **kwargs: Any) -> _SparseStandIn:
        obj = object.__new__(cls)
        obj.state = {}
        return obj

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}

    def matrix(self, key: str) -> sp.spmatrix:
        s = self.state
        shape = s.get("_shape", s.get("shape"))
        if not isinstance(shape, tuple | list):
            raise InvalidInput(_FIELD, f"{key}: sparse matrix without a shape")
        try:
            if self.kind in ("csc", "csr"):
                cls = sp.csc_matrix if self.kind == "csc" else sp.csr_matrix
                return cls((s["data"], s["indices"], s["indptr"]), shape=tuple(shape))
            coords = s.get("coords", (s.get("row"), s.get("col")))
            return sp.coo_matrix((s["data"], (coords[0], coords[1])), shape=tuple(shape))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InvalidInput(_FIELD, f"{key}: unreadable sparse matrix ({exc})") from None


class _Csc(_SparseStandIn):
    kind = "csc"


class _Csr(_SparseStandIn):
    kind = "csr"


class _Coo(_SparseStandIn):
    kind = "coo"


def _numpy_global(module: str, name: str) -> Any:
    import importlib

    for mod in (module.replace("numpy.core", "numpy._core"), module):
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"global {module}.{name} is not available")


_NUMPY_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}
_PLAIN_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("__builtin__", "object"): object,
    ("builtins", "object"): object,
    ("__builtin__", "set"): set,
    ("builtins", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("builtins", "frozenset"): frozenset,
    ("_codecs", "encode"): codecs.encode,
}
_SPARSE = {"csc_matrix": _Csc, "csr_matrix": _Csr, "coo_matrix": _Coo}


class _FlameUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a FLAME model file needs."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStandIn
        if module.startswith("scipy.sparse") and name in _SPARSE:
            return _SPARSE[name]
        if (module, name) in _NUMPY_ALLOWED:
            return _numpy_global(module, name)
        if (module, name) in _PLAIN_ALLOWED:
            return _PLAIN_ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a FLAME model")


def _plain(key: str, value: Any) -> Any:
    if isinstance(value, _ChumpyStandIn):
        return value.array(key)
    if isinstance(value, _SparseStandIn):
        return value.matrix(key)
    return value


def load_flame_pickle(path: str | Path) -> dict[str, Any]:
    """The FLAME model dictionary with every chumpy array turned into a numpy array.

    Raises ``FailedPrecondition`` (naming ``DYAD_RENDER_FLAME_MODEL``) when the file is missing
    and ``InvalidInput("flame_model", …)`` when it is not a readable FLAME model.
    """
    p = Path(path)
    if not p.is_file():
        raise FailedPrecondition(
            f"FLAME model not found at {str(p)!r}: FLAME is not shipped with Dyad; download "
            "FLAME 2020 (generic_model.pkl) from https://flame.is.tue.mpg.de under its licence "
            f"and set {SETTING} to the file's path"
        )
    try:
        raw = _FlameUnpickler(io.BytesIO(p.read_bytes()), encoding="latin1").load()
    except InvalidInput:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        ImportError,
        MemoryError,
        UnicodeDecodeError,
        OverflowError,
    ) as exc:
        raise InvalidInput(_FIELD, f"{p.name} is not a readable FLAME model: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(_FIELD, f"{p.name}: expected a dictionary, got {type(raw).__name__}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InvalidInput(_FIELD, f"{p.name}: missing {missing}")
    return {str(k): _plain(str(k), v) for k, v in raw.items()}


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle ``[..., 3]`` → rotation matrices ``[..., 3, 3]`` (exact near zero too)."""
    r = np.asarray(rotvec, dtype=np.float64)
    theta2 = (r * r).sum(-1)
    theta = np.sqrt(theta2)
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0 - theta2 / 6.0, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta2 / 24.0, (1.0 - np.cos(safe)) / (safe * safe))
    k = np.zeros((*r.shape[:-1], 3, 3))
    k[..., 0, 1], k[..., 0, 2] = -r[..., 2], r[..., 1]
    k[..., 1, 0], k[..., 1, 2] = r[..., 2], -r[..., 0]
    k[..., 2, 0], k[..., 2, 1] = -r[..., 1], r[..., 0]
    eye = np.eye(3)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def _as_array(model: dict[str, Any], key: str, ndim: int) -> np.ndarray:
    value = model[key]
    arr = value.toarray() if sp.issparse(value) else np.asarray(value)
    if arr.ndim != ndim or not np.issubdtype(arr.dtype, np.number):
        raise InvalidInput(
            _FIELD, f"{key}: expected a {ndim}-d numeric array, got shape {arr.shape}"
        )
    return arr


class FlameHead:
    """FLAME 2020 as a ``HeadModel`` with rig ``flame56``."""

    def __init__(self, path: str | Path, shape_params: np.ndarray | None = None) -> None:
        model = load_flame_pickle(path)
        v_template = _as_array(model, "v_template", 2).astype(np.float64)  # [V, 3]
        n_v = v_template.shape[0]
        shapedirs = _as_array(model, "shapedirs", 3).astype(np.float64)  # [V, 3, 400]
        posedirs = _as_array(model, "posedirs", 3).astype(np.float64)  # [V, 3, 36]
        weights = _as_array(model, "weights", 2).astype(np.float64)  # [V, 5]
        j_reg = _as_array(model, "J_regressor", 2).astype(np.float64)  # [5, V]
        kintree = _as_array(model, "kintree_table", 2)
        faces = _as_array(model, "f", 2)
        checks = {
            "v_template": v_template.shape[1] == 3,
            "shapedirs": shapedirs.shape[:2] == (n_v, 3) and shapedirs.shape[2] >= N_SHAPE + 50,
            "posedirs": posedirs.shape == (n_v, 3, 9 * (N_JOINTS - 1)),
            "weights": weights.shape == (n_v, N_JOINTS),
            "J_regressor": j_reg.shape == (N_JOINTS, n_v),
            "kintree_table": kintree.shape == (2, N_JOINTS),
            "f": faces.shape[1] == 3 and faces.min() >= 0 and faces.max() < n_v,
        }
        for key, ok in checks.items():
            if not ok:
                raise InvalidInput(_FIELD, f"{key} does not have FLAME 2020's layout")
        parents = kintree[0].astype(np.int64)
        parents[0] = -1  # the root's parent is stored as 2**32 − 1
        if np.any(parents[1:] < 0) or np.any(parents[1:] >= np.arange(1, N_JOINTS)):
            raise InvalidInput(_FIELD, "kintree_table: a joint's parent must come before it")

        beta = np.zeros(N_SHAPE)
        if shape_params is not None:
            sp_arr = np.asarray(shape_params, dtype=np.float64).ravel()
            if sp_arr.size > N_SHAPE or not np.all(np.isfinite(sp_arr)):
                raise InvalidInput("shape_params", f"expected up to {N_SHAPE} finite values")
            beta[: sp_arr.size] = sp_arr
        self.rig = get_rig("flame56")
        self.faces = faces.astype(np.int32)
        self._parents = parents
        self._weights = weights
        self._v_shaped = v_template + shapedirs[..., :N_SHAPE] @ beta  # [V, 3]
        exp_dirs = shapedirs[..., N_SHAPE : N_SHAPE + 50]  # [V, 3, 50]
        self._joints0 = j_reg @ self._v_shaped  # [5, 3]
        self._joints_exp = np.einsum("jv,vcn->njc", j_reg, exp_dirs)  # [50, 5, 3]
        # Expression and pose-corrective bases stacked as [86, 3·V] in (coordinate, vertex)
        # order, so one product per chunk gives contiguous x, y, z planes of every frame.
        basis = np.concatenate([exp_dirs, posedirs], axis=2)  # [V, 3, 86]
        self._basis = np.ascontiguousarray(
            basis.transpose(2, 1, 0).reshape(86, 3 * n_v), np.float32
        )
        self._rest_planes = np.ascontiguousarray(self._v_shaped.T, np.float32)  # [3, V]
        self._weights_t = np.ascontiguousarray(weights.T, np.float32)  # [5, V]
        self.face_labels = _eye_labels(self._v_shaped, self.faces, weights)

    def neutral(self) -> np.ndarray:
        """``[V, 3]`` float32: the template with the identity's shape (zero expression/pose)."""
        return self._v_shaped.astype(np.float32)

    def pose(self, motion: np.ndarray) -> np.ndarray:
        """``[T, 56]`` flame56 clip → ``[T, V, 3]`` float32 (linear blend skinning)."""
        clip = validated_clip(self.rig, motion).astype(np.float64)  # [T, 56]
        n_t, n_v = clip.shape[0], self._v_shaped.shape[0]
        out = np.empty((n_t, n_v, 3), dtype=np.float32)
        for t0 in range(0, n_t, _CHUNK):  # bounded memory for long clips
            out[t0 : t0 + _CHUNK] = self._pose_chunk(clip[t0 : t0 + _CHUNK])
        return out

    def _pose_chunk(self, clip: np.ndarray) -> np.ndarray:
        n_t, n_v = clip.shape[0], self._v_shaped.shape[0]
        exp = clip[:, 0:50]
        rotvec = np.zeros((n_t, N_JOINTS, 3))
        rotvec[:, NECK] = clip[:, 53:56]
        rotvec[:, JAW] = clip[:, 50:53]
        rot = rodrigues(rotvec)  # [T, 5, 3, 3]
        joints = self._joints0 + np.einsum("tn,njc->tjc", exp, self._joints_exp)  # [T, 5, 3]
        pose_feature = (rot[:, 1:] - np.eye(3)).reshape(n_t, -1)  # [T, 36]
        coeffs = np.concatenate([exp, pose_feature], axis=1).astype(np.float32)  # [T, 86]
        planes = (coeffs @ self._basis).reshape(n_t, 3, n_v) + self._rest_planes  # [T, 3, V]
        # World transforms along the kinematic chain, then relative to the rest joints.
        g_rot = np.empty_like(rot)
        g_trans = np.empty((n_t, N_JOINTS, 3))
        for k in range(N_JOINTS):
            par = self._parents[k]
            if par < 0:
                g_rot[:, k], g_trans[:, k] = rot[:, k], joints[:, k]
            else:
                local_t = joints[:, k] - joints[:, par]
                g_rot[:, k] = g_rot[:, par] @ rot[:, k]
                g_trans[:, k] = np.einsum("tij,tj->ti", g_rot[:, par], local_t) + g_trans[:, par]
        a_trans = g_trans - np.einsum("tkij,tkj->tki", g_rot, joints)  # [T, 5, 3]
        # Blend the joints' transforms per vertex: [T, 9, 5] @ [5, V] and [T, 3, 5] @ [5, V].
        blend_rot = (
            g_rot.reshape(n_t, N_JOINTS, 9).transpose(0, 2, 1).astype(np.float32) @ self._weights_t
        )
        blend_t = a_trans.transpose(0, 2, 1).astype(np.float32) @ self._weights_t
        out = np.empty((n_t, n_v, 3), dtype=np.float32)
        for i in range(3):
            acc = blend_t[:, i] + blend_rot[:, 3 * i] * planes[:, 0]
            acc += blend_rot[:, 3 * i + 1] * planes[:, 1]
            acc += blend_rot[:, 3 * i + 2] * planes[:, 2]
            out[..., i] = acc
        return out


def _eye_labels(verts: np.ndarray, faces: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SKIN, except faces skinned to an eye joint: SCLERA, IRIS and PUPIL by the angle from
    that eyeball's forward (+z) pole."""
    labels = np.full(len(faces), Material.SKIN, dtype=np.int8)
    owner = np.argmax(weights, axis=1)
    for joint in (EYE_LEFT, EYE_RIGHT):
        on = np.all(owner[faces] == joint, axis=1)
        if not on.any():
            continue
        ids = np.unique(faces[on])
        centre = verts[ids].mean(axis=0)
        direction = verts[faces[on]].mean(axis=1) - centre
        cos = direction[:, 2] / np.maximum(np.linalg.norm(direction, axis=1), 1e-12)
        angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        lab = np.full(int(on.sum()), Material.SCLERA, dtype=np.int8)
        lab[angle < _IRIS_DEG] = Material.IRIS
        lab[angle < _PUPIL_DEG] = Material.PUPIL
        labels[on] = lab
    return labels
