"""The procedural head: mesh sanity, the 52 ARKit blendshapes, head pose, validation."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dyad.errors import InvalidInput
from dyad.rigs import ARKIT_BLENDSHAPES, get_rig
from dyad.services.renderer.head_mesh import EYE_BAND, MOUTH_BAND, Part
from dyad.services.renderer.head_model import HeadModel, Material, euler_yxz
from dyad.services.renderer.head_parts import signed_volume
from dyad.services.renderer.head_preview import preview_mesh_png, render_mesh
from dyad.services.renderer.head_procedural import ProceduralHead
from dyad.services.renderer.head_shape import HairStyle, HeadShape

RIG = get_rig("arkit55")
MM = 1e-3


@pytest.fixture(scope="module")
def head() -> ProceduralHead:
    return ProceduralHead()


def _clip(**channels: float) -> np.ndarray:
    clip = RIG.neutral(1)
    for name, value in channels.items():
        clip[0, RIG.index(name)] = value
    return clip


def _posed(head: ProceduralHead, **channels: float) -> np.ndarray:
    return head.pose(_clip(**channels))[0]


# --- mesh sanity -------------------------------------------------------------------------


def test_is_a_head_model(head: ProceduralHead) -> None:
    assert isinstance(head, HeadModel)
    assert head.rig.name == "arkit55"
    assert head.faces.dtype == np.int32 and head.faces.shape[1] == 3
    assert head.face_labels.dtype == np.int8 and head.face_labels.shape == (len(head.faces),)
    assert head.neutral().dtype == np.float32


def test_counts_and_metric_size(head: ProceduralHead) -> None:
    v = head.neutral()
    assert 3000 <= len(v) <= 7000
    assert 8000 <= len(head.faces) <= 12000
    skin = v[head.geometry.part == Part.SKIN]
    # Without the ears, the skull is about 15 cm wide; chin to crown about 23 cm.
    no_ears = skin[np.abs(skin[:, 1] + 0.012) > 0.04]
    width = no_ears[:, 0].max() - no_ears[:, 0].min()
    assert 0.13 < width < 0.17
    lm = head.geometry.lm
    assert 0.21 < skin[:, 1].max() - lm.y_chin < 0.25
    assert 0.18 < skin[:, 2].max() - skin[:, 2].min() < 0.24
    # Origin roughly at the centre of the head (between crown and chin, front and back).
    assert abs((skin[:, 1].max() + lm.y_chin) / 2) < 0.02
    assert abs((skin[:, 2].max() + skin[:, 2].min()) / 2) < 0.02
    # Mirror symmetric: the subject's left ear is at +x, as far out as the right one.
    assert skin[:, 0].max() == pytest.approx(-skin[:, 0].min(), abs=1e-6)


def _closed_and_oriented(faces: np.ndarray) -> bool:
    """Every directed edge occurs once and its reverse once: a closed, consistently wound
    2-manifold."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = Counter(map(tuple, edges.tolist()))
    return all(n == 1 and directed.get((b, a), 0) == 1 for (a, b), n in directed.items())


@pytest.mark.parametrize("part", list(Part))
def test_each_shell_is_closed_with_outward_normals(head: ProceduralHead, part: Part) -> None:
    """Separate closed shells: skin (head and neck), two eyeballs, two dental arches, tongue."""
    g = head.geometry
    on = g.part[head.faces].max(axis=1) == part
    assert np.all(g.part[head.faces[on]] == part)  # no face spans two shells
    faces = head.faces[on]
    assert _closed_and_oriented(faces)
    assert signed_volume(g.vertices, faces) > 0.0
    if part == Part.SKIN:  # a litre or more: the whole head and neck
        assert signed_volume(g.vertices, faces) > 2.5e-3


def test_shell_check_catches_a_flipped_face(head: ProceduralHead) -> None:
    faces = head.faces[head.geometry.part[head.faces].max(axis=1) == Part.TONGUE].copy()
    faces[3] = faces[3, ::-1]
    assert not _closed_and_oriented(faces)


def test_same_parameters_give_identical_bytes() -> None:
    a, b = ProceduralHead(HeadShape(nose_length=1.1)), ProceduralHead(HeadShape(nose_length=1.1))
    assert a.neutral().tobytes() == b.neutral().tobytes()
    assert a.faces.tobytes() == b.faces.tobytes()
    assert a.face_labels.tobytes() == b.face_labels.tobytes()
    assert a.blendshapes.deltas.tobytes() == b.blendshapes.deltas.tobytes()


