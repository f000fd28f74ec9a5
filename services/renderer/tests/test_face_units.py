"""The face-unit corrections (``heads/human/face_units.py``): gains applied to the CC0 units,
each corrected unit kept to its region, mouthClose limited to jawOpen, and the lips
physically plausible where they close, roll and press (seen from the front camera)."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human import face_units as fu
from dyad.services.renderer.heads.human import face_units_rebuilt as fr
from dyad.services.renderer.heads.human.data import face_unit_files, read_target
from dyad.services.renderer.heads.human.model import DM_TO_M, _base
from dyad.services.renderer.heads.model import Material

from .head_helpers import _clip, _posed

MOVES = 0.001  # 1 mm: "this vertex moves" for the region checks
ROW = 0.0002  # the lip raster's row height: 0.2 mm
MEET = 0.003  # at most this much mouth interior seen between the lips when they meet
OVER = 0.003  # the lower lip seen at most this far above the lip line at rest


@pytest.fixture(scope="module")
def human() -> HumanHead:
    return HumanHead()


def test_gains_are_applied_to_the_cc0_units(human: HumanHead) -> None:
    base, files = _base(), face_unit_files()
    n = len(base.mesh.vertices)
    for name in (*fu.GAINS, "jawOpen", "eyeBlinkLeft"):
        raw = base.bust.scatter(*read_target(files[name], n)) * DM_TO_M  # [V, 3] m
        k = ARKIT_BLENDSHAPES.index(name)
        want = raw * fu.GAINS.get(name, 1.0)
        np.testing.assert_allclose(human.deltas[k, : len(raw)], want, atol=1e-7, err_msg=name)


def test_gains_are_bounded_and_name_real_units() -> None:
    assert set(fu.GAINS) <= set(ARKIT_BLENDSHAPES)
    assert all(1.0 < g <= 2.5 for g in fu.GAINS.values())  # only enlarged, never flipped
    g = fu.gain_vector()
    assert g.shape == (52,) and np.count_nonzero(g != 1.0) == len(fu.GAINS)


def test_corrections_are_deterministic_and_leave_the_input() -> None:
    rng = np.random.default_rng(7)
    raw = rng.normal(size=(52, 30, 3))
    before = raw.copy()
    a, b = fu.correct_units(raw), fu.correct_units(raw)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(raw, before)
    with pytest.raises(ValueError, match="52 units"):
        fu.correct_units(raw[:51])


#: Each corrected unit's region: a vertex it moves ≥ 1 mm lies in it (head metres: +y up,
#: origin at eye height, +x the subject's left).
_REGIONS = {
    "browInnerUp": lambda v: v[:, 1] > -0.01,
    "browOuterUpLeft": lambda v: (v[:, 1] > -0.04) & (v[:, 0] > 0.01),
    "browOuterUpRight": lambda v: (v[:, 1] > -0.04) & (v[:, 0] < -0.01),
    "browDownLeft": lambda v: (v[:, 1] > -0.02) & (v[:, 0] > -0.01),
    "browDownRight": lambda v: (v[:, 1] > -0.02) & (v[:, 0] < 0.01),
    "mouthStretchLeft": lambda v: (v[:, 1] < 0.0) & (v[:, 0] > -0.02),
    "mouthStretchRight": lambda v: (v[:, 1] < 0.0) & (v[:, 0] < 0.02),
    "mouthShrugLower": lambda v: (v[:, 1] < -0.06) & (np.abs(v[:, 0]) < 0.03),
    "eyeLookDownLeft": lambda v: (np.abs(v[:, 1]) < 0.02) & (v[:, 0] > 0.01),
    "eyeLookDownRight": lambda v: (np.abs(v[:, 1]) < 0.02) & (v[:, 0] < -0.01),
}


@pytest.mark.parametrize("name", sorted(fu.GAINS))
def test_each_corrected_unit_stays_in_its_region(human: HumanHead, name: str) -> None:
    v = human.neutral()
    d = np.linalg.norm(_posed(human, **{name: 1.0}) - v, axis=1)
    moved = d > MOVES
    assert moved.sum() > 20, f"{name} moves almost nothing"
    outside = moved & ~_REGIONS[name](v)
    assert not outside.any(), f"{name} moves {outside.sum()} vertices outside its region"


def test_mouth_close_is_limited_by_jaw_open(human: HumanHead) -> None:
    np.testing.assert_array_equal(_posed(human, mouthClose=1.0), human.neutral())
    np.testing.assert_allclose(
        _posed(human, jawOpen=0.4, mouthClose=1.0),
        _posed(human, jawOpen=0.4, mouthClose=0.4),
        atol=1e-7,
    )
    clip = _clip(mouthClose=0.8, jawOpen=0.5)
    kept = clip.copy()
    out = fu.limit_mouth_close(clip)
    np.testing.assert_array_equal(clip, kept)
    assert out[0, human.rig.index("mouthClose")] == pytest.approx(0.5)


# --- lip plausibility, from the front camera -----------------------------------------------------

_U, _L, _I = 1, 2, 3  # triangle kinds: upper lip/face (jaw-still), lower lip (jaw-moved), inside


def _mouth(h: HumanHead) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangles of the bust around the mouth's midline, their kind (what jawOpen moves ≥ 10 mm
    is the lower lip, what it moves < 2 mm the upper lip and face) and the upper lip's vertices
    on the midline."""
    v, f, labels = h.neutral(), h.faces, h.face_labels
    nb = len(h.bust.vertices)
    jaw = np.linalg.norm(h.deltas[h.rig.index("jawOpen")], axis=1)
    c = v[f].mean(axis=1)
    tri = np.flatnonzero(
        (np.abs(c[:, 0]) < 0.02)
        & (c[:, 1] > -0.13)
        & (c[:, 1] < -0.03)
        & (c[:, 2] > 0.03)
        & (f.max(axis=1) < nb)
    )
    j = jaw[f[tri]]
    inside = np.isin(labels[tri], (Material.TEETH, Material.MOUTH, Material.TONGUE))
    kind = np.where(
        inside, _I, np.where((j > 0.01).all(1), _L, np.where((j < 0.002).all(1), _U, 0))
    )
    lips = np.unique(f[np.isin(labels, (Material.LIPS, Material.SKIN))])
    lips = lips[(lips < nb) & (np.abs(v[lips, 0]) < 0.012) & (v[lips, 2] > 0.06)]
    lips = lips[(v[lips, 1] > -0.09) & (v[lips, 1] < -0.04)]
    return tri, kind, lips[jaw[lips] < 0.002]


