"""Clothing ends on a line (issue 17 §4, "a frame a person would accept").

- ``cut_faces`` and ``split_long_edges`` on small meshes: pieces on the right side, the same
  orientation and area, shared cut points on the level's zero, edges no longer than asked;
- ``Carriers``: cut points and midpoints move as the linear interpolation of their ends;
- the human bust in a shirt: where cloth meets skin, the boundary's vertices lie on the
  clothing's level line (within 0.1 mm), where the uncut bust's lie up to centimetres off it
  (the saw-tooth of hm08's neck slivers); posed, the cut points stay on their edges; the
  avatar saves and loads, and one made before the cut (no ``neckline_cut`` in its config)
  loads with its own triangles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import build_head, create_avatar, load_avatar
from dyad.services.renderer.heads.appearance import appearance_from_identity
from dyad.services.renderer.heads.human.bust import neck_line
from dyad.services.renderer.heads.human.carriers import Carriers
from dyad.services.renderer.heads.human.clothing import (
    cloth_level,
    clothable,
    still_threshold,
)
from dyad.services.renderer.heads.human.cut import cut_faces, split_long_edges
from dyad.services.renderer.heads.human.model import _NECK_HI, _NECK_LO, DM_TO_M, HumanHead
from dyad.services.renderer.heads.model import Material

WHO = "a man in his 40s with short brown hair in a red shirt"


def grid(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """A flat ``n × n`` grid of unit squares in z = 0, two triangles each, facing +z."""
    ys, xs = np.mgrid[0 : n + 1, 0 : n + 1]
    verts = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], 1).astype(np.float64)
    faces = []
    for y in range(n):
        for x in range(n):
            a, b, c = y * (n + 1) + x, y * (n + 1) + x + 1, (y + 1) * (n + 1) + x
            d = c + 1
            faces += [(a, b, d), (a, d, c)]
    return verts, np.asarray(faces)


def normals_z(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    return np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2]


def test_cut_faces_follow_the_level_line() -> None:
    verts, faces = grid()
    level = verts[:, 0] + 0.37 * verts[:, 1] - 2.9  # a slanted line across the grid
    cut = cut_faces(level, faces, np.ones(len(faces), bool))
    points = cut.ends.shape[0]
    crossed = len(cut.faces) - len(faces)
    assert points > 0 and crossed > 0 and crossed % 2 == 0  # each cut face: two more pieces
    t = cut.t[:, None]
    new = (1 - t) * verts[cut.ends[:, 0]] + t * verts[cut.ends[:, 1]]
    all_v = np.concatenate([verts, new])
    all_level = np.concatenate([level, np.zeros(points)])
    np.testing.assert_allclose(new[:, 0] + 0.37 * new[:, 1] - 2.9, 0.0, atol=1e-12)
    centre = all_level[cut.faces].mean(axis=1)
    assert np.all((centre < 0) == cut.below)  # each piece on its side
    nz = normals_z(all_v, cut.faces)
    assert np.all(nz > 0)  # orientation kept, nothing degenerate
    np.testing.assert_allclose(0.5 * nz.sum(), 36.0)  # the pieces tile the grid
    assert len(set(map(tuple, cut.ends))) == points  # each crossed edge cut once, shared


def test_split_long_edges_bounds_edges_and_keeps_the_surface() -> None:
    verts, faces = grid(3)
    verts[:, 0] *= 4.0  # slivers, 4 long and 1 high
    eligible = np.zeros(len(faces), bool)
    eligible[:6] = True
    fine = split_long_edges(verts, faces, 1.1, eligible)
    tri = fine.vertices.astype(np.float64)[fine.faces]
    longest = np.linalg.norm(tri - tri[:, [1, 2, 0]], axis=2).max(axis=1)
    assert longest[np.isin(fine.face_parent, np.flatnonzero(eligible))].max() <= 1.1
    assert longest[~np.isin(fine.face_parent, np.flatnonzero(eligible))].max() > 4.0
    nz = normals_z(fine.vertices.astype(np.float64), fine.faces)
    assert np.all(nz > 0)
    np.testing.assert_allclose(0.5 * nz.sum(), 36.0)
    np.testing.assert_allclose(
        fine.vertices[len(verts) :], fine.vertices[fine.new_from].mean(axis=1), atol=1e-6
    )


def test_carriers_interpolate_linearly() -> None:
    rng = np.random.default_rng(0)
    bust = rng.normal(size=(5, 3)).astype(np.float32)  # displacements of 5 bust vertices
    old = Carriers.single(np.array([0, 3])).concat(
        Carriers.on_edges(np.array([[1, 2]]), np.array([0.25]))
    )  # extras 5, 6 and 7
    both = old.with_midpoints(np.array([[5, 7], [8, 4]]), num_bust=5)  # 8: mid 5–7, 9: 8–4
    moved = both.carry(bust)
    np.testing.assert_allclose(moved[2], 0.75 * bust[1] + 0.25 * bust[2], atol=1e-6)
    np.testing.assert_allclose(moved[3], 0.5 * (moved[0] + moved[2]), atol=1e-6)
    np.testing.assert_allclose(moved[4], 0.5 * (moved[3] + bust[4]), atol=1e-6)
    np.testing.assert_allclose(both.weight.sum(axis=1), 1.0, atol=1e-6)


@pytest.fixture(scope="module")
def heads() -> tuple[HumanHead, HumanHead]:
    app = appearance_from_identity(WHO)
    return HumanHead(app), HumanHead(app, neckline_cut=True)


def boundary_level(head: HumanHead) -> np.ndarray:
    """|clothing level| (m) at the vertices of edges between a cloth and a skin triangle."""
    labels = np.asarray(head.face_labels)
    turn = (neck_line(head.bust.vertices) - still_threshold(_NECK_LO, _NECK_HI)) * DM_TO_M
    bust_level = cloth_level(head._neutral, turn, head.neckline)
    # the extras' level by interpolation from their carriers (0 at the cut points)
    level = np.concatenate([bust_level, head._carriers.carry(bust_level[:, None])[:, 0]])
    edges: dict[tuple[int, int], set[int]] = {}
    for fi, face in enumerate(np.asarray(head.faces)):
        for k in range(3):
            a, b = int(face[k]), int(face[(k + 1) % 3])
            edges.setdefault((min(a, b), max(a, b)), set()).add(int(labels[fi]))
    skin = {int(Material.SKIN), int(Material.NECK)}
    on = [e for e, labs in edges.items() if int(Material.CLOTH) in labs and labs & skin]
    return np.abs(level[np.asarray(on).ravel()])


def test_the_shirt_ends_on_its_line(heads: tuple[HumanHead, HumanHead]) -> None:
    old, new = heads
    assert old.clothing == new.clothing == "shirt" and new.neckline_cut
    before, after = boundary_level(old), boundary_level(new)
    assert before.size > 20 and after.size > 20
    assert np.percentile(before, 90) > 0.004  # teeth of 4 mm and more
    assert after.max() < 1e-4
    # cloth where it was, a little more of it (the pieces below the line)
    cloth_old = (np.asarray(old.face_labels) == Material.CLOTH).sum()
    cloth_new = (np.asarray(new.face_labels) == Material.CLOTH).sum()
    assert cloth_new > cloth_old
    n_f = len(new.bust.faces)
    assert clothable(np.asarray(new.face_labels)[:n_f]).sum() > 0


def test_cut_points_stay_on_their_edges_when_posed(heads: tuple[HumanHead, HumanHead]) -> None:
    _, head = heads
    rig = get_rig("arkit55")
    motion = np.zeros((2, len(rig.channels)), np.float32)
    for name in ("jawOpen", "mouthPucker", "mouthStretchLeft"):  # the neck moves with these
        motion[:, rig.channels.index(name)] = 1.0
    motion[1, rig.channels.index("headYaw")] = 0.4
    motion[1, rig.channels.index("headPitch")] = -0.2
    faces_only, turned = head.pose(motion)
    two = head._carriers.weight[:, 2:].max(axis=1, initial=0.0) == 0.0
    edge = two & (head._carriers.weight[:, 1] > 0.0)  # the cut points: two ends, on an edge
    assert edge.sum() > 20
    n_b = len(head._neutral)
    idx, w = head._carriers.index[edge], head._carriers.weight[edge]
    for posed, tolerance in ((faces_only, 1e-6), (turned, 3e-3)):
        # face units move them exactly as their edge; the head turn rotates each vertex by
        # its own weight (the cut points by their interpolated one), so bent by ≤ 2 mm
        between = w[:, :1] * posed[idx[:, 0]] + w[:, 1:2] * posed[idx[:, 1]]
        assert np.abs(posed[n_b:][edge] - between).max() < tolerance


def test_saved_avatars_keep_their_triangles(tmp_path: Path) -> None:
    av = create_avatar(WHO, head="human")
    assert av.head_config["neckline_cut"] is True
    back = load_avatar(av.save(tmp_path / "new"))
    assert back.num_gaussians == av.num_gaussians == len(back.head.faces)
    old_config = {k: v for k, v in av.head_config.items() if k != "neckline_cut"}
    old_head = build_head(old_config)  # an avatar saved before the cut
    assert len(old_head.faces) < len(av.head.faces)
    assert not old_head.neckline_cut
