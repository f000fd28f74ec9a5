"""Geometry fitting: the landmark ↔ bust correspondence, the torch landmark model's parity
with ``HumanHead.pose``, fitting camera, head pose and identity shape to Face Landmarker
readings of renders of a known avatar, fitted shapes in head configs, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.services.capture.fitting.correspondence import (
    IRISES,
    LandmarkReader,
    face_oval,
    load_correspondence,
    render_view,
    view_motion,
)
from dyad.services.capture.fitting.geometry import fit_geometry
from dyad.services.capture.fitting.shape_model import IdentityParams, LandmarkModel
from dyad.services.renderer.avatars.avatar import build_head, create_avatar, load_avatar
from dyad.services.renderer.heads.appearance import appearance_from_dict
from dyad.services.renderer.video import head_camera

PX = 256
#: The known identity: the default bust with a longer nose and chin, a narrower mouth, closer
#: eyes and a taller head (what the fit must find from a fresh default head).
KNOWN_SHAPE = {
    "nose/nose-scale-vert-incr": 1.0,
    "chin/chin-height-incr": 1.0,
    "mouth/mouth-scale-horiz-decr": 1.0,
    "eyes/l-eye-trans-in": 1.0,
    "eyes/r-eye-trans-in": 1.0,
    "head/head-scale-vert-incr": 0.5,
}
T = 6


@pytest.fixture(scope="module")
def reader():
    torch.set_num_threads(1)
    with LandmarkReader() as r:
        yield r


@pytest.fixture(scope="module")
def known_clip(reader):
    """Landmarks ``[T, 478, 3]`` of the known avatar under a known motion, front camera."""
    known = create_avatar("", head="human", shape_fit=KNOWN_SHAPE)
    camera = head_camera("front", PX)
    rng = np.random.default_rng(1)
    motion = np.zeros((T, 55), np.float32)
    motion[:, 53] = np.deg2rad(np.linspace(-25.0, 25.0, T))  # yaw
    motion[:, 52] = np.deg2rad(rng.uniform(-10.0, 10.0, T))  # pitch
    motion[:, 54] = np.deg2rad(rng.uniform(-5.0, 5.0, T))  # roll
    motion[:, [17, 24, 25]] = rng.uniform(0.0, 0.3, (T, 3))  # jaw, a little mouth
    found = [reader.read(render_view(known, motion[i : i + 1], camera)) for i in range(T)]
    assert all(f is not None for f in found)
    return known, camera, motion, np.stack(found)


def _intrinsics(camera) -> list[float]:
    k = camera.K
    return [k[0, 0], k[1, 1], k[0, 2], k[1, 2], camera.width, camera.height]


def test_correspondence_agrees_with_a_fresh_render(reader) -> None:
    corr = load_correspondence()
    assert len(corr.landmarks) >= 300
    assert not set(corr.landmarks.tolist()) & (set(IRISES) | face_oval())
    avatar = create_avatar("a middle-aged woman with olive skin", head="human")
    camera = head_camera("front", PX)
    for pitch, yaw in ((0.0, 0.0), (5.0, 15.0)):
        motion = view_motion(pitch, yaw)
        found = reader.read(render_view(avatar, motion, camera))
        assert found is not None
        points = corr.points(avatar.head.pose(motion)[0], avatar.head.faces)  # [L, 3]
        uv, _z = camera.project_points(points)
        err = np.linalg.norm(uv - found[corr.landmarks, :2], axis=1)
        assert np.median(err) <= 1.5, (pitch, yaw, np.median(err))
        assert np.percentile(err, 90) <= 3.0, (pitch, yaw, np.percentile(err, 90))


def test_torch_landmark_model_matches_the_numpy_pose() -> None:
    avatar = create_avatar("an older man with a long nose", head="human")
    corr = load_correspondence()
    model = LandmarkModel(avatar.head, appearance_from_dict(avatar.head_config["appearance"]), corr)
    rng = np.random.default_rng(0)
    motion = np.zeros((3, 55))
    motion[:, :52] = rng.uniform(0.0, 0.5, (3, 52))
    motion[:, 52:] = rng.uniform(-0.4, 0.4, (3, 3))
    params = IdentityParams.zeros()
    params.features[:] = torch.from_numpy(rng.uniform(-0.8, 0.8, len(params.features)))
    params.gender += 0.3
    params.age -= 0.2
    params.ethnic[0] += 0.3
    pose = torch.from_numpy(motion[:, 52:])
    ours = model.points(params, model.expression_offsets(motion), pose).numpy()
    config = dict(avatar.head_config, shape_fit=model.shape_fit(params, {}))
    head = build_head(config)
    theirs = corr.points(head.pose(motion).astype(np.float64), head.faces)
    assert np.abs(ours - theirs).max() < 1e-5  # metres
    plain = corr.points(avatar.head.pose(motion).astype(np.float64), avatar.head.faces)
    assert np.abs(theirs - plain).max() > 5e-3  # the parameters did move the landmarks


def test_fit_recovers_camera_pose_and_identity(known_clip) -> None:
    known, camera, motion, landmarks = known_clip
    rng = np.random.default_rng(2)
    tracked = motion.copy()
    tracked[:, 52:55] += np.deg2rad(rng.normal(0.0, 3.0, (T, 3)))  # a tracker's error
    fresh = create_avatar("", head="human").head_config
    detected = np.ones(T, bool)
    detected[2] = False  # a frame the tracker lost: no landmarks, its angles carried along
    landmarks = landmarks.copy()
    landmarks[2] = np.nan
    intr = _intrinsics(camera)
    fit = fit_geometry(fresh, landmarks, detected, tracked, intr, iters=30)

    assert fit.motion.shape == (T, 55) and fit.reprojection_px.shape == (T,)
    assert np.isnan(fit.reprojection_px[2]) and np.all(np.isfinite(fit.motion))
    assert fit.median_reprojection_px <= 2.0
    assert fit.median_reprojection_px <= 0.7 * fit.start_shape_px  # the shape fit's part
    angle_err = np.rad2deg(np.abs(fit.motion[:, 52:54] - motion[:, 52:54]))  # pitch, yaw
    assert np.all(np.median(angle_err, axis=0) <= 3.0), np.median(angle_err, axis=0)
    np.testing.assert_array_equal(fit.motion[:, :52], tracked[:, :52])  # expression as tracked
    # Camera orbit about the neck and a constant head turn look alike: only the distance
    # is pinned (the angles above check the orbit's part through the pose prior).
    assert abs(np.linalg.norm(fit.camera.position) - 0.68) < 0.05
    np.testing.assert_allclose(fit.camera.K, camera.K)

    corr = load_correspondence()
    used = np.unique(np.asarray(known.head.faces)[corr.faces])
    truth = known.head.neutral()[used]

    def vertex_error(config) -> float:
        return float(np.linalg.norm(build_head(config).neutral()[used] - truth, axis=1).mean())

    assert fit.head_config["shape_fit"] and "shape_fit" not in fresh
    assert vertex_error(fit.head_config) < 0.75 * vertex_error(fresh)


def test_old_avatars_render_unchanged_and_shape_fit_round_trips(tmp_path) -> None:
    camera = head_camera("front", 128)
    motion = view_motion(0.0, 10.0)
    old = create_avatar("a young man with a beard", head="human")
    assert "shape_fit" not in old.head_config
    empty = load_avatar(old.save(tmp_path / "old"))
    empty.head_config["shape_fit"] = {}
    assert np.array_equal(build_head(empty.head_config).neutral(), old.head.neutral())
    frame = render_view(old, motion, camera)
    assert np.array_equal(render_view(load_avatar(tmp_path / "old"), motion, camera), frame)

    shaped = create_avatar(
        "a young man with a beard", head="human", shape_fit={"nose/nose-scale-vert-incr": 1.0}
    )
    back = load_avatar(shaped.save(tmp_path / "shaped"))
    assert back.head_config["shape_fit"] == {"nose/nose-scale-vert-incr": 1.0}
    moved = render_view(back, motion, camera)
    assert np.array_equal(moved, render_view(shaped, motion, camera))
    assert np.abs(moved.astype(int) - frame).sum() > 1000  # the nose did change


def test_bad_input_is_invalid_before_any_work() -> None:
    config = {"kind": "human", "appearance": {}}  # never built: validation comes first
    lm = np.zeros((4, 478, 2))
    det = np.ones(4, bool)
    motion = np.zeros((4, 55))
    intr = [500.0, 500.0, 128.0, 128.0, 256, 256]
    with pytest.raises(InvalidInput, match="landmarks"):
        fit_geometry(config, np.zeros((4, 468, 2)), det, motion, intr)
    with pytest.raises(InvalidInput, match="detected"):
        fit_geometry(config, lm, np.zeros(4, bool), motion, intr)
    with pytest.raises(InvalidInput, match="motion"):
        fit_geometry(config, lm, det, np.zeros((3, 55)), intr)
    with pytest.raises(InvalidInput, match="intrinsics"):
        fit_geometry(config, lm, det, motion, [500.0, 500.0, 128.0, 128.0])
    with pytest.raises(InvalidInput, match="head_config"):
        fit_geometry({"kind": "procedural"}, lm, det, motion, intr)
    bad = dict(create_avatar("", head="human").head_config, shape_fit={"nose/bogus": 1.0})
    with pytest.raises(InvalidInput, match="shape_fit"):
        build_head(bad)
