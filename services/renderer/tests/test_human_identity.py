"""Identity shape of the human head: MakeHuman macro (age, gender, ethnicity) and feature
targets driven by an ``Appearance``."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dyad.errors import FailedPrecondition
from dyad.services.renderer.heads.appearance import (
    Appearance,
    appearance_from_identity,
    default_appearance,
    with_shape,
)
from dyad.services.renderer.heads.human import data as human_data
from dyad.services.renderer.heads.human import ethnicity
from dyad.services.renderer.heads.human import identity as hid
from dyad.services.renderer.heads.human.bust import Bust, crop_bust, neck_line

CM = 0.1  # decimetres
STILL = 1e-9


@pytest.fixture(scope="module")
def mesh() -> human_data.BaseMesh:
    return human_data.load_base_mesh()


@pytest.fixture(scope="module")
def bust(mesh: human_data.BaseMesh) -> Bust:
    return crop_bust(mesh)


@pytest.fixture(scope="module")
def head_idx(bust: Bust) -> np.ndarray:
    """Base indices of the head skin (above the jaw line)."""
    body = bust.vertices_in("body")
    return bust.base_index[body[neck_line(bust.vertices[body]) > 0.0]]


def _offsets(mesh: human_data.BaseMesh, a: Appearance) -> np.ndarray:
    return hid.identity_offsets(a, len(mesh.vertices))


def _look(text: str, **shape: float) -> Appearance:
    a = appearance_from_identity(text)
    return with_shape(a, **shape) if shape else a


def _neutral_shape(a: Appearance) -> Appearance:
    """The same person with every multiplier back at 1 (macro shape only)."""
    return with_shape(a, **dict.fromkeys(hid.FEATURE_TARGETS, 1.0))


def _extent(points: np.ndarray) -> np.ndarray:
    return np.asarray(points.max(axis=0) - points.min(axis=0))


def test_neutral_appearance_is_the_base_mesh(mesh: human_data.BaseMesh) -> None:
    off = _offsets(mesh, default_appearance())
    assert off.shape == mesh.vertices.shape
    assert np.abs(off).max() < 1e-9
    np.testing.assert_allclose(ethnicity.ethnic_weights(default_appearance()), [1 / 3] * 3)


def test_child_head_is_smaller_than_adult(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> None:
    child = _neutral_shape(_look("a 9 year old, fair skin"))
    adult = _neutral_shape(_look("a 40 year old, fair skin"))
    assert (child.age_band, adult.age_band) == ("child", "adult")
    v = mesh.vertices
    cranium = head_idx[v[head_idx, 1] > 7.3]  # above the eyes
    front = head_idx[(np.abs(v[head_idx, 0]) < 0.05) & (v[head_idx, 2] > 1.0)]
    crown, chin = cranium[np.argmax(v[cranium, 1])], front[np.argmin(v[front, 1])]
    del crown, chin  # the crown-to-chin height is NOT smaller (MakeHuman's child: see report)
    sizes = [_extent((v + _offsets(mesh, a))[cranium])[[0, 2]] for a in (child, adult)]
    assert np.all(sizes[0] < sizes[1] - 0.5 * CM), sizes  # cranium width and depth


def _jaw(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> np.ndarray:
    v = mesh.vertices[head_idx]
    return head_idx[(v[:, 1] > 6.2) & (v[:, 1] < 6.6) & (v[:, 2] > 0.3)]


def test_masculine_differs_from_feminine_in_the_lower_face(
    mesh: human_data.BaseMesh, head_idx: np.ndarray
) -> None:
    jaw = _jaw(mesh, head_idx)
    offs = {}
    for g in ("woman", "man"):
        a = _neutral_shape(_look(f"{g}, 40s, light brown skin"))
        offs[a.gender] = _offsets(mesh, a)
    diff = np.linalg.norm(offs["masculine"] - offs["feminine"], axis=1)
    assert diff[jaw].mean() > 0.5 * CM
    v = mesh.vertices[head_idx]
    height = {g: np.ptp((v + o[head_idx])[:, 1]) for g, o in offs.items()}
    assert height["masculine"] > height["feminine"] + 1.0 * CM, height  # a longer face


def test_senior_differs_from_adult_in_the_face(
    mesh: human_data.BaseMesh, head_idx: np.ndarray
) -> None:
    adult = _neutral_shape(_look("woman, 40s, olive skin"))
    senior = _neutral_shape(_look("woman, 75, olive skin"))
    assert senior.age_band == "senior"
    diff = np.linalg.norm(_offsets(mesh, senior) - _offsets(mesh, adult), axis=1)
    v = mesh.vertices
    face = head_idx[v[head_idx, 2] > 1.0]  # the front of the face
    assert diff[face].max() > 0.5 * CM
    assert diff[face].mean() > 0.05 * CM


def _nose(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> np.ndarray:
    v = mesh.vertices[head_idx]
    box = (np.abs(v[:, 0]) < 0.3) & (v[:, 1] > 6.8) & (v[:, 1] < 7.1) & (v[:, 2] > 1.45)
    return head_idx[box]


def _ears(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> np.ndarray:
    v = mesh.vertices[head_idx]
    box = (np.abs(v[:, 0]) > 0.6) & (v[:, 1] > 6.5) & (v[:, 1] < 7.8) & (v[:, 2] < 0.9)
    return head_idx[box]


def test_nose_width_widens_the_nose_only(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> None:
    base = _look("man, 40s")
    wide = with_shape(base, nose_width=1.2)
    o0, o1 = _offsets(mesh, base), _offsets(mesh, wide)
    nose = _nose(mesh, head_idx)
    w0 = _extent((mesh.vertices + o0)[nose])[0]
    w1 = _extent((mesh.vertices + o1)[nose])[0]
    assert w1 > w0 + 0.03 * CM, (w0, w1)
    ears = _ears(mesh, head_idx)
    assert np.abs(o1[ears] - o0[ears]).max() < STILL


def test_ear_size_moves_only_the_ears(mesh: human_data.BaseMesh, head_idx: np.ndarray) -> None:
    base = _look("woman, 30s")
    big = with_shape(base, ear_size=1.2)
    moved = np.linalg.norm(_offsets(mesh, big) - _offsets(mesh, base), axis=1) > 1e-6
    assert moved.sum() > 100
    v = mesh.vertices[moved]
    assert np.all(np.abs(v[:, 0]) > 0.4), "ear_size moved vertices near the midline"
    assert np.all((v[:, 1] > 6.3) & (v[:, 1] < 7.9) & (v[:, 2] < 1.25))  # the side of the head
    assert (
        set(np.flatnonzero(moved)) >= set(_ears(mesh, head_idx))
        or moved[_ears(mesh, head_idx)].mean() > 0.5
    )


def test_deterministic_per_appearance(mesh: human_data.BaseMesh) -> None:
    a = _look("person, 30s, freckles")
    b = _look("person, 30s, freckles")
    c = _look("person, 30s, glasses")
    np.testing.assert_array_equal(_offsets(mesh, a), _offsets(mesh, b))
    assert np.abs(_offsets(mesh, a) - _offsets(mesh, c)).max() > 0.1 * CM
    assert not np.allclose(ethnicity.ethnic_weights(a), ethnicity.ethnic_weights(c))


def test_ethnicity_rule() -> None:
    for text in ("woman, 30s", "man, 50s, tall", "teen, 16"):  # unknown: from the hash, not fixed
        w = ethnicity.ethnic_weights(_look(text))
        assert w.shape == (3,) and abs(w.sum() - 1.0) < 1e-9 and np.all(w >= 0.0)
        assert not np.allclose(w, 1 / 3)
    dark = ethnicity.ethnic_weights(_look("woman, 30s, deep brown skin"))
    pale = ethnicity.ethnic_weights(_look("woman, 30s, pale skin"))
    assert dark[0] > 0.6 and pale[2] > 0.5
    np.testing.assert_allclose(ethnicity.ethnic_weights(_look("east asian man, 30s")), [0, 1, 0])
    # "black hair" names a hair colour, not an ancestry.
    assert ethnicity.ethnic_weights(_look("man, 30s, black hair"))[0] < 0.99


@pytest.mark.parametrize(
    "text",
    ["woman, 25", "man, 40s", "old man, 80", "old woman, 70s", "teenage boy", "person, 30s"],
)
def test_offsets_are_centred_and_bounded(
    mesh: human_data.BaseMesh, bust: Bust, head_idx: np.ndarray, text: str
) -> None:
    off = _offsets(mesh, _look(text))
    assert np.all(np.isfinite(off))
    assert np.linalg.norm(off[head_idx].mean(axis=0)) < 0.3 * CM
    assert np.linalg.norm(off[head_idx], axis=1).max() < 3.0 * CM
    # the shoulders (cropped well below the frame) follow the body's build further
    assert np.linalg.norm(off[bust.base_index], axis=1).max() < 6.0 * CM


def test_child_offsets_bounded_on_the_head(
    mesh: human_data.BaseMesh, bust: Bust, head_idx: np.ndarray
) -> None:
    """A child's shoulders narrow by up to ~7 cm; the head itself stays within 3 cm."""
    off = _offsets(mesh, _look("girl, 9 years old"))
    assert np.linalg.norm(off[head_idx], axis=1).max() < 3.0 * CM
    assert np.linalg.norm(off[bust.base_index], axis=1).max() < 12.0 * CM  # narrow shoulders


def test_new_identity_is_fast(mesh: human_data.BaseMesh) -> None:
    hid.preload(len(mesh.vertices))
    start = time.perf_counter()
    _offsets(mesh, _look("senior man, 77, dark skin, wide nose"))
    assert time.perf_counter() - start < 0.5


def test_bad_vertex_count(mesh: human_data.BaseMesh) -> None:
    from dyad.errors import InvalidInput

    with pytest.raises(InvalidInput):
        hid.identity_offsets(default_appearance(), len(mesh.vertices) + 1)


def test_missing_target_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    hid._sparse_target.cache_clear()
    monkeypatch.setattr(hid, "TARGETS_DIR", human_data.Path("data/mpfb2/no-such-targets"))
    try:
        with pytest.raises(FailedPrecondition, match=r"no-such-targets/nose/nose-width"):
            hid._sparse_target("nose/nose-width9-incr", 19158)
    finally:
        hid._sparse_target.cache_clear()
