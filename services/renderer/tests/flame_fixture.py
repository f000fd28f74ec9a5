"""A small synthetic file with FLAME 2020's structure, pickled the way the real one is.

Same keys and layout as ``generic_model.pkl`` (v_template, f, shapedirs [V, 3, 400], posedirs
[V, 3, 36], weights [V, 5], sparse J_regressor [5, V], kintree_table, J, bs_style, bs_type),
scaled down: a ~500-vertex head sphere plus two small eyeballs. The arrays are wrapped in a
fake ``chumpy.ch.Ch`` (a module of that name exists only while pickling), so the pickle
references ``chumpy.ch Ch`` exactly as the real file does and can only be read through the
loader's chumpy stand-in.

Skinning: the lower front of the sphere (the "chin") follows the jaw, the rest of the lower
half the neck, the eyeballs their eye joints. Pose correctives of joint k are non-zero only on
vertices that joint moves, so a jaw rotation leaves every vertex without jaw weight still.
"""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from dyad.services.renderer.heads.parts import _uv_sphere_faces, _uv_sphere_points

ROOT_PARENT = 4294967295  # how FLAME stores "no parent" (2**32 − 1)
KINTREE = np.array([[ROOT_PARENT, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64)


class _FakeCh:
    """Pickles like a chumpy ``Ch``: its state is a ``__dict__`` holding the array as ``x``."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars: set[str] = set()
        self._itr = None
        self._depends_on_deps: dict[str, Any] = {}
        self._make_dense = False
        self._make_sparse = False


def _sphere(
    centre: np.ndarray, radius: float, n_rings: int, n_seg: int
) -> tuple[np.ndarray, np.ndarray]:
    rings = np.pi * np.arange(1, n_rings + 1) / (n_rings + 1)
    return centre + radius * _uv_sphere_points(rings, n_seg), _uv_sphere_faces(n_rings, n_seg)


def synthetic_flame(n_vertices: int = 500, seed: int = 0) -> dict[str, Any]:
    """The model dictionary (plain numpy / scipy) for ``write_synthetic_flame_pkl``."""
    rng = np.random.default_rng(seed)
    n_seg = 24
    eye_rings, eye_seg = 10, 8  # fine enough that the pole fan is pupil-sized
    n_rings = max((n_vertices - 2 - 2 * (2 + eye_rings * eye_seg)) // n_seg, 4)
    head_v, head_f = _sphere(np.zeros(3), 0.09, n_rings, n_seg)
    eye_l_v, eye_f = _sphere(np.array([0.03, 0.01, 0.075]), 0.012, eye_rings, eye_seg)
    eye_r_v, _ = _sphere(np.array([-0.03, 0.01, 0.075]), 0.012, eye_rings, eye_seg)
    n_head, n_eye = len(head_v), len(eye_l_v)
    verts = np.concatenate([head_v, eye_l_v, eye_r_v])
    faces = np.concatenate([head_f, eye_f + n_head, eye_f + n_head + n_eye])
    n_v = len(verts)

    weights = np.zeros((n_v, 5))
    y, z = head_v[:, 1], head_v[:, 2]
    jaw = np.clip((-0.02 - y) / 0.03, 0.0, 1.0) * (z > 0.0)
    neck = np.clip((-0.04 - y) / 0.04, 0.0, 1.0) * (1.0 - jaw)
    weights[:n_head, 2] = jaw
    weights[:n_head, 1] = neck
    weights[:n_head, 0] = 1.0 - jaw - neck
    weights[n_head : n_head + n_eye, 3] = 1.0
    weights[n_head + n_eye :, 4] = 1.0

    def mean_of(mask: np.ndarray) -> np.ndarray:
        row = np.zeros(n_v)
        row[np.flatnonzero(mask)] = 1.0 / int(mask.sum())
        return row

    head_mask = np.zeros(n_v, dtype=bool)
    head_mask[:n_head] = True
    eye_l = np.zeros(n_v, dtype=bool)
    eye_l[n_head : n_head + n_eye] = True
    eye_r = np.zeros(n_v, dtype=bool)
    eye_r[n_head + n_eye :] = True
    low = head_mask & (verts[:, 1] < -0.05)
    hinge = head_mask & (np.abs(verts[:, 1] + 0.01) < 0.012) & (np.abs(verts[:, 0]) > 0.07)
    j_reg = sp.csc_matrix(
        np.stack([mean_of(head_mask), mean_of(low), mean_of(hinge), mean_of(eye_l), mean_of(eye_r)])
    )

    shapedirs = rng.normal(0.0, 0.001, (n_v, 3, 400))
    posedirs = rng.normal(0.0, 0.0005, (n_v, 3, 36))
    for k in range(1, 5):  # joint k's correctives only where joint k moves vertices
        posedirs[weights[:, k] == 0.0, :, 9 * (k - 1) : 9 * k] = 0.0
    return {
        "v_template": verts,
        "f": faces.astype(np.uint32),
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "weights": weights,
        "J_regressor": j_reg,
        "J": j_reg @ verts,
        "kintree_table": KINTREE.copy(),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def write_synthetic_flame_pkl(
    path: str | Path, n_vertices: int = 500, seed: int = 0
) -> dict[str, Any]:
    """Write the synthetic model to ``path`` (pickle protocol 2, chumpy-wrapped arrays as in
    the real file) and return the plain dictionary for comparison."""
    model = synthetic_flame(n_vertices, seed)
    wrapped = {
        k: (_FakeCh(v) if k in ("v_template", "shapedirs", "weights", "J") else v)
        for k, v in model.items()
    }
    pkg = types.ModuleType("chumpy")
    mod = types.ModuleType("chumpy.ch")
    cls = type("Ch", (_FakeCh,), {"__module__": "chumpy.ch"})
    mod.Ch = cls  # type: ignore[attr-defined]
    pkg.ch = mod  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("chumpy", "chumpy.ch")}
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = pkg, mod
    try:
        for v in wrapped.values():
            if isinstance(v, _FakeCh):
                v.__class__ = cls
        Path(path).write_bytes(pickle.dumps(wrapped, protocol=2))
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    return model
