"""Mesh operations the human head's shells share (hair, facial hair, clothing): edges,
neighbour averages, vertex normals, distances along the surface, smoothstep, and the relaxed
shell heights."""

from __future__ import annotations

import numpy as np


def edges_of(faces: np.ndarray) -> np.ndarray:
    """``[E, 2]`` unique undirected edges (i < j) of ``faces [F, 3]``."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)


def neighbour_mean(values: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """Mean of each vertex's neighbours' ``values [n, ...]`` (itself where it has none)."""
    total = np.zeros_like(values)
    np.add.at(total, edges[:, 0], values[edges[:, 1]])
    np.add.at(total, edges[:, 1], values[edges[:, 0]])
    count = np.bincount(edges.ravel(), minlength=n).astype(np.float64)
    shape = (-1,) + (1,) * (values.ndim - 1)
    has = count > 0
    out = values.copy()
    out[has] = total[has] / count[has].reshape(shape)
    return out


def vertex_normals(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """``[V, 3]`` area-weighted unit vertex normals (zero where no face touches)."""
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # [F, 3], |fn| = 2·area
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.maximum(np.linalg.norm(vn, axis=1, keepdims=True), 1e-20)


def distance_to(sources: np.ndarray, v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``[V]`` shortest edge-path length from any vertex in ``sources [V]`` bool (inf where
    unreachable): Bellman–Ford relaxation, vectorised over the edges."""
    d = np.where(sources, 0.0, np.inf)
    length = np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)
    for _ in range(len(v)):
        new = d.copy()
        np.minimum.at(new, edges[:, 0], d[edges[:, 1]] + length)
        np.minimum.at(new, edges[:, 1], d[edges[:, 0]] + length)
        if np.array_equal(new, d):
            break
        d = new
    return d


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def relax_heights(
    base: np.ndarray,
    nrm: np.ndarray,
    thick: np.ndarray,
    edges: np.ndarray,
    on_edge: np.ndarray,
    iterations: int,
) -> np.ndarray:
    """Shell heights ``[H]`` over ``base [H, 3]`` along ``nrm [H, 3]``, relaxed: each vertex
    moves along its own normal only (no sliding) to where its neighbours' shell crosses that
    line on average, keeping at least 80 % of ``thick``; ``on_edge`` vertices stay put."""
    height = thick.copy()
    count = np.maximum(np.bincount(edges.ravel(), minlength=len(base)), 1)
    for _ in range(iterations):
        shell = base + nrm * height[:, None]
        total = np.zeros(len(base))
        for i, j in ((0, 1), (1, 0)):
            along = np.einsum("ij,ij->i", shell[edges[:, j]] - base[edges[:, i]], nrm[edges[:, i]])
            np.add.at(total, edges[:, i], along)
        height = np.where(on_edge, height, np.maximum(0.8 * thick, total / count))
    return height
