"""The procedural head's 52 ARKit blendshapes: each moves its region and leaves distant ones
still; smile sides, blink, jaw open and mouth close."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.renderer.heads.mesh import EYE_BAND, MOUTH_BAND, Part
from dyad.services.renderer.heads.procedural import ProceduralHead

from .head_helpers import RIG, _posed

MM = 1e-3


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
