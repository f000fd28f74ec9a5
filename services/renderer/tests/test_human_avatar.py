"""The human bust as a Gaussian avatar: created by name (``head="human"``, the renderer's
``DYAD_RENDER_HEAD``, ``CreateAvatar``'s ``head_model``), saved and loaded, rendered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.media.image import write_png
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar, load_avatar
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.settings import RendererSettings
from dyad.services.renderer.video import HeadTrack, head_camera, head_frames

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


SNAPSHOTS = Path(__file__).resolve().parents[3] / "bench" / "results" / "snapshots"
PX = 256


def clip(**weights: float) -> np.ndarray:
    rig = get_rig("arkit55")
    m = np.zeros((1, len(rig.channels)), np.float32)
    for name, value in weights.items():
        m[0, rig.channels.index(name)] = value
    return m


def frame(av: Any, motion: np.ndarray) -> np.ndarray:
    """One front-view frame ``[PX, PX, 3]`` uint8 as the video path draws it."""
    track = HeadTrack(av, motion, head_camera("front", PX))
    return next(head_frames(track, background=(0.91, 0.93, 0.95), backend="cpu"))


def marked(av: Any, *materials: Material) -> Any:
    """``av`` with ``materials`` painted pure green, so a test can count where they show."""
    labels = np.asarray(av.head.face_labels)[av.binding.numpy()]
    albedo = av.albedo.clone()
    albedo[torch.from_numpy(np.isin(labels, materials))] = torch.tensor(
        [0.0, 1.0, 0.0], dtype=albedo.dtype
    )
    return replace(av, albedo=albedo)


def green(img: np.ndarray) -> np.ndarray:
    """[H, W] bool: the marker colour."""
    i = img.astype(int)
    return (i[..., 1] > i[..., 0] + 60) & (i[..., 1] > i[..., 2] + 60)


def test_teeth_hidden_when_the_mouth_is_closed_and_shown_when_open() -> None:
    av = marked(create_avatar(WHO, head="human"), Material.TEETH, Material.TONGUE)
    assert green(frame(av, clip())).sum() <= 2
    assert green(frame(av, clip(jawOpen=1.0))).sum() > 40


def test_blink_closes_the_eye_fully() -> None:
    eyes = (Material.SCLERA, Material.IRIS, Material.PUPIL)
    av = marked(create_avatar(WHO, head="human"), *eyes)
    open_ = green(frame(av, clip()))
    left, right = open_[:, PX // 2 :], open_[:, : PX // 2]  # the subject's left: image right
    assert left.sum() > 40 and right.sum() > 40
    half = green(frame(av, clip(eyeBlinkLeft=0.3)))
    assert 0 < half[:, PX // 2 :].sum() < left.sum()  # the lid on its way down
    shut = green(frame(av, clip(eyeBlinkLeft=1.0)))
    assert shut[:, PX // 2 :].sum() <= 2  # not a sliver of eye left
    assert shut[:, : PX // 2].sum() > 0.8 * right.sum()  # the other eye stays open


def test_snapshots_for_people_to_look_at() -> None:
    """The new people, written beside the bench results for a person to look at: expressions,
    three identities, three head yaws."""
    people = {
        "amara": WHO,
        "walter": Identity(
            "Walter Berg",
            "senior",
            "masculine",
            appearance=("fair skin", "short grey hair", "a full beard", "bifocals"),
        ),
        "mei": Identity(
            "Mei Lin",
            "adult",
            "feminine",
            appearance=("light skin", "black hair in a bun", "round glasses", "a neat blazer"),
        ),
    }
    avatars = {k: create_avatar(v, head="human") for k, v in people.items()}
    shots = {
        "neutral": frame(avatars["amara"], clip()),
        "jawOpen": frame(avatars["amara"], clip(jawOpen=1.0)),
        "smile": frame(avatars["amara"], clip(mouthSmileLeft=1.0, mouthSmileRight=1.0)),
        "blink": frame(avatars["amara"], clip(eyeBlinkLeft=1.0, eyeBlinkRight=1.0)),
        **{f"identity_{k}": frame(av, clip()) for k, av in avatars.items()},
        **{
            f"yaw_{d:+d}": frame(avatars["walter"], clip(headYaw=np.deg2rad(d)))
            for d in (-25, 0, 25)
        },
    }
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for name, img in shots.items():
        write_png(SNAPSHOTS / f"human_{name}.png", img)
    identities = [shots[f"identity_{k}"].astype(float) for k in people]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(identities[i] - identities[j]).mean() > 8  # three different people

    # headYaw > 0 turns the face to the subject's left: the image's right in a front view.
    def face_x(img: np.ndarray) -> float:
        skin = np.abs(img.astype(int) - np.array([233, 237, 242])).sum(-1) > 30
        cols = np.nonzero(skin[: PX // 2])[1]
        return float(cols.mean())

    assert face_x(shots["yaw_+25"]) > face_x(shots["yaw_+0"]) > face_x(shots["yaw_-25"])
