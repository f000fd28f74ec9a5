"""FLAME 2020 loading (restricted unpickler, fake chumpy) and skinning, on a synthetic model."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.services.renderer.heads.flame import SETTING, FlameHead, load_flame_pickle, rodrigues
from dyad.services.renderer.heads.model import HeadModel, Material

from .flame_fixture import synthetic_flame, write_synthetic_flame_pkl

RIG = get_rig("flame56")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("flame") / "generic_model.pkl"
    model = write_synthetic_flame_pkl(path, n_vertices=500, seed=3)
    return path, model


def test_the_fixture_pickles_like_the_real_file(model_path: tuple[Path, dict[str, Any]]) -> None:
    raw = model_path[0].read_bytes()
    assert b"chumpy.ch\nCh\n" in raw  # GLOBAL chumpy.ch Ch, as in generic_model.pkl
    with pytest.raises(ModuleNotFoundError, match="chumpy"):
        pickle.loads(raw)  # a plain unpickler needs chumpy; ours does not


def test_loads_through_the_chumpy_stand_in(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    loaded = load_flame_pickle(path)
    for key in ("v_template", "shapedirs", "weights", "posedirs"):
        assert isinstance(loaded[key], np.ndarray)
        np.testing.assert_array_equal(loaded[key], model[key])
    np.testing.assert_array_equal(loaded["J_regressor"].toarray(), model["J_regressor"].toarray())
    np.testing.assert_array_equal(loaded["kintree_table"], model["kintree_table"])


def test_zero_parameters_give_the_template(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    head = FlameHead(path)
    assert isinstance(head, HeadModel) and head.rig.name == "flame56"
    np.testing.assert_allclose(head.neutral(), model["v_template"], atol=1e-7)
    posed = head.pose(RIG.neutral(3))
    assert posed.shape == (3, len(model["v_template"]), 3) and posed.dtype == np.float32
    np.testing.assert_allclose(posed[2], model["v_template"], atol=1e-7)
    np.testing.assert_array_equal(head.faces, model["f"].astype(np.int32))


def test_expression_k_adds_its_blendshape(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    head = FlameHead(path)
    for k in (0, 7, 49):
        clip = RIG.neutral(1)
        clip[0, k] = 2.5
        expected = model["v_template"] + 2.5 * model["shapedirs"][..., 300 + k]
        np.testing.assert_allclose(head.pose(clip)[0], expected, atol=1e-6)


def test_jaw_rotation_moves_only_jaw_weighted_vertices(
    model_path: tuple[Path, dict[str, Any]],
) -> None:
    path, model = model_path
    head = FlameHead(path)
    clip = RIG.neutral(1)
    clip[0, 50] = 0.3  # jaw about x
    moved = np.linalg.norm(head.pose(clip)[0] - model["v_template"], axis=1)
    jaw = model["weights"][:, 2] > 0
    assert moved[~jaw].max() < 1e-7
    assert moved[jaw].max() > 0.005


def _reference_lbs(model: dict[str, Any], clip: np.ndarray) -> np.ndarray:
    """Straight from the published formulas, one frame and one joint at a time."""
    out = []
    parents = [-1, 0, 1, 1, 1]
    for row in clip.astype(np.float64):
        v = model["v_template"] + model["shapedirs"][..., 300:350] @ row[:50]
        joints = model["J_regressor"].toarray() @ v
        rv = np.zeros((5, 3))
        rv[1], rv[2] = row[53:56], row[50:53]
        rots = [rodrigues(r) for r in rv]
        feature = np.concatenate([(rots[k] - np.eye(3)).ravel() for k in range(1, 5)])
        v = v + model["posedirs"] @ feature
        world: list[np.ndarray] = []
        for k in range(5):
            local = np.eye(4)
            local[:3, :3] = rots[k]
            local[:3, 3] = joints[k] - (joints[parents[k]] if k else 0.0)
            world.append(local if k == 0 else world[parents[k]] @ local)
        skinned = np.zeros_like(v)
        for k in range(5):
            a = world[k].copy()
            a[:3, 3] -= a[:3, :3] @ joints[k]
            skinned += model["weights"][:, k : k + 1] * (v @ a[:3, :3].T + a[:3, 3])
        out.append(skinned)
    return np.stack(out)


def test_skinning_matches_a_per_joint_reference(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    head = FlameHead(path)
    rng = np.random.default_rng(5)
    clip = RIG.neutral(4)
    clip[:, :50] = rng.normal(0, 1, (4, 50))
    clip[:, 50:56] = rng.uniform(-0.4, 0.4, (4, 6))
    np.testing.assert_allclose(head.pose(clip), _reference_lbs(model, clip), atol=2e-6)


def test_shape_parameters_shape_the_neutral(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    beta = np.array([1.0, -2.0, 0.5])
    head = FlameHead(path, shape_params=beta)
    np.testing.assert_allclose(
        head.neutral(), model["v_template"] + model["shapedirs"][..., :3] @ beta, atol=1e-6
    )
    with pytest.raises(InvalidInput) as err:
        FlameHead(path, shape_params=np.zeros(301))
    assert err.value.field == "shape_params"


def test_eyeballs_are_labelled_from_their_skinning(model_path: tuple[Path, dict[str, Any]]) -> None:
    path, model = model_path
    head = FlameHead(path)
    owner = np.argmax(model["weights"], axis=1)[head.faces]
    eye = np.all(owner >= 3, axis=1)
    assert set(head.face_labels[eye].tolist()) <= {Material.SCLERA, Material.IRIS, Material.PUPIL}
    assert (head.face_labels[eye] == Material.PUPIL).any()
    assert np.all(head.face_labels[~eye] == Material.SKIN)


def test_wrong_channel_count_is_refused(model_path: tuple[Path, dict[str, Any]]) -> None:
    head = FlameHead(model_path[0])
    with pytest.raises(InvalidInput) as err:
        head.pose(np.zeros((2, 55), np.float32))
    assert err.value.field == "motion"


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_with_a_forbidden_global_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    model = synthetic_flame(200)
    model["v_template"] = _Evil(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(InvalidInput) as err:
        FlameHead(path)
    assert err.value.field == "flame_model"
    assert "system" in err.value.reason
    assert not marker.exists()  # nothing ran


@pytest.mark.parametrize(
    "payload",
    [
        b"not a pickle",
        pickle.dumps([1, 2, 3], protocol=2),
        pickle.dumps({"v_template": np.zeros((3, 3))}),
    ],
)
def test_unreadable_files_are_invalid_input(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bad.pkl"
    path.write_bytes(payload)
    with pytest.raises(InvalidInput) as err:
        FlameHead(path)
    assert err.value.field == "flame_model"


def test_wrong_layout_is_invalid_input(tmp_path: Path) -> None:
    model = synthetic_flame(200)
    model["posedirs"] = model["posedirs"][..., :30]
    path = tmp_path / "short.pkl"
    path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(InvalidInput, match="posedirs"):
        FlameHead(path)


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition) as err:
        FlameHead(tmp_path / "nowhere" / "generic_model.pkl")
    assert SETTING == "DYAD_RENDER_FLAME_MODEL"
    assert SETTING in err.value.message and "generic_model.pkl" in err.value.message
