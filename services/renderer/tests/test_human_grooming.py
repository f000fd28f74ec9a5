"""Facial hair and clothing on the human bust (``heads.human.facial_hair`` / ``clothing``)."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human.clothing import KINDS as CLOTHES
from dyad.services.renderer.heads.human.clothing import dress, neckline_height
from dyad.services.renderer.heads.human.facial_hair import KINDS as FACIAL
from dyad.services.renderer.heads.human.facial_hair import cheek_line, facial_hair_shell
from dyad.services.renderer.heads.model import Material, apply_head_pose
from dyad.services.renderer.heads.preview import render_mesh

_JAW = ARKIT_BLENDSHAPES.index("jawOpen")


@pytest.fixture(scope="module")
def head() -> HumanHead:
    return HumanHead()


@pytest.fixture(scope="module")
def bust(head):
    n = head.num_vertices
    return head.neutral()[:n].astype(np.float64), head.faces, head.face_labels


@pytest.fixture(scope="module")
def beards(bust):
    v, f, lab = bust
    return {k: facial_hair_shell(v, f, lab, k, seed=0) for k in FACIAL}


@pytest.fixture(scope="module")
def clothes(bust, head):
    v, f, lab = bust
    return {k: dress(v, f, lab, k, seed=0, head_weights=head.head_weights) for k in CLOTHES}


def test_unknown_kinds_raise(bust) -> None:
    v, f, lab = bust
    with pytest.raises(ValueError):
        facial_hair_shell(v, f, lab, "mutton_chops", seed=0)
    with pytest.raises(ValueError):
        dress(v, f, lab, "toga", seed=0)


@pytest.mark.parametrize("kind", FACIAL)
def test_facial_hair_shapes_and_anchors(bust, beards, kind) -> None:
    v, _, lab = bust
    nv, nf, skin = beards[kind]
    assert len(nv) > 20 and nv.shape[1] == 3 and skin.shape == (len(nv),)
    assert nf.min() >= 0 and nf.max() < len(v) + len(nv)
    assert np.all(np.isfinite(nv))
    # Each shell vertex sits over a SKIN/NECK vertex of the beard area, below the cheek line.
    f = bust[1]
    skinny = np.zeros(len(v), dtype=bool)
    skinny[f[np.isin(lab, [Material.SKIN, Material.NECK])].ravel()] = True
    assert skinny[skin].all()
    assert np.all(v[skin, 1] < np.maximum(cheek_line(v[skin]), -0.038) + 1e-9)
    assert np.all(nv[:, 1] < 0.0)  # never up at the eyes / cheekbones


@pytest.mark.parametrize("kind", FACIAL)
def test_facial_hair_never_covers_lips_front_view(bust, beards, kind) -> None:
    v, f, lab = bust
    nv, nf, _ = beards[kind]
    size, centre, half = 512, (0.0, -0.06), 0.1
    base_colours = np.full((len(f), 3), 0.5)
    base_colours[np.isin(lab, [Material.LIPS, Material.MOUTH])] = (1.0, 0.0, 0.0)
    colours = np.concatenate([base_colours, np.tile([[0.0, 0.0, 1.0]], (len(nf), 1))])
    allv = np.concatenate([v, nv])
    allf = np.concatenate([f, nf])
    before = render_mesh(v, f, base_colours, size=size, centre=centre, half_extent=half)
    after = render_mesh(allv, allf, colours, size=size, centre=centre, half_extent=half)
    mouth = np.isin(lab, [Material.LIPS, Material.MOUTH])
    c = v[f[mouth]].mean(axis=1)
    px = ((c[:, 0] - centre[0]) * size / (2 * half) + size / 2).astype(int)
    py = ((centre[1] - c[:, 1]) * size / (2 * half) + size / 2).astype(int)
    red_before = before[py, px, 0].astype(int) - before[py, px, 2].astype(int) > 60
    assert red_before.sum() > 50  # the lips do show in the front view
    covered = after[py, px, 2].astype(int) - after[py, px, 0].astype(int) > 30
    assert np.sum(covered & red_before) <= 0.01 * red_before.sum(), np.sum(covered & red_before)


def test_thickness_order(bust, beards) -> None:
    v = bust[0]

    def thick(kind):
        nv, _, skin = beards[kind]
        return float(np.median(np.linalg.norm(nv - v[skin], axis=1)))

    assert 0.0003 <= thick("stubble") <= 0.0005
    assert thick("stubble") < thick("beard_short") < thick("beard")
    nv, _, skin = beards["beard"]
    assert np.max(np.linalg.norm(nv - v[skin], axis=1)) <= 0.0175
    nv, _, skin = beards["moustache"]
    assert np.max(np.linalg.norm(nv - v[skin], axis=1)) <= 0.003


def test_full_beards_cover_the_area(bust, beards) -> None:
    v = bust[0]
    for kind in ("stubble", "beard_short", "beard"):
        _, _, skin = beards[kind]
        p = v[skin]
        assert p[:, 1].min() < -0.12  # under the jaw
        assert np.abs(p[:, 0]).max() > 0.06  # the cheeks and jaw to the sides
        assert np.any((np.abs(p[:, 0]) < 0.01) & (p[:, 1] < -0.09) & (p[:, 2] > 0.06))  # chin


def test_moustache_on_the_upper_lip_only(bust, beards) -> None:
    v = bust[0]
    _, _, skin = beards["moustache"]
    p = v[skin]
    assert np.all(p[:, 1] > -0.07) and np.all(p[:, 1] < -0.035)
    assert np.all(p[:, 2] > 0.04) and np.all(np.abs(p[:, 0]) < 0.045)
    _, _, goat = beards["goatee"]
    assert v[goat, 1].min() < -0.1  # the goatee reaches the chin, the moustache does not


def test_chin_beard_follows_the_jaw(head, bust, beards) -> None:
    v = bust[0]
    d = head.deltas[_JAW].astype(np.float64)
    _nv, _, skin = beards["goatee"]
    dy = d[skin, 1]  # a shell vertex moves by its skin vertex's delta
    chin = (v[skin, 1] < -0.09) & (np.abs(v[skin, 0]) < 0.015)
    assert chin.sum() > 5
    assert np.median(dy[chin]) <= -0.005 and np.all(dy[chin] < 0.0)
    _mv, _, mskin = beards["moustache"]
    centre = np.abs(v[mskin, 0]) < 0.012
    # The upper lip's middle stays (< 1 mm); its sides stretch with the face unit, but far
    # less than the chin drops.
    assert np.median(np.linalg.norm(d[mskin[centre]], axis=1)) < 0.0012
    assert np.median(-d[mskin, 1]) < 0.5 * np.median(-dy[chin])


@pytest.mark.parametrize("kind", FACIAL)
def test_facial_hair_deterministic(bust, beards, kind) -> None:
    v, f, lab = bust
    again = facial_hair_shell(v, f, lab, kind, seed=0)
    for a, b in zip(beards[kind], again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", CLOTHES)
def test_clothing_relabels_still_faces_below_neckline(head, bust, clothes, kind) -> None:
    v, f, lab = bust
    labels_out, nv, nf, skin, nl = clothes[kind]
    changed = labels_out != lab
    assert changed.sum() > 300
    assert np.all(labels_out[changed] == Material.CLOTH)
    assert np.all(np.isin(lab[changed], [Material.SKIN, Material.NECK]))
    assert np.all(head.head_weights[f[changed]] < 0.01)
    assert np.all(v[f[changed], 1] < -0.1)
    assert np.all(head.head_weights[skin] < 0.01)
    assert nl.shape == (len(nf),) and np.all(nl == Material.CLOTH)
    if len(nf):
        assert nf.min() >= 0 and nf.max() < len(v) + len(nv)


def test_neckline_depths(bust) -> None:
    front = np.array([[0.0, 0.0, 0.05]])
    assert neckline_height(front, "v")[0] < neckline_height(front, "crew")[0] - 0.05
    assert neckline_height(front, "scoop")[0] < neckline_height(front, "crew")[0] - 0.04


@pytest.mark.parametrize("kind", ["shirt", "jacket", "hoodie", "cardigan"])
def test_clothing_geometry_outside_the_skin(bust, clothes, kind) -> None:
    v, f, lab = bust
    _, nv, _, _skin, _ = clothes[kind]
    assert len(nv)
    from dyad.services.renderer.heads.human.facial_hair import smoothed_normals

    body = f[np.isin(lab, [Material.SKIN, Material.NECK])]
    normals = smoothed_normals(v, body)
    idx = np.unique(body)
    # The nearest skin vertex of each new vertex: the new vertex lies on its outer side.
    sample = nv[:: max(1, len(nv) // 800)].astype(np.float64)
    d = np.linalg.norm(sample[:, None, :] - v[idx][None], axis=2)
    near = idx[np.argmin(d, axis=1)]
    out = np.einsum("ij,ij->i", sample - v[near], normals[near])
    assert np.mean(out > 0.0) > 0.97


@pytest.mark.parametrize("kind", ["jacket", "hoodie"])
def test_collar_and_hood_clear_the_chin_when_posed(head, bust, clothes, kind) -> None:
    v, _f, _lab = bust
    _, nv, _, skin, _ = clothes[kind]
    weights = np.concatenate([head.head_weights, head.head_weights[skin]]).astype(np.float32)
    allv = np.concatenate([v, nv]).astype(np.float32)
    chin = np.flatnonzero((v[:, 1] < -0.085) & (head.head_weights > 0.9) & (v[:, 2] > 0.0))
    for pitch, yaw in [(0.5, 0.0), (0.4, 0.8), (0.4, -0.8), (0.0, 1.2), (0.0, -1.2)]:
        pose = np.array([[pitch, yaw, 0.0]], dtype=np.float32)
        posed = apply_head_pose(allv[None], pose, head.neck_pivot, weights)[0]
        # Clothing does not move with the head at all.
        np.testing.assert_allclose(posed[len(v) :], allv[len(v) :], atol=0.002)
        gap = np.linalg.norm(posed[chin][:, None, :] - posed[len(v) :][None], axis=2).min()
        assert gap > 0.0005, (pitch, yaw, gap)


@pytest.mark.parametrize("kind", CLOTHES)
def test_clothing_deterministic(bust, clothes, head, kind) -> None:
    v, f, lab = bust
    again = dress(v, f, lab, kind, seed=0, head_weights=head.head_weights)
    for a, b in zip(clothes[kind], again, strict=True):
        np.testing.assert_array_equal(a, b)