def test_materials_cover_the_features(head: ProceduralHead) -> None:
    counts = Counter(head.face_labels.tolist())
    for m, low in [
        (Material.SKIN, 3000),
        (Material.LIPS, 40),
        (Material.MOUTH, 60),
        (Material.TEETH, 100),
        (Material.TONGUE, 50),
        (Material.BROW, 30),
        (Material.HAIR, 1000),
        (Material.EYELID, 40),
        (Material.NECK, 500),
        (Material.SCLERA, 200),
        (Material.IRIS, 40),
        (Material.PUPIL, 20),
    ]:
        assert counts[m] >= low, m.name
    g = head.geometry
    v, f = g.vertices, head.faces
    for part, centre in ((Part.EYE_LEFT, g.eye_centres[0]), (Part.EYE_RIGHT, g.eye_centres[1])):
        pupil = (head.face_labels == Material.PUPIL) & (g.part[f[:, 0]] == part)
        # The eyes look forward: the pupil sits on the +z pole of its eyeball.
        direction = v[f[pupil]].mean(axis=(0, 1)) - centre
        assert direction[2] > 0.95 * np.linalg.norm(direction)
    assert g.eye_centres[0, 0] > 0 > g.eye_centres[1, 0]  # left eye on +x


def test_shape_parameters_change_the_head() -> None:
    base, wide = ProceduralHead().neutral(), ProceduralHead(HeadShape(head_width=1.15)).neutral()
    assert np.ptp(wide[:, 0]) > np.ptp(base[:, 0]) + 0.01
    long_nose = ProceduralHead(HeadShape(nose_projection=1.2)).neutral()
    assert long_nose[:, 2].max() > base[:, 2].max() + 0.002


@pytest.mark.parametrize(
    "bad", [{"head_width": 1.5}, {"eye_size": 0.5}, {"jaw_width": float("nan")}]
)
def test_shape_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInput) as err:
        HeadShape(**bad)
    assert err.value.field == f"shape.{next(iter(bad))}"


def test_hair_styles_decide_hair_faces() -> None:
    def hair_centroids(style: HairStyle) -> np.ndarray:
        h = ProceduralHead(hair=style)
        c = h.geometry.vertices[h.faces].mean(axis=1)
        return c[h.face_labels == Material.HAIR]

    assert len(hair_centroids(HairStyle.BALD)) == 0
    short, long_ = hair_centroids(HairStyle.SHORT), hair_centroids(HairStyle.LONG)
    # Long hair reaches down the back of the neck; short hair stops at the nape.
    assert long_[:, 1].min() < -0.15 < short[:, 1].min()
    assert short[:, 1].min() > -0.10
    bun = ProceduralHead(hair=HairStyle.BUN).neutral()
    assert bun[:, 2].min() < ProceduralHead(hair=HairStyle.SHORT).neutral()[:, 2].min() - 0.01


# --- blendshapes: each moves its region and leaves distant ones still -----------------------


