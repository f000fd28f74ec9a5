"""The procedural head: mesh sanity, head pose, validation, the preview
(the 52 ARKit blendshapes: ``test_head_blendshapes.py``)."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dyad.errors import InvalidInput
from dyad.services.renderer.heads.mesh import Part
from dyad.services.renderer.heads.model import HeadModel, Material, euler_yxz
from dyad.services.renderer.heads.parts import signed_volume
from dyad.services.renderer.heads.preview import preview_mesh_png, render_mesh
from dyad.services.renderer.heads.procedural import ProceduralHead
from dyad.services.renderer.heads.shape import HairStyle, HeadShape

from .head_helpers import RIG, _clip, _posed

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