def _front_view(h: HumanHead, p: np.ndarray, tri: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """``[columns, rows]`` kind of the front-most triangle on rays along −z at 9 columns
    |x| ≤ 8 mm and 0.2 mm rows from y = −0.13 up to −0.03 (−1: no triangle)."""
    t = p[h.faces[tri]].astype(np.float64)  # [S, 3, 3]
    xs, ys = np.linspace(-0.008, 0.008, 9), np.arange(-0.13, -0.03, ROW)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    q = np.stack([gx.ravel(), gy.ravel()], 1)  # [N, 2]
    a, e0, e1 = t[:, 0, :2], t[:, 1, :2] - t[:, 0, :2], t[:, 2, :2] - t[:, 0, :2]
    det = e0[:, 0] * e1[:, 1] - e0[:, 1] * e1[:, 0]  # [S]
    ok = np.abs(det) > 1e-12
    det = np.where(ok, det, 1.0)
    w = q[:, None, :] - a[None]  # [N, S, 2]
    s = (w[..., 0] * e1[None, :, 1] - w[..., 1] * e1[None, :, 0]) / det
    r = (e0[None, :, 0] * w[..., 1] - e0[None, :, 1] * w[..., 0]) / det
    hit = (s >= 0) & (r >= 0) & (s + r <= 1) & ok[None]
    z = t[None, :, 0, 2] + s * (t[None, :, 1, 2] - t[None, :, 0, 2])
    z = np.where(hit, z + r * (t[None, :, 2, 2] - t[None, :, 0, 2]), -np.inf)
    front = np.where(np.isfinite(z.max(1)), kind[z.argmax(1)], -1)
    return front.reshape(len(xs), len(ys))


def _lip_faults(h: HumanHead, p: np.ndarray) -> dict[str, float]:
    """Metres, worst column: the mouth interior seen between the lips, and how far above the
    lip line at rest (the upper lip's lowest vertex) the lower lip is seen: it may push up
    behind the upper lip, not over it."""
    tri, kind, upper = _mouth(h)
    gap = 0.0
    over = -1.0
    for col in _front_view(h, p, tri, kind):
        top_down = col[::-1]
        rows_u, rows_l = np.flatnonzero(top_down == _U), np.flatnonzero(top_down == _L)
        if rows_l.size:
            top_y = -0.03 - (rows_l[0] + 1) * ROW  # the grid runs to −0.03, top row first
            over = max(over, top_y - float(h.neutral()[upper, 1].min()))
        if rows_u.size and rows_l.size:
            first_l = rows_l[0]
            last_u = rows_u[rows_u < first_l].max(initial=-1)
            gap = max(gap, np.count_nonzero(top_down[last_u + 1 : first_l] == _I) * ROW)
    return {"gap": gap, "over": over}


_CLOSED = {
    "rest": {},
    "mouthClose alone": {"mouthClose": 1.0},
    "jaw 0.3 + close": {"jawOpen": 0.3, "mouthClose": 0.3},
    "jaw 0.6 + close": {"jawOpen": 0.6, "mouthClose": 0.6},
    "jaw 1 + close": {"jawOpen": 1.0, "mouthClose": 1.0},
    "rollUpper": {"mouthRollUpper": 1.0},
    "rollLower": {"mouthRollLower": 1.0},
    "roll both": {"mouthRollUpper": 1.0, "mouthRollLower": 1.0},
    "pressLeft": {"mouthPressLeft": 1.0},
    "pressRight": {"mouthPressRight": 1.0},
    "press both": {"mouthPressLeft": 1.0, "mouthPressRight": 1.0},
    "press both at 0.5": {"mouthPressLeft": 0.5, "mouthPressRight": 0.5},
}


@pytest.mark.parametrize("pose", sorted(_CLOSED))
def test_lips_meet_without_crossing(human: HumanHead, pose: str) -> None:
    f = _lip_faults(human, _posed(human, **_CLOSED[pose]))
    mm = {k: round(x * 1e3, 1) for k, x in f.items()}
    assert f["gap"] <= MEET, f"{pose}: the lips part, {mm}"
    assert f["over"] <= OVER, f"{pose}: the lower lip rides over the upper lip, {mm}"


def test_the_lip_check_sees_an_open_mouth_and_the_uncorrected_close(human: HumanHead) -> None:
    """The check can fail: jawOpen alone parts the lips; the CC0 mouthClose driven alone (no
    limit) lifts the lower lip over the upper lip."""
    assert _lip_faults(human, _posed(human, jawOpen=0.3))["gap"] > MEET
    raw_close = human.neutral() + human.deltas[human.rig.index("mouthClose")]
    assert _lip_faults(human, raw_close)["over"] > 5 * OVER


# --- the units rebuilt from the mesh (face_units_rebuilt) ----------------------------------------

_MOUTH_UNITS = ("mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight")
_EYE_UNITS = ("eyeLookUpLeft", "eyeLookUpRight", "eyeLookInLeft", "eyeLookInRight")


def _eye(side: str) -> tuple[np.ndarray, np.ndarray]:
    """Decimetres: the eye's centre and unit forward, as ``_base`` finds them."""
    mesh = _base().mesh
    c = mesh.group_centroid(f"joint-{side}-eye")
    fwd = mesh.group_centroid(f"joint-{side}-eye-target") - c
    return c, fwd / np.linalg.norm(fwd)


def _unit(name: str) -> np.ndarray:
    return _base().deltas_dm[ARKIT_BLENDSHAPES.index(name)]  # [V, 3] dm


def _frame() -> dict:
    b = _base()
    jaw = np.linalg.norm(b.deltas_dm[ARKIT_BLENDSHAPES.index("jawOpen")], axis=1)
    return fr.mouth_frame(b.bust, b.labels, jaw)


def test_rebuilt_units_replace_the_cc0_ones_and_only_them() -> None:
    b, files = _base(), face_unit_files()
    assert set(fr.REBUILT) == {*_MOUTH_UNITS, *_EYE_UNITS}
    assert not set(fr.REBUILT) & set(fu.GAINS)
    for name in fr.REBUILT:
        raw = b.bust.scatter(*read_target(files[name], len(b.mesh.vertices)))
        assert np.abs(_unit(name) - raw).max() > 0.01, f"{name} is still the CC0 unit"
    a = fu.correct_units(np.zeros((52, 4, 3)))
    assert not a.any()  # without the geometry: gains only


@pytest.mark.parametrize("name", _EYE_UNITS)
def test_eye_units_turn_the_globe_rigidly_by_the_documented_angle(name: str) -> None:
    side = "l" if name.endswith("Left") else "r"
    c, fwd = _eye(side)
    b = _base()
    ball = b.bust.vertices_in(f"helper-{side}-eye")
    p = b.bust.vertices[ball]
    q = p + _unit(name)[ball]
    r0 = np.linalg.norm(p - c, axis=1)
    np.testing.assert_allclose(np.linalg.norm(q - c, axis=1), r0, atol=1e-6)  # rigid at 1
    deg = fr.LOOK_UP_DEG if "Up" in name else fr.LOOK_IN_DEG
    half = np.linalg.norm(p + 0.5 * _unit(name)[ball] - c, axis=1)
    assert half.min() >= np.cos(np.radians(deg) / 2) * r0.min() - 1e-9  # the chord, inwards
    assert half.max() <= r0.max() + 1e-9
    # The pupil (the globe's point on the forward axis) turns by the angle, up or nasal.
    u, _, vt = np.linalg.svd((p - c).T @ (q - c))
    rot = vt.T @ u.T
    g = rot @ fwd
    assert np.degrees(np.arccos(np.clip(g @ fwd, -1, 1))) == pytest.approx(deg, abs=0.1)
    if "Up" in name:
        assert g[1] - fwd[1] > 0.9 * np.sin(np.radians(deg))
    else:
        assert (g[0] - fwd[0]) * np.sign(c[0]) < -0.9 * np.sin(np.radians(deg))
    moved = np.flatnonzero(np.linalg.norm(_unit(name), axis=1) > 0.01)  # ≥ 1 mm
    assert np.linalg.norm(b.bust.vertices[moved] - c, axis=1).max() < 0.4  # 4 cm: its eye
    other = b.bust.vertices_in(f"helper-{'r' if side == 'l' else 'l'}-eye")
    assert not _unit(name)[other].any()  # the other eye is still


def test_look_up_lifts_the_upper_lid_and_leaves_the_lower_lid() -> None:
    b = _base()
    v = b.bust.vertices
    for side, name in (("l", "eyeLookUpLeft"), ("r", "eyeLookUpRight")):
        c, _ = _eye(side)
        d = _unit(name)
        lid = np.unique(b.bust.faces[b.labels == Material.EYELID])
        lid = lid[np.sign(v[lid, 0]) == np.sign(c[0])]
        above, below = lid[v[lid, 1] > c[1] + 0.02], lid[v[lid, 1] < c[1] - 0.02]
        assert d[above, 1].max() > 0.03  # the margin rises ≥ 3 mm
        assert np.abs(d[below]).max() == 0.0
        # The lid rides the globe: its distance to the centre is kept (to the chord's 0.6 %).
        r0 = np.linalg.norm(v[above] - c, axis=1)
        np.testing.assert_allclose(np.linalg.norm(v[above] + d[above] - c, axis=1), r0, rtol=1e-6)


@pytest.mark.parametrize("name", _MOUTH_UNITS)
def test_mouth_units_stay_around_the_mouth_on_their_side(name: str) -> None:
    m, v = _frame(), _base().bust.vertices
    moved = np.linalg.norm(_unit(name), axis=1) > 0.002  # 0.2 mm
    assert moved.sum() > 50
    p = v[moved]
    assert np.abs(p[:, 0]).max() < 1.3 * m["x_c"]
    assert p[:, 1].max() < m["y_s"] + 2.0 * m["h_low"]  # under the nose
    assert p[:, 1].min() > m["y_s"] - m["h_low"] - 0.2  # over the chin's point
    s = 1.0 if name.endswith("Left") else -1.0
    assert (s * p[:, 0]).mean() > 0.03  # mostly on its own side
    d = np.linalg.norm(_unit(name), axis=1)
    assert d[s * v[:, 0] > 0].sum() > 2.0 * d[s * v[:, 0] < 0].sum()


def _raised(d: np.ndarray, corner: np.ndarray, side: float) -> bool:
    """Does ``d`` (dm) lift the corner vertices (on average, or any by > 0.5 mm) or pull
    them outwards (on average > 0.1 mm)? A smile lifts them 11 mm."""
    dy, out = d[corner, 1], side * d[corner, 0]
    return bool(dy.mean() > 0.0 or dy.max() > 0.005 or out.mean() > 0.001)


def test_press_thins_the_lips_and_does_not_raise_the_corners() -> None:
    m, v = _frame(), _base().bust.vertices
    both = _unit("mouthPressLeft") + _unit("mouthPressRight")
    lower, upper = m["lower"], m["upper"]
    mid_l = lower[np.abs(v[lower, 0]) < 0.2 * m["x_c"]]
    mid_u = upper[np.abs(v[upper, 0]) < 0.2 * m["x_c"]]
    border_l = mid_l[np.argmin(v[mid_l, 1])]
    assert both[border_l, 1] > 0.5 * fr.PRESS * m["h_low"]  # the lower red shrinks upwards
    assert both[mid_u, 1].min() < -0.02  # the upper red shrinks downwards (≥ 2 mm)
    b, files = _base(), face_unit_files()
    lips = np.unique(b.bust.faces[b.labels == Material.LIPS])
    for name, s in (("mouthPressLeft", 1.0), ("mouthPressRight", -1.0)):
        corner = lips[s * v[lips, 0] > 0.85 * m["x_c"]]  # the lips' outer 15 %: the corner
        assert corner.size > 5

        assert not _raised(_unit(name), corner, s), f"{name} raises or widens the corner"
        raw = b.bust.scatter(*read_target(files[name], len(b.mesh.vertices)))
        assert _raised(raw, corner, s)  # the check can fail: the CC0 press: 4 mm up, 5 out


def test_lower_down_drops_the_lower_lip_on_its_side_and_shows_the_teeth(
    human: HumanHead,
) -> None:
    m, v = _frame(), _base().bust.vertices
    for name, s in (("mouthLowerDownLeft", 1.0), ("mouthLowerDownRight", -1.0)):
        d = _unit(name)
        lip = m["lower"]
        own = lip[(s * v[lip, 0] > 0.2 * m["x_c"]) & (s * v[lip, 0] < 0.6 * m["x_c"])]
        far = lip[s * v[lip, 0] < -0.8 * m["x_c"]]
        assert d[own, 1].min() < -0.7 * fr.LOWER_DOWN  # its side drops ≥ 4.9 mm
        assert d[own, 1].max() < -0.5 * fr.LOWER_DOWN  # all of it ≥ 3.5 mm
        assert d[far, 1].min() > -0.1 * fr.LOWER_DOWN  # the far corner hardly
        assert np.abs(d[m["upper"]]).max() == 0.0  # the upper lip is still
        seen = _lip_faults(human, _posed(human, **{name: 1.0}))
        assert seen["gap"] > 0.002, f"{name}: no teeth/mouth seen between the lips"
        assert seen["over"] <= OVER


def test_lower_teeth_are_seen_under_lower_down(human: HumanHead) -> None:
    """From the front, rays through the parted lips on that side hit the lower teeth: at
    x = ±8 mm on the unit's side ≥ 3 mm more of them than at rest, more than on the far side."""
    v = human.neutral()
    nb = len(human.bust.vertices)
    f = human.faces[: len(human.bust.faces)]
    kind = (human.face_labels[: len(f)] == Material.TEETH).astype(int)
    c = v[f].mean(axis=1)
    near = np.flatnonzero((np.abs(c[:, 0]) < 0.03) & (c[:, 1] > -0.13) & (c[:, 1] < -0.03))
    near = near[(f[near].max(axis=1) < nb)]

    def teeth_rows(p: np.ndarray) -> np.ndarray:  # [9] rows of teeth seen, x = −8 … +8 mm
        return np.asarray((_front_view(human, p, near, kind[near]) == 1).sum(axis=1))

    rest = teeth_rows(v)
    for name, own in (("mouthLowerDownLeft", -1), ("mouthLowerDownRight", 0)):
        seen = teeth_rows(_posed(human, **{name: 1.0})) - rest
        assert seen[own] * ROW >= 0.003, f"{name}: {seen} rows of teeth more than at rest"
        assert seen[own] > seen[-1 - own], f"{name}: not on its side, {seen}"


def test_look_up_yields_to_a_blink(human: HumanHead) -> None:
    """With the eye shut the gaze is hidden: eyeLookUp fades with eyeBlink, so the lid closes
    as far as the blink alone closes it (the lid lift would leave the globe showing)."""
    np.testing.assert_allclose(
        _posed(human, eyeBlinkLeft=1.0, eyeLookUpLeft=1.0), _posed(human, eyeBlinkLeft=1.0)
    )
    nb = len(human.bust.vertices)
    half = human.neutral()[:nb] + 0.5 * (
        human.deltas[human.rig.index("eyeBlinkRight")]
        + human.deltas[human.rig.index("eyeLookUpRight")]
    )  # blink ½: the gaze's lift at ½
    got = _posed(human, eyeBlinkRight=0.5, eyeLookUpRight=1.0)[:nb]
    np.testing.assert_allclose(got, half, atol=1e-6)
    clip = _clip(eyeLookUpLeft=1.0, eyeBlinkRight=1.0)  # the other eye's blink
    assert fu.limit_look_up(clip) is clip