def _regions(head: ProceduralHead) -> dict[str, np.ndarray]:
    g = head.geometry
    v = g.vertices
    lm = g.lm
    skin = g.part == Part.SKIN
    ie, im = g.rows["eye"], g.rows["mouth"]

    def near(point: np.ndarray, radius: float) -> np.ndarray:
        return np.flatnonzero(skin & (np.linalg.norm(v - point, axis=1) < radius))

    def front(x: float, y: float) -> np.ndarray:
        ok = skin & (v[:, 2] > 0.03)
        d = (v[:, 0] - x) ** 2 + (v[:, 1] - y) ** 2 - 1e-3 * v[:, 2]
        return v[np.flatnonzero(ok)[np.argmin(d[ok])]]

    mid_eye = np.abs(g.eye_s) < 0.5
    mid_mouth = np.abs(g.mouth_s) < 0.3
    lips_up = np.flatnonzero(skin & (g.grid_row == im + 2) & mid_mouth)
    lips_lo = np.flatnonzero(skin & (g.grid_row == im + MOUTH_BAND - 3) & mid_mouth)
    band = (g.grid_row == im + 2) & (np.abs(g.mouth_s) <= 1.0)
    cols = np.flatnonzero(band)
    corner_l = v[cols[np.argmax(g.mouth_s[cols])]]
    corner_r = v[cols[np.argmin(g.mouth_s[cols])]]
    r: dict[str, np.ndarray] = {}
    for side, sgn, part in (("L", 1.0, Part.EYE_LEFT), ("R", -1.0, Part.EYE_RIGHT)):
        eye_side = g.eye_side == sgn
        r[f"lidUp{side}"] = np.flatnonzero(skin & eye_side & mid_eye & (g.grid_row == ie))
        r[f"lidLo{side}"] = np.flatnonzero(
            skin & eye_side & mid_eye & (g.grid_row == ie + EYE_BAND - 1)
        )
        r[f"eyeball{side}"] = np.flatnonzero(g.part == part)
        r[f"eye{side}"] = np.concatenate(
            [r[f"lidUp{side}"], r[f"lidLo{side}"], r[f"eyeball{side}"]]
        )
        r[f"brow{side}"] = near(front(sgn * lm.x_eye, lm.y_brow), 0.004)
        r[f"browIn{side}"] = near(front(sgn * (lm.x_eye - 0.014), lm.y_brow), 0.003)
        r[f"browOut{side}"] = near(front(sgn * (lm.x_eye + 0.016), lm.y_brow), 0.003)
        r[f"cheek{side}"] = near(front(sgn * 0.046, lm.y_mouth + 0.012), 0.005)
        r[f"underEye{side}"] = near(front(sgn * lm.x_eye, lm.y_eye - 0.017), 0.004)
        r[f"ala{side}"] = near(front(sgn * 0.012, lm.y_subnasale + 0.006), 0.003)
        r[f"lipsUp{side}"] = np.flatnonzero(
            skin & (g.grid_row == im + 2) & (sgn * g.mouth_s > 0.4) & (sgn * g.mouth_s < 0.8)
        )
        r[f"lipsLo{side}"] = np.flatnonzero(
            skin
            & (g.grid_row == im + MOUTH_BAND - 3)
            & (sgn * g.mouth_s > 0.4)
            & (sgn * g.mouth_s < 0.8)
        )
    r["cornerL"] = near(corner_l, 0.0025)
    r["cornerR"] = near(corner_r, 0.0025)
    r["lipsUp"], r["lipsLo"] = lips_up, lips_lo
    r["lips"] = np.concatenate([lips_up, lips_lo])
    r["chin"] = near(front(0.0, lm.y_chin + 0.006), 0.006)
    r["tongue"] = np.flatnonzero(g.part == Part.TONGUE)
    r["forehead"] = near(front(0.0, lm.y_hairline - 0.01), 0.01)
    r["neckBase"] = np.flatnonzero(v[:, 1] < lm.y_neck_base + 0.01)
    r["back"] = np.flatnonzero(skin & (v[:, 2] < -0.08))
    r["eyes"] = np.concatenate([r["eyeL"], r["eyeR"]])
    r["brows"] = np.concatenate([r["browL"], r["browR"]])
    for k, idx in r.items():
        assert len(idx) > 0, k
    return r


