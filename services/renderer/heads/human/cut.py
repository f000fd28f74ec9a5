"""Triangles cut along a level line, so a label boundary follows the line and not the mesh.

The clothing's neckline (``clothing.neckline_height``) crosses hm08's neck, whose triangles
are long slivers running down it: labelling whole triangles (cloth where every corner lies
below the line) leaves a saw-tooth boundary with teeth as long as the slivers, at 512² up to
~15 px. ``cut_faces`` splits each triangle the line crosses at the two points where it
crosses its edges — a triangle on one side, two on the other — and labels each piece by its
side, so the boundary is the line itself, to within the straight segments between crossings.

Cut points are new vertices on mesh edges, shared by the two triangles on either side of the
edge; ``Carriers.on_edges`` makes them move with their edge's ends. Faces keep their
orientation; a cut face's first piece takes its index, the others are appended.

Cutting alone leaves the slivers' pieces long along the neck, and a Gaussian reaches about
one triangle side past its triangle's centre: the line comes out as streaks of skin and cloth
running into each other. ``split_long_edges`` halves the longest edge of every triangle in a
band round the line until none is longer than a few millimetres (longest-edge bisection;
midpoints carried by their edge's ends, ``Carriers.midpoints``), so the Gaussians there are
small and the line sharp.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Cut:
    """``faces [F', 3]`` (the input's, cut ones replaced, pieces appended), ``below [F']``
    (the piece lies on the negative side of the level; uncut faces: all corners negative),
    ``face_parent [F']`` (input face of each), and the new vertices: ``ends [N, 2]`` (the
    edge each lies on) and ``t [N]`` (``(1 − t)·a + t·b``), numbered from the input's vertex
    count."""

    faces: np.ndarray  # [F', 3] int64
    below: np.ndarray  # [F'] bool
    face_parent: np.ndarray  # [F'] int64
    ends: np.ndarray  # [N, 2] int64
    t: np.ndarray  # [N] float64


def cut_faces(level: np.ndarray, faces: np.ndarray, which: np.ndarray) -> Cut:
    """Cut the faces ``which [F]`` (bool) of ``faces [F, 3]`` where ``level [V]`` (one value
    per vertex, interpolated linearly along edges) changes sign; a corner at exactly 0 counts
    as above (≥ 0)."""
    level = np.asarray(level, np.float64)
    f = np.asarray(faces, np.int64)
    n_v = len(level)
    neg = level < 0.0
    corners_neg = neg[f]  # [F, 3]
    count = corners_neg.sum(axis=1)
    crossed = np.asarray(which, bool) & (count > 0) & (count < 3)
    out_faces = [f.copy()]
    below = [count == 3]
    parent = [np.arange(len(f))]
    ends: list[tuple[int, int]] = []
    ts: list[float] = []
    points: dict[tuple[int, int], int] = {}

    def point(a: int, b: int) -> int:
        key = (a, b) if a < b else (b, a)
        got = points.get(key)
        if got is None:
            got = n_v + len(ends)
            points[key] = got
            ends.append(key)
            ts.append(level[key[0]] / (level[key[0]] - level[key[1]]))
        return got

    pieces: list[tuple[int, int, int]] = []
    piece_below: list[bool] = []
    piece_parent: list[int] = []
    for fi in np.flatnonzero(crossed):
        tri = f[fi]
        side = corners_neg[fi]
        # The corner alone on its side first, the others in the face's order after it.
        lone = int(np.flatnonzero(side != (count[fi] == 2))[0])
        a, b, c = (int(tri[(lone + k) % 3]) for k in range(3))
        ab, ac = point(a, b), point(a, c)
        lone_below = bool(side[lone])
        out_faces[0][fi] = (a, ab, ac)
        below[0][fi] = lone_below
        pieces += [(ab, b, c), (ab, c, ac)]
        piece_below += [not lone_below, not lone_below]
        piece_parent += [int(fi), int(fi)]
    return Cut(
        faces=np.concatenate([out_faces[0], np.asarray(pieces, np.int64).reshape(-1, 3)]),
        below=np.concatenate([below[0], np.asarray(piece_below, bool)]),
        face_parent=np.concatenate([parent[0], np.asarray(piece_parent, np.int64)]),
        ends=np.asarray(ends, np.int64).reshape(-1, 2),
        t=np.asarray(ts, np.float64),
    )


#: Passes of ``split_long_edges``: each halves the longest edges; 8 take 4 cm to 0.16 mm.
MAX_SPLITS = 8


@dataclass(frozen=True)
class Refined:
    """The mesh after splitting: ``vertices [V + N, 3]`` (the input's first, then the new
    ones), ``faces [F', 3]`` (the input's faces keep their index: a split face's first child
    takes its place, the second is appended), ``face_parent [F']`` (the input face each comes
    from) and ``new_from [N, 2]`` (the edge each new vertex halves, as vertex indices that
    may themselves be new, always smaller than the new vertex's own index)."""

    vertices: np.ndarray  # [V + N, 3] float32
    faces: np.ndarray  # [F', 3] int32
    face_parent: np.ndarray  # [F'] int64
    new_from: np.ndarray  # [N, 2] int64


def split_long_edges(
    vertices: np.ndarray, faces: np.ndarray, max_edge: float, eligible: np.ndarray | None = None
) -> Refined:
    """Bisect the longest edge of every ``eligible`` face (``[F]`` bool, default all) whose
    longest edge exceeds ``max_edge`` (same units as ``vertices [V, 3]``), repeatedly, until
    none does (or ``MAX_SPLITS``: a face would then have been split 2⁸ times)."""
    if max_edge <= 0:
        raise ValueError(f"max_edge must be positive, got {max_edge}")
    verts = [np.asarray(vertices, np.float64)]
    n_input = len(vertices)
    face_list = np.asarray(faces, np.int64).copy()  # [F, 3]
    parent = np.arange(len(face_list))
    ok = np.ones(len(face_list), bool) if eligible is None else np.asarray(eligible, bool).copy()
    midpoints: dict[tuple[int, int], int] = {}
    new_from: list[tuple[int, int]] = []
    for _ in range(MAX_SPLITS):
        all_v = np.concatenate(verts) if len(verts) > 1 else verts[0]
        tri = all_v[face_list]  # [F, 3, 3]
        edge_len = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2)  # [F, 3] edge i: (i, i+1)
        longest = edge_len.argmax(axis=1)
        split = np.flatnonzero(ok & (edge_len.max(axis=1) > max_edge))
        if split.size == 0:
            break
        added_pos: list[np.ndarray] = []
        children: list[np.ndarray] = []
        for f in split:
            i = int(longest[f])
            a, b, c = (int(face_list[f, (i + k) % 3]) for k in range(3))
            key = (a, b) if a < b else (b, a)
            m = midpoints.get(key)
            if m is None:
                m = n_input + len(new_from)
                midpoints[key] = m
                new_from.append(key)
                added_pos.append(0.5 * (all_v[a] + all_v[b]))
            face_list[f] = (a, m, c)
            children.append(np.array((m, b, c)))
        verts.append(np.asarray(added_pos).reshape(-1, 3))
        face_list = np.concatenate([face_list, np.asarray(children)])
        parent = np.concatenate([parent, parent[split]])
        ok = np.concatenate([ok, ok[split]])
    return Refined(
        vertices=np.concatenate(verts).astype(np.float32),
        faces=face_list.astype(np.int32),
        face_parent=parent,
        new_from=np.asarray(new_from, np.int64).reshape(-1, 2),
    )
