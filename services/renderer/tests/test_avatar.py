"""Gaussian avatars: creation, binding to the posed head, storage (safetensors, PLY), looks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput, NotFound
from dyad.media.image import read_png, write_png
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar, load_avatar
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.image_metrics import psnr
from dyad.services.renderer.raster import render
from dyad.services.renderer.settings import RendererSettings
from dyad.services.renderer.video import HeadTrack, head_camera, head_frames

torch.set_num_threads(1)
RIG = get_rig("arkit55")
SNAPSHOTS = Path(__file__).resolve().parents[3] / "bench" / "results" / "snapshots"


@pytest.fixture(scope="module")
def avatar():
    return create_avatar("woman, 30s, dark skin, curly black hair, brown eyes")


def _clip(**weights: float) -> np.ndarray:
    m = np.zeros((1, len(RIG.channels)), np.float32)
    for name, w in weights.items():
        m[0, RIG.channels.index(name)] = w
    return m


def test_one_gaussian_per_triangle_sitting_on_the_surface(avatar) -> None:
    head = avatar.head
    assert avatar.num_gaussians == len(head.faces)
    scene = next(avatar.scenes(_clip()))
    centroids = head.neutral()[head.faces].mean(axis=1)
    np.testing.assert_allclose(scene.means, centroids, atol=1e-5)  # local xyz = 0 at creation
    # Flat: the local y axis is the triangle normal, and the thinnest by far.
    s = scene.scales
    assert np.mean(s[:, 1] < s[:, [0, 2]].min(axis=1)) > 0.9
    assert np.median(s[:, 1] / s[:, [0, 2]].max(axis=1)) < 0.2
    w, x, y, z = scene.quats.T / np.linalg.norm(scene.quats, axis=1)
    axis_y = np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], 1)
    v = head.neutral()[head.faces]
    normal = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    assert np.median(np.abs((axis_y * normal).sum(1))) > 0.999


def test_gaussians_follow_the_blendshapes(avatar) -> None:
    rest = next(avatar.scenes(_clip())).means
    open_jaw = next(avatar.scenes(_clip(jawOpen=1.0))).means
    moved = np.linalg.norm(open_jaw - rest, axis=1)
    lips = np.flatnonzero(avatar.head.face_labels == Material.LIPS)
    lower_lip = lips[rest[lips, 1] < np.median(rest[lips, 1])]
    assert moved.max() > 0.01
    assert np.median(moved[lower_lip]) > 0.005
    crown = np.argmax(rest[:, 1])
    assert moved[crown] < 1e-6


def test_save_load_round_trip(avatar, tmp_path: Path) -> None:
    avatar.save(tmp_path / "av")
    back = load_avatar(tmp_path / "av")
    assert back.num_gaussians == avatar.num_gaussians and back.rig == "arkit55"
    a = next(avatar.scenes(_clip(mouthSmileLeft=0.7)))
    b = next(back.scenes(_clip(mouthSmileLeft=0.7)))
    for field in ("means", "quats", "scales", "opacities", "colors"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    config = json.loads((tmp_path / "av" / "config.json").read_text())
    assert config["head"]["kind"] == "procedural" and config["num_gaussians"] == a.n


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_avatar(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text('{"format": "other"}')
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"")
    with pytest.raises(InvalidInput):
        load_avatar(tmp_path / "bad")


def test_ply_has_3dgs_fields_and_binding(avatar, tmp_path: Path) -> None:
    path = avatar.to_ply(tmp_path / "a.ply")
    data = path.read_bytes()
    header, _, body = data.partition(b"end_header\n")
    lines = header.decode().splitlines()
    props = [ln.split()[-1] for ln in lines if ln.startswith("property")]
    assert props[:3] == ["x", "y", "z"] and props[-1] == "binding"
    assert {"f_dc_0", "opacity", "scale_0", "rot_0"} <= set(props)
    assert f"element vertex {avatar.num_gaussians}" in lines
    assert len(body) == avatar.num_gaussians * (4 * (len(props) - 1) + 4)
    binding = np.frombuffer(
        body, dtype=np.dtype([(p, "<f4") for p in props[:-1]] + [("binding", "<i4")])
    )["binding"]
    np.testing.assert_array_equal(binding, np.arange(avatar.num_gaussians))


def test_identities_look_different() -> None:
    core = RendererCore(None, RendererSettings(head_px=96))
    pale = core.preview(create_avatar("pale skin, blonde hair, blue eyes"))
    dark = core.preview(create_avatar("dark skin, black hair, brown eyes"))
    assert pale.shape == (96, 96, 3)
    face = (slice(35, 70), slice(30, 66))
    assert pale[face].mean() > dark[face].mean() + 25


def test_snapshots_for_people_to_look_at(avatar, tmp_path: Path) -> None:
    """Neutral, jawOpen, eyeBlinkLeft and mouthSmile at 256 px, written beside the bench
    results; each expression changes the region it names."""
    core = RendererCore(None, RendererSettings(head_px=256))
    cam = head_camera("front", 256)
    poses = {
        "neutral": _clip(),
        "jawOpen": _clip(jawOpen=1.0),
        "eyeBlinkLeft": _clip(eyeBlinkLeft=1.0),
        "mouthSmile": _clip(mouthSmileLeft=1.0, mouthSmileRight=1.0),
    }
    frames = {
        k: next(head_frames(HeadTrack(avatar, m, cam), background=core.background, backend="cpu"))
        for k, m in poses.items()
    }
    SNAPSHOTS.mkdir(parents=True, exist_ok=True)
    for k, img in frames.items():
        write_png(SNAPSHOTS / f"avatar_{k}.png", img)
        assert np.array_equal(read_png((SNAPSHOTS / f"avatar_{k}.png").read_bytes()), img)
    diff = {
        k: np.abs(v.astype(int) - frames["neutral"].astype(int)).sum(-1) for k, v in frames.items()
    }
    rows, cols = np.nonzero(diff["jawOpen"] > 40)
    assert rows.size > 50 and rows.mean() > 140  # the lower face changed
    rows, cols = np.nonzero(diff["eyeBlinkLeft"] > 40)
    # The subject's left eye is on the right of a front view.
    assert rows.size > 10 and cols.mean() > 128 and 70 < rows.mean() < 140
    rows, cols = np.nonzero(diff["mouthSmile"] > 15)
    assert rows.size > 60 and rows.mean() > 140  # around the mouth…
    assert cols.min() < 110 and cols.max() > 146  # …at both corners


def test_backface_culling_matches_the_full_render(avatar) -> None:
    poses = np.concatenate(
        [
            _clip(),
            _clip(jawOpen=1.0, headYaw=0.5),
            _clip(headPitch=-0.4, headRoll=0.3, mouthSmileLeft=1.0),
        ]
    )
    for speaker in ("a", "b", "front"):
        cam = head_camera(speaker, 128)
        full = list(avatar.scenes(poses))
        culled = list(avatar.scenes(poses, cull_from=cam.position))
        for f, c in zip(full, culled, strict=True):
            assert c.n < 0.75 * f.n  # a good part of the head faces away
            a = render(f, cam, backend="cpu").rgb
            b = render(c, cam, backend="cpu").rgb
            # Not bit-equal: the thin front surface lets a trace of the back through.
            assert psnr(a, b) > 37.0, speaker


def test_offsetnet_corrections_move_the_bound_gaussians(tmp_path: Path) -> None:
    """RSATalker eq. 7–8 through the avatar: ``μ = k·R·μ_local + T + c(q, t)``; an untrained
    offsetnet (zero output layer) leaves the avatar as bound; offsets survive save/load."""
    plain = create_avatar("bald", offsetnet=False)
    social = create_avatar("bald", offsetnet=True)
    clip = np.repeat(_clip(jawOpen=0.3), 3, axis=0)
    base = [s.means for s in plain.scenes(clip)]
    assert social.offsetnet is not None
    for a, b in zip(base, (s.means for s in social.scenes(clip)), strict=True):
        np.testing.assert_array_equal(a, b)
    with torch.no_grad():
        social.offsetnet.fc2.bias.copy_(torch.arange(3 * social.num_gaussians) % 3 * 1e-3)
    moved = [s.means for s in social.scenes(clip, relation=(True, False))]
    for a, b in zip(base, moved, strict=True):
        np.testing.assert_allclose(b - a, np.tile([0.0, 1e-3, 2e-3], (len(a), 1)), atol=1e-6)
    social.save(tmp_path / "social")
    again = load_avatar(tmp_path / "social")
    np.testing.assert_array_equal(next(again.scenes(clip)).means, next(social.scenes(clip)).means)