# name: (region that moves, at least this far in mm, optional direction it moves along
# (x, y or z with sign), regions that must stay still (< 0.1 mm)).
ALWAYS_STILL = ["forehead", "neckBase", "back"]
EXPECT: dict[str, tuple[str, float, str | None, list[str]]] = {
    "eyeBlinkLeft": ("lidUpL", 4.0, "-y", ["eyeR", "chin", "lips"]),
    "eyeLookDownLeft": ("eyeballL", 2.0, "-y", ["eyeballR", "chin"]),
    "eyeLookInLeft": ("eyeballL", 2.0, "-x", ["eyeballR", "chin"]),
    "eyeLookOutLeft": ("eyeballL", 2.0, "+x", ["eyeballR", "chin"]),
    "eyeLookUpLeft": ("eyeballL", 2.0, "+y", ["eyeballR", "chin"]),
    "eyeSquintLeft": ("lidLoL", 1.0, "+y", ["eyeR", "chin"]),
    "eyeWideLeft": ("lidUpL", 1.5, "+y", ["eyeR", "chin"]),
    "eyeBlinkRight": ("lidUpR", 4.0, "-y", ["eyeL", "chin", "lips"]),
    "eyeLookDownRight": ("eyeballR", 2.0, "-y", ["eyeballL", "chin"]),
    "eyeLookInRight": ("eyeballR", 2.0, "+x", ["eyeballL", "chin"]),
    "eyeLookOutRight": ("eyeballR", 2.0, "-x", ["eyeballL", "chin"]),
    "eyeLookUpRight": ("eyeballR", 2.0, "+y", ["eyeballL", "chin"]),
    "eyeSquintRight": ("lidLoR", 1.0, "+y", ["eyeL", "chin"]),
    "eyeWideRight": ("lidUpR", 1.5, "+y", ["eyeL", "chin"]),
    "jawForward": ("chin", 3.0, "+z", ["eyes", "brows", "lipsUp"]),
    "jawLeft": ("chin", 3.0, "+x", ["eyes", "brows", "lipsUp"]),
    "jawRight": ("chin", 3.0, "-x", ["eyes", "brows", "lipsUp"]),
    "jawOpen": ("chin", 10.0, "-y", ["eyes", "brows", "lipsUp"]),
    "mouthClose": ("lipsLo", 3.0, "+y", ["eyes", "brows"]),
    "mouthFunnel": ("lips", 2.0, "+z", ["eyes", "brows"]),
    "mouthPucker": ("lips", 3.0, "+z", ["eyes", "brows"]),
    "mouthLeft": ("lips", 3.0, "+x", ["eyes", "brows"]),
    "mouthRight": ("lips", 3.0, "-x", ["eyes", "brows"]),
    "mouthSmileLeft": ("cornerL", 4.0, "+y", ["cornerR", "eyes", "brows"]),
    "mouthSmileRight": ("cornerR", 4.0, "+y", ["cornerL", "eyes", "brows"]),
    "mouthFrownLeft": ("cornerL", 3.0, "-y", ["cornerR", "eyes", "brows"]),
    "mouthFrownRight": ("cornerR", 3.0, "-y", ["cornerL", "eyes", "brows"]),
    "mouthDimpleLeft": ("cornerL", 3.0, "-z", ["cornerR", "eyes", "brows"]),
    "mouthDimpleRight": ("cornerR", 3.0, "-z", ["cornerL", "eyes", "brows"]),
    "mouthStretchLeft": ("cornerL", 4.0, "+x", ["cornerR", "eyes", "brows"]),
    "mouthStretchRight": ("cornerR", 4.0, "-x", ["cornerL", "eyes", "brows"]),
    "mouthRollLower": ("lipsLo", 2.0, "-z", ["lipsUp", "eyes", "brows"]),
    "mouthRollUpper": ("lipsUp", 2.0, "-z", ["lipsLo", "eyes", "brows"]),
    "mouthShrugLower": ("lipsLo", 2.0, "+y", ["lipsUp", "eyes", "brows"]),
    "mouthShrugUpper": ("lipsUp", 2.0, "+y", ["lipsLo", "eyes", "brows"]),
    "mouthPressLeft": ("lipsUpL", 1.0, "-y", ["cornerR", "lipsUpR", "eyes"]),
    "mouthPressRight": ("lipsUpR", 1.0, "-y", ["cornerL", "lipsUpL", "eyes"]),
    "mouthLowerDownLeft": ("lipsLoL", 3.0, "-y", ["lipsLoR", "lipsUp", "eyes"]),
    "mouthLowerDownRight": ("lipsLoR", 3.0, "-y", ["lipsLoL", "lipsUp", "eyes"]),
    "mouthUpperUpLeft": ("lipsUpL", 3.0, "+y", ["lipsUpR", "lipsLo", "eyes"]),
    "mouthUpperUpRight": ("lipsUpR", 3.0, "+y", ["lipsUpL", "lipsLo", "eyes"]),
    "browDownLeft": ("browL", 2.5, "-y", ["browR", "chin", "eyeballL"]),
    "browDownRight": ("browR", 2.5, "-y", ["browL", "chin", "eyeballR"]),
    "browInnerUp": ("browInL", 3.0, "+y", ["browOutL", "browOutR", "chin"]),
    "browOuterUpLeft": ("browOutL", 3.0, "+y", ["browOutR", "browInR", "chin"]),
    "browOuterUpRight": ("browOutR", 3.0, "+y", ["browOutL", "browInL", "chin"]),
    "cheekPuff": ("cheekL", 3.0, "+x", ["eyes", "brows"]),
    "cheekSquintLeft": ("underEyeL", 2.0, "+y", ["underEyeR", "chin", "eyeballL"]),
    "cheekSquintRight": ("underEyeR", 2.0, "+y", ["underEyeL", "chin", "eyeballR"]),
    "noseSneerLeft": ("alaL", 2.0, "+y", ["alaR", "chin", "eyes"]),
    "noseSneerRight": ("alaR", 2.0, "+y", ["alaL", "chin", "eyes"]),
    "tongueOut": ("tongue", 15.0, "+z", ["eyes", "brows", "lipsUp"]),
}


