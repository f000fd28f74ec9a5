"""The inside of the human head's mouth reads as a mouth: a dark cavity with the tongue low in
shadow and the incisors white (``heads.human.mouth``), not a bright pink tongue and a white blob
filling the opening."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.heads.human.mouth import (
    CAVITY,
    apply_mouth_occlusion,
    mouth_depth,
)
from dyad.services.renderer.heads.model import Material

from .test_human_avatar import WHO, clip, frame, green


def test_occlusion_darkens_with_depth_and_leaves_the_rest() -> None:
    m = Material
    labels = np.array([m.SKIN, m.LIPS, m.TONGUE, m.TONGUE, m.TEETH, m.TEETH, m.MOUTH], np.int8)
    depth = np.array([0.0, 0.0, 0.02, 0.06, 0.012, 0.06, 0.09])
    albedo = np.tile(np.array([[0.6, 0.3, 0.3]], np.float32), (len(labels), 1))
    out = apply_mouth_occlusion(albedo, labels, depth)
    np.testing.assert_array_equal(out[:2], albedo[:2])  # skin and lips untouched
    assert out[2, 0] > out[3, 0] > CAVITY[0] - 1e-6  # the tongue's back darker than its tip
    np.testing.assert_allclose(out[6], CAVITY, atol=0.002)  # the throat: the cavity colour
    np.testing.assert_allclose(out[4], albedo[4], rtol=1e-6)  # the incisors keep their colour
    assert 0.55 * albedo[5, 0] - 1e-6 <= out[5, 0] < out[4, 0]  # molars greyer, not black


def test_depth_is_measured_behind_the_lips() -> None:
    av = create_avatar(WHO, head="human")
    head = av.head
    labels = np.asarray(head.face_labels)
    d = mouth_depth(head.neutral(), head.faces, labels)
    assert d[labels == Material.LIPS].min() == pytest.approx(0.0, abs=1e-9)
    tongue = np.median(d[labels == Material.TONGUE])
    assert 0.02 < tongue < 0.06  # the tongue lies 2–6 cm behind the front of the lips


def _luma(img: np.ndarray) -> np.ndarray:
    return (img.astype(np.float64) / 255.0) @ np.array([0.299, 0.587, 0.114])


def test_open_mouth_is_dark_inside_with_white_teeth() -> None:
    av = create_avatar(WHO, head="human")
    inside = (Material.TONGUE, Material.MOUTH, Material.TEETH)
    labels = np.asarray(av.head.face_labels)[av.binding.numpy()]
    painted = av.albedo.clone()
    painted[torch.from_numpy(np.isin(labels, inside))] = torch.tensor([0.0, 1.0, 0.0])
    opening = green(frame(replace(av, albedo=painted), clip(jawOpen=1.0)))  # [H, W] bool
    assert opening.sum() > 200
    luma = _luma(frame(av, clip(jawOpen=1.0)))[opening]
    # measured: median 0.14, 95th percentile 0.55 (without the occlusion: 0.33 and 0.58)
    assert np.median(luma) < 0.22, np.median(luma)
    assert np.percentile(luma, 95) > 0.45  # the teeth still show white
