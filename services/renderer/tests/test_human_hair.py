"""Hair shells on the human bust (``heads.human.hair``)."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human.hair import hair_shell
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.heads.shape import HairStyle

HAIRY = [s for s in HairStyle if s is not HairStyle.BALD]


@pytest.fixture(scope="module")
def head() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = HumanHead()
    return h.neutral().astype(np.float64), h.faces, h.face_labels


@pytest.fixture(scope="module")
def shells(head) -> dict[HairStyle, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    v, f, lab = head
    return {s: hair_shell(v, f, lab, s, seed=0) for s in HairStyle}


def _combined(head, shell):
    v, _, _ = head
    nv, nf, _ = shell
    return np.concatenate([v, nv.astype(np.float64)]), nf.astype(np.int64)


def _offsets(head, shell) -> np.ndarray:
    v, _, _ = head
    nv, _, skin = shell
    return np.linalg.norm(nv - v[skin], axis=1)


def test_bald_is_empty(shells) -> None:
    nv, nf, skin = shells[HairStyle.BALD]
    assert nv.shape == (0, 3) and nf.shape == (0, 3) and skin.shape == (0,)


@pytest.mark.parametrize("style", HAIRY)
def test_shapes_and_indices(head, shells, style) -> None:
    v, _, lab = head
    nv, nf, skin = shells[style]
    assert nv.dtype == np.float32 and nf.dtype == np.int32
    assert len(nv) > 100 and len(nf) > 200 and skin.shape == (len(nv),)
    assert np.isfinite(nv).all()
    assert nf.min() >= 0 and nf.max() < len(v) + len(nv)
    assert skin.min() >= 0 and skin.max() < len(v)
    # Every new vertex is used, and hair follows skin (not eyes, teeth, brows or lips).
    assert np.array_equal(np.unique(nf[nf >= len(v)]) - len(v), np.arange(len(nv)))
    skin_faces = head[1][np.isin(lab, [Material.SKIN, Material.NECK])]
    assert np.isin(skin, skin_faces).all()
    assert np.isin(nf[nf < len(v)], skin_faces).all()
    # No degenerate triangles.
    vv, ff = _combined(head, shells[style])
    tri = vv[ff]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    assert area.min() > 1e-9


@pytest.mark.parametrize("style", HAIRY)
def test_hair_stays_above_the_hairline(head, shells, style) -> None:
    v, _, _ = head
    _, nf, skin = shells[style]
    vv, ff = _combined(head, shells[style])
    attached = np.concatenate([skin, nf[nf < len(v)]])  # bust vertices the hair sits on
    p = v[attached]
    front = p[:, 2] > 0.03  # the forehead and temples: hair starts well above the brows
    assert p[front, 1].min() > 0.035
    if style is not HairStyle.LONG:
        assert p[:, 1].min() > -0.085  # no lower than the nape
        assert vv[ff][..., 1].min() > -0.095
    else:
        assert p[:, 1].min() < -0.12  # down the back of the neck


def test_long_reaches_lower_than_short(head, shells) -> None:
    low = {s: shells[s][0][:, 1].min() for s in (HairStyle.SHORT, HairStyle.LONG)}
    assert low[HairStyle.LONG] < low[HairStyle.SHORT] - 0.05


@pytest.mark.parametrize("style", HAIRY)
def test_nothing_in_front_of_the_face(head, shells, style) -> None:
    v, f, lab = head
    centre = v[f].mean(axis=1)
    brows = (lab == Material.BROW) & (centre[:, 1] > 0.01)  # the brows, not the lashes
    brow_z = v[f[brows]][..., 2].max()
    vv, ff = _combined(head, shells[style])
    tri = vv[ff]  # [G, 3, 3]
    hc = tri.mean(axis=1)
    face_region = (np.abs(hc[:, 0]) < 0.06) & (hc[:, 1] < 0.06)
    assert not np.any(face_region & (tri[..., 2].max(axis=1) > brow_z))
    # Seen from the front, no hair triangle lies in front of the eyes, nose tip or mouth.
    pupils = [
        centre[(lab == Material.PUPIL) & (np.sign(centre[:, 0]) == s)].mean(0) for s in (-1, 1)
    ]
    skin = np.unique(f[lab == Material.SKIN])
    nose = v[skin[np.argmax(v[skin, 2])]]
    mouth = centre[lab == Material.LIPS].mean(axis=0)
    mouth[2] = centre[lab == Material.LIPS][:, 2].max()
    for point in [*pupils, nose, mouth]:
        a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]

        def cross2(p, q, r):
            return (q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (
                r[:, 0] - p[:, 0]
            )

        pt = np.broadcast_to(point, a.shape)
        area = cross2(a, b, c)
        ok = np.abs(area) > 1e-14
        safe = np.where(ok, area, 1.0)
        l1 = cross2(a, pt, c) / safe
        l2 = cross2(a, b, pt) / safe
        l0 = 1.0 - l1 - l2
        inside = ok & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
        depth = l0 * a[:, 2] + l1 * b[:, 2] + l2 * c[:, 2]
        assert not np.any(inside & (depth > point[2])), (style, point)


@pytest.mark.parametrize("style", HAIRY)
def test_shell_is_outside_the_scalp(head, shells, style) -> None:
    v, _, _ = head
    nv, _, skin = shells[style]
    head_part = v[skin, 1] > -0.05
    # The skull: farther from the head's centre than the skin vertex followed.
    r_hair, r_skin = np.linalg.norm(nv, axis=1), np.linalg.norm(v[skin], axis=1)
    assert np.all(r_hair[head_part] > r_skin[head_part])
    # The neck (LONG): farther from the neck's vertical axis (x = 0, z = −0.02).
    axis = np.array([0.0, -0.02])
    h_hair = np.linalg.norm(nv[:, [0, 2]] - axis, axis=1)
    h_skin = np.linalg.norm(v[skin][:, [0, 2]] - axis, axis=1)
    assert np.all(h_hair[~head_part] > h_skin[~head_part])
    assert _offsets(head, shells[style]).min() > 0.0003


def test_thickness_by_style(head, shells) -> None:
    med = {s: float(np.median(_offsets(head, shells[s]))) for s in HAIRY}
    assert med[HairStyle.SHAVED] < med[HairStyle.SHORT] < med[HairStyle.CURLY]
    assert med[HairStyle.SHAVED] < 0.001
    assert 0.005 <= med[HairStyle.SHORT] <= 0.008
    assert 0.011 <= med[HairStyle.CURLY] <= 0.018
    assert med[HairStyle.RECEDING] < med[HairStyle.SHORT]
    # Curls vary: the thickness isn't one value.
    curly = _offsets(head, shells[HairStyle.CURLY])
    assert np.percentile(curly, 90) - np.percentile(curly, 10) > 0.003


def test_receding_hairline_is_higher(head, shells) -> None:
    v, _, _ = head

    def front_line(style: HairStyle) -> float:
        p = v[shells[style][2]]
        return float(p[(np.abs(p[:, 0]) < 0.03) & (p[:, 2] > 0.0), 1].min())

    assert front_line(HairStyle.RECEDING) > front_line(HairStyle.SHORT) + 0.015


def test_bun_sticks_out_at_the_back(head, shells) -> None:
    bun, short = shells[HairStyle.BUN][0], shells[HairStyle.SHORT][0]
    reach = np.array([0.0, 0.55, -0.83]) / np.linalg.norm([0.0, 0.55, -0.83])
    assert (bun @ reach).max() > (short @ reach).max() + 0.02


@pytest.mark.parametrize("style", HAIRY)
def test_faces_point_outward(head, shells, style) -> None:
    v, _, _ = head
    skin = shells[style][2]
    vv, ff = _combined(head, shells[style])
    tri = vv[ff]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    new = np.all(ff >= len(v), axis=1)
    s = skin[np.clip(ff - len(v), 0, None)]  # [G, 3] skin vertex of each corner
    shell_faces = new & (s[:, 0] != s[:, 1]) & (s[:, 1] != s[:, 2]) & (s[:, 0] != s[:, 2])
    # The shell: normals agree with the offset from the scalp.
    offset = (vv[ff] - v[s]).mean(axis=1)
    agree = np.einsum("ij,ij->i", normal, offset)[shell_faces] > 0.0
    assert agree.mean() > (0.97 if style is HairStyle.LONG else 0.995)
    # Whole hair: outward from the head's centre on the whole (the rim is sideways).
    assert np.einsum("ij,ij->i", normal, tri.mean(axis=1)).sum() > 0.0
    if style is HairStyle.BUN:
        bun = new & ~shell_faces
        centre = tri[bun].reshape(-1, 3).mean(axis=0)
        out = np.einsum("ij,ij->i", normal[bun], tri[bun].mean(axis=1) - centre)
        assert np.all(out > 0.0)


@pytest.mark.parametrize("style", [s for s in HAIRY if s is not HairStyle.SHAVED])
def test_rim_closes_the_shell(head, shells, style) -> None:
    """Every edge between two hair vertices is shared by two hair triangles: the shell's edge
    is closed by the rim down to the skin (no gap to see through at the hairline)."""
    v, _, _ = head
    _, ff = _combined(head, shells[style])
    e = np.sort(np.concatenate([ff[:, [0, 1]], ff[:, [1, 2]], ff[:, [2, 0]]]), axis=1)
    e = e[np.all(e >= len(v), axis=1)]
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert np.all(counts == 2)


@pytest.mark.parametrize("style", HAIRY)
def test_deterministic_per_seed(head, style) -> None:
    v, f, lab = head
    a = hair_shell(v, f, lab, style, seed=3)
    b = hair_shell(v, f, lab, style, seed=3)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x, y)
    if style in (HairStyle.CURLY, HairStyle.BUN):
        c = hair_shell(v, f, lab, style, seed=4)
        assert not np.array_equal(a[0], c[0])