def test_expectation_table_covers_all_52() -> None:
    assert set(EXPECT) == set(ARKIT_BLENDSHAPES)


@pytest.fixture(scope="module")
def all_shapes(head: ProceduralHead) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    clip = RIG.neutral(len(ARKIT_BLENDSHAPES))
    clip[np.arange(52), np.arange(52)] = 1.0
    return head.pose(clip), _regions(head)


@pytest.mark.parametrize("name", ARKIT_BLENDSHAPES)
def test_blendshape_moves_its_region_only(
    head: ProceduralHead, all_shapes: tuple[np.ndarray, dict[str, np.ndarray]], name: str
) -> None:
    posed, regions = all_shapes
    disp = posed[ARKIT_BLENDSHAPES.index(name)].astype(np.float64) - head.neutral()
    dist = np.linalg.norm(disp, axis=1)
    moved, at_least_mm, direction, still = EXPECT[name]
    idx = regions[moved]
    assert dist[idx].max() > at_least_mm * MM, (
        f"{name}: {moved} moved only {dist[idx].max() / MM:.2f} mm"
    )
    if direction is not None:
        axis = "xyz".index(direction[1])
        sign = 1.0 if direction[0] == "+" else -1.0
        mean = disp[idx, axis].mean() * sign
        assert mean > 0.3 * at_least_mm * MM, f"{name}: {moved} does not move {direction}"
    for region in still + ALWAYS_STILL:
        worst = dist[regions[region]].max()
        assert worst < 0.1 * MM, f"{name}: {region} moved {worst / MM:.3f} mm"


def test_smile_right_raises_only_the_subjects_right_corner(
    head: ProceduralHead, all_shapes: tuple[np.ndarray, dict[str, np.ndarray]]
) -> None:
    posed, r = all_shapes
    rest = head.neutral()
    d = posed[ARKIT_BLENDSHAPES.index("mouthSmileRight")] - rest
    assert rest[r["cornerR"], 0].mean() < 0  # the subject's right is −x
    assert d[r["cornerR"], 1].mean() > 4 * MM
    assert np.abs(d[r["cornerL"]]).max() < 0.1 * MM


def test_blink_closes_the_lid_onto_the_lower_lid_outside_the_eyeball(head: ProceduralHead) -> None:
    g = head.geometry
    ie = g.rows["eye"]
    closed = _posed(head, eyeBlinkLeft=1.0)
    opened = head.neutral()
    on = (g.eye_side == 1) & (np.abs(g.eye_s) < 0.3)
    up = np.flatnonzero(on & (g.grid_row == ie))
    lo = np.flatnonzero(on & (g.grid_row == ie + EYE_BAND - 1))
    gap_open = np.abs(opened[up, 1].mean() - opened[lo, 1].mean())
    gap_closed = np.abs(closed[up, 1].mean() - closed[lo, 1].mean())
    assert gap_open > 8 * MM and gap_closed < 1.0 * MM
    lid_rows = (g.grid_row >= ie - 3) & (g.grid_row <= ie) & on & (g.part == Part.SKIN)
    r = np.linalg.norm(closed[lid_rows] - g.eye_centres[0], axis=1)
    assert r.min() > g.lm.r_eye  # the lid slides over the eyeball, never through it


def test_jaw_open_opens_the_mouth_and_mouth_close_closes_it(head: ProceduralHead) -> None:
    r = _regions(head)
    rest = head.neutral()
    opened = _posed(head, jawOpen=1.0)
    gap = opened[r["lipsUp"], 1].mean() - opened[r["lipsLo"], 1].mean()
    assert rest[r["lipsUp"], 1].mean() - rest[r["lipsLo"], 1].mean() < 1 * MM
    assert gap > 15 * MM
    g = head.geometry
    lower_teeth = g.part == Part.TEETH_LOWER
    assert (opened[lower_teeth, 1] - rest[lower_teeth, 1]).mean() < -10 * MM
    closed = _posed(head, jawOpen=1.0, mouthClose=1.0)
    assert abs(closed[r["lipsUp"], 1].mean() - closed[r["lipsLo"], 1].mean()) < 4 * MM


