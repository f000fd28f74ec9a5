"""The human bust as a Gaussian avatar: created by name (``head="human"``, the renderer's
``DYAD_RENDER_HEAD``, ``CreateAvatar``'s ``head_model``), saved and loaded, rendered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.services.renderer.avatars.avatar import create_avatar, load_avatar
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.settings import RendererSettings

WHO = Identity("Amara Okafor", "adult", "feminine", appearance=("dark skin", "brown eyes"))


def test_human_avatar_binds_one_gaussian_per_triangle_and_round_trips(tmp_path: Path) -> None:
    av = create_avatar(WHO, head="human")
    assert av.head_config["kind"] == "human" and av.rig == "arkit55"
    assert av.num_gaussians == len(av.head.faces) > 10_000
    av.save(tmp_path / "av")
    back = load_avatar(tmp_path / "av")
    assert back.head_config["kind"] == "human" and back.num_gaussians == av.num_gaussians
    assert np.array_equal(back.head.faces, av.head.faces)
    with pytest.raises(InvalidInput, match="procedural, human or flame"):
        create_avatar(WHO, head="clay")


def test_the_human_head_is_the_default_and_the_preview_shows_a_bust() -> None:
    core = RendererCore(None, replace(RendererSettings(), head="human"))
    av = core.avatar(WHO)
    assert av.head_config["kind"] == "human"
    img = core.preview(av, 128)  # [128, 128, 3] uint8
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    background = np.array([0xE9, 0xED, 0xF2])
    covered = np.abs(img.astype(int) - background).sum(-1) > 30
    assert 0.25 < covered.mean() < 0.9  # a bust fills the frame, not a speck, not all of it
    assert covered[-1].mean() > 0.5  # the shoulders reach the bottom edge: a bust
    assert RendererCore(None, RendererSettings()).avatar(WHO).head_config["kind"] == "human"
    fallback = RendererCore(None, replace(RendererSettings(), head="procedural")).avatar(WHO)
    assert fallback.head_config["kind"] == "procedural"
