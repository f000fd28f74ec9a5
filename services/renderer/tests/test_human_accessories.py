"""Accessories on the human bust (``heads.human.accessories``)."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human.accessories import (
    ITEMS,
    accessories,
    ear_lobes,
    eye_centres,
)
from dyad.services.renderer.heads.model import Material, apply_head_pose

SEEDS = (0, 4)  # seed 0: round rims, hoops, left nostril; seed 4: rectangles, studs, right
_SKIN = (Material.SKIN, Material.NECK, Material.LIPS, Material.EYELID, Material.BROW)


@pytest.fixture(scope="module")
def head() -> HumanHead:
    return HumanHead()


@pytest.fixture(scope="module")
def bust(head) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(head._neutral)
    keep = np.all(head.faces < n, axis=1)
    return head.neutral()[:n].astype(np.float64), head.faces[keep], head.face_labels[keep]


@pytest.fixture(scope="module")
def made(bust) -> dict[tuple[str, int], tuple[np.ndarray, ...]]:
    v, f, lab = bust
    return {(i, s): accessories(v, f, lab, frozenset({i}), seed=s) for i in ITEMS for s in SEEDS}


def _skin_normals(v: np.ndarray, f: np.ndarray, lab: np.ndarray):
    sf = f[np.isin(lab, [int(m) for m in _SKIN])]
    tri = v[sf]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, sf[:, k], fn)
    idx = np.unique(sf)
    n = vn[idx] / np.linalg.norm(vn[idx], axis=1, keepdims=True)
    return v[idx], n


def test_unknown_item_raises(bust) -> None:
    v, f, lab = bust
    with pytest.raises(ValueError):
        accessories(v, f, lab, frozenset({"tiara"}), seed=0)


def test_nothing_is_empty(bust) -> None:
    v, f, lab = bust
    nv, nf, skin, nl = accessories(v, f, lab, frozenset(), seed=0)
    assert nv.shape == (0, 3) and nf.shape == (0, 3) and skin.shape == (0,) and nl.shape == (0,)


@pytest.mark.parametrize("item", sorted(ITEMS))
@pytest.mark.parametrize("seed", SEEDS)
def test_contract(bust, made, item, seed) -> None:
    v, _, _ = bust
    nv, nf, skin, nl = made[item, seed]
    assert nv.dtype == np.float32 and nf.dtype == np.int32 and nl.dtype == np.int8
    assert len(nv) == len(skin) and len(nf) == len(nl) > 0
    assert np.all(nl == Material.METAL)
    assert nf.min() >= len(v) and nf.max() < len(v) + len(nv)  # only new vertices
    assert np.all((skin >= 0) & (skin < len(v)))
    # Small triangles: every edge under 1.2 cm (thin geometry → small Gaussians).
    t = nv[nf - len(v)]
    edges = [np.linalg.norm(t[:, i] - t[:, (i + 1) % 3], axis=1) for i in range(3)]
    assert np.max(edges) < 0.012
    # Offset: the first new index moves with it.
    v2, f2, lab2 = bust
    _, nf_off, _, _ = accessories(v2, f2, lab2, frozenset({item}), seed=seed, offset=len(v) + 7)
    np.testing.assert_array_equal(nf_off, nf + 7)


@pytest.mark.parametrize("item", sorted(ITEMS))
@pytest.mark.parametrize("seed", SEEDS)
def test_outside_the_skin(bust, made, item, seed) -> None:
    v, f, lab = bust
    nv, _, _, _ = made[item, seed]
    pts, nrm = _skin_normals(v, f, lab)
    p = nv.astype(np.float64)
    d2 = ((p[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2)
    k = d2.argmin(axis=1)
    out = np.einsum("ij,ij->i", p - pts[k], nrm[k])
    assert out.min() > 0.0005


@pytest.mark.parametrize("item", sorted(ITEMS))
def test_deterministic(bust, made, item) -> None:
    v, f, lab = bust
    again = accessories(v, f, lab, frozenset({item}), seed=SEEDS[0])
    for a, b in zip(again, made[item, SEEDS[0]], strict=True):
        np.testing.assert_array_equal(a, b)


def test_seed_varies(made) -> None:
    for item in ("glasses", "earrings"):
        assert len(made[item, SEEDS[0]][0]) != len(made[item, SEEDS[1]][0])


def test_combined_items_concatenate(bust, made) -> None:
    v, f, lab = bust
    nv, nf, _, _ = accessories(v, f, lab, ITEMS, seed=0)
    assert len(nv) == sum(len(made[i, 0][0]) for i in ITEMS)
    assert nf.max() == len(v) + len(nv) - 1


@pytest.mark.parametrize("seed", SEEDS)
def test_glasses_in_front_of_the_eyes(bust, made, seed) -> None:
    v, f, lab = bust
    nv, nf, _, _ = made["glasses", seed]
    eyes = eye_centres(v, f, lab)
    tri = nv[nf - len(v)].astype(np.float64)  # [G, 3, 3]
    for side, sign in (("l", 1.0), ("r", -1.0)):
        centre, _, pupil = eyes[side]
        # Frame in front of this eye (within 3 cm of its axis in x/y) sits beyond the eyeball.
        near = np.linalg.norm(nv[:, :2] - centre[:2], axis=1) < 0.03
        assert near.sum() > 50
        over = np.abs(nv[:, 0] - centre[0]) < 0.02  # the rims above and below the eye
        assert over.sum() > 20
        assert nv[over, 2].min() > pupil[2] + 0.01
        # A rim surrounds the eye: frame to its left, right, above and below.
        rel = nv[near, :2] - pupil[:2]
        for axis in (0, 1):
            assert rel[:, axis].min() < -0.012 and rel[:, axis].max() > 0.012
        # The pupil is not covered by any metal triangle in the front view.
        a, b, c = tri[:, 0, :2], tri[:, 1, :2], tri[:, 2, :2]
        q = pupil[:2]

        def cross(o, p, r):
            return (p[:, 0] - o[:, 0]) * (r[1] - o[:, 1]) - (p[:, 1] - o[:, 1]) * (r[0] - o[:, 0])

        s1, s2, s3 = cross(a, b, q), cross(b, c, q), cross(c, a, q)
        inside = ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
        assert not inside.any()
        # Nor anything within 8 mm of it.
        assert np.linalg.norm(tri[..., :2] - q, axis=2).min() > 0.008
        _ = sign


@pytest.mark.parametrize("seed", SEEDS)
def test_temples_reach_past_the_ears(bust, made, seed) -> None:
    v, f, lab = bust
    nv, _, _, _ = made["glasses", seed]
    lobes = ear_lobes(v, faces=f, labels=lab)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        mine = nv[sign * nv[:, 0] > 0.06]
        # The ear's front is about 1 cm in front of the lobe; the temples end behind it.
        assert mine[:, 2].min() < v[lobes[side], 2] - 0.01
        assert sign * mine[:, 0].max() < 0.1  # hugging the head, not flaring out


@pytest.mark.parametrize("seed", SEEDS)
def test_earrings_below_the_lobes(bust, made, seed) -> None:
    v, f, lab = bust
    nv, _, skin, _ = made["earrings", seed]
    lobes = ear_lobes(v, faces=f, labels=lab)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        lobe = v[lobes[side]]
        mine = nv[sign * nv[:, 0] > 0.0]
        assert len(mine) > 0
        assert sign * lobe[0] > 0.06  # an ear, out at the side of the head
        assert np.linalg.norm(mine.mean(axis=0) - lobe) < 0.012
        assert mine[:, 1].mean() < lobe[1]
        assert np.all(skin[sign * nv[:, 0] > 0.0] == lobes[side])


@pytest.mark.parametrize("seed", SEEDS)
def test_nose_ring_at_a_nostril(bust, made, seed) -> None:
    nv, _, skin, _ = made["nose_ring", seed]
    c = nv.mean(axis=0)
    assert 0.008 < abs(c[0]) < 0.03  # beside the midline, at a nostril
    assert -0.055 < c[1] < -0.03  # at the bottom of the nose
    assert c[2] > 0.08  # on the front of the face
    assert len(np.unique(skin)) == 1
    span = np.ptp(nv, axis=0)
    assert span.max() < 0.012  # a small hoop


def test_accessories_follow_a_head_turn(head, bust) -> None:
    """The posing contract: carried by the skin vertex, turned with its head weight, the
    accessories stay rigidly in place on the head."""
    v, f, lab = bust
    nv, _, skin, _ = accessories(v, f, lab, ITEMS, seed=0)
    n_b = len(v)
    verts = np.concatenate([v, nv]).astype(np.float32)[None]
    weights = np.concatenate([head.head_weights, head.head_weights[skin]])
    yaw = np.array([[0.0, 0.5, 0.0]], dtype=np.float32)
    posed = apply_head_pose(verts, yaw, head.neck_pivot, weights)[0]
    # Each accessory vertex keeps its offset from its skin vertex, turned by that vertex's turn.
    for k in np.unique(skin):
        mine = np.flatnonzero(skin == k)
        before = nv[mine] - v[k]
        after = posed[n_b + mine] - posed[k]
        ang = 0.5 * head.head_weights[k]
        c, s = np.cos(ang), np.sin(ang)
        rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        np.testing.assert_allclose(after, before @ rot.T, atol=1e-5)
    assert np.all(head.head_weights[np.unique(skin)] > 0.99)  # all on the rigid head