# --- head pose -------------------------------------------------------------------------------


def test_euler_convention_matches_the_motion_service() -> None:
    rng = np.random.default_rng(1)
    pyr = rng.uniform(-1.2, 1.2, (20, 3))
    ours = euler_yxz(pyr[:, 0], pyr[:, 1], pyr[:, 2])
    ref = Rotation.from_euler("YXZ", pyr[:, [1, 0, 2]]).as_matrix()
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_head_rotation_follows_the_sign_convention(head: ProceduralHead) -> None:
    rest = head.neutral()
    nose = int(np.argmax(np.where(head.geometry.part == Part.SKIN, rest[:, 2], -1.0)))
    base = rest[:, 1] < head.geometry.lm.y_neck_base + 0.012
    pitched = _posed(head, headPitch=0.3)
    assert pitched[nose, 1] < rest[nose, 1] - 0.01  # chin down: the nose tip goes down
    yawed = _posed(head, headYaw=0.3)
    assert yawed[nose, 0] > rest[nose, 0] + 0.01  # towards the subject's own left (+x)
    rolled = _posed(head, headRoll=0.3)
    left_eye = head.geometry.part == Part.EYE_LEFT
    assert rolled[left_eye, 1].mean() > rest[left_eye, 1].mean() + 0.005  # +x side goes up
    for posed in (pitched, yawed, rolled):
        assert np.abs(posed[base] - rest[base]).max() < 1e-6  # the base of the neck stays
    # The head itself turns rigidly: distances between head vertices are kept.
    top = rest[:, 1] > 0.0
    np.testing.assert_allclose(
        np.linalg.norm(pitched[top][1:] - pitched[top][:-1], axis=1),
        np.linalg.norm(rest[top][1:] - rest[top][:-1], axis=1),
        atol=1e-6,
    )


def test_pose_is_vectorised_over_frames(head: ProceduralHead) -> None:
    rng = np.random.default_rng(0)
    clip = RIG.neutral(6)
    clip[:, :52] = rng.uniform(0, 1, (6, 52)).astype(np.float32)
    clip[:, 52:] = rng.uniform(-0.4, 0.4, (6, 3)).astype(np.float32)
    out = head.pose(clip)
    assert out.shape == (6, head.num_vertices, 3) and out.dtype == np.float32
    for t in range(6):
        np.testing.assert_allclose(out[t], head.pose(clip[t : t + 1])[0], atol=1e-6)
    np.testing.assert_array_equal(head.pose(RIG.neutral(2))[1], head.neutral())


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 56), np.float32), np.zeros((4, 52), np.float32), np.zeros(55, np.float32)],
)
def test_pose_rejects_wrong_shapes(head: ProceduralHead, bad: np.ndarray) -> None:
    with pytest.raises(InvalidInput) as err:
        head.pose(bad)
    assert err.value.field == "motion"


def test_pose_rejects_non_finite_and_clamps_overshoot(head: ProceduralHead) -> None:
    clip = RIG.neutral(2)
    clip[1, 3] = np.nan
    with pytest.raises(InvalidInput, match="non-finite"):
        head.pose(clip)
    over, exact = _clip(jawOpen=1.05), _clip(jawOpen=1.0)
    np.testing.assert_array_equal(head.pose(over), head.pose(exact))


def test_preview_png_shows_the_face(head: ProceduralHead, tmp_path: Path) -> None:
    palette = {m: (0.5, 0.5, 0.5) for m in Material}
    palette[Material.SKIN] = (1.0, 0.0, 0.0)
    palette[Material.PUPIL] = (0.0, 0.0, 1.0)
    path = tmp_path / "front.png"
    preview_mesh_png(head.neutral(), head.faces, head.face_labels, palette, path, size=64)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", raw[16:24]) == (64, 64)
    img = render_mesh(
        head.neutral(),
        head.faces,
        np.array([palette[m] for m in Material])[head.face_labels],
        size=64,
    )
    assert tuple(img[0, 0]) == (235, 235, 240)  # background in the corner
    assert img[20:40, 24:40, 0].mean() > 2 * img[20:40, 24:40, 1].mean()  # red skin in the middle
