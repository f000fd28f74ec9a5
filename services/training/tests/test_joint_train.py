"""RSATalker stage 3 (``dyad train joint``) on a tiny case: a 2-pair synthetic corpus, a tiny
stage-1 motion model, the human-head avatar rendered at 48 px, 20 steps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dyad.cli import main
from dyad.services.corpus import synth as corpus
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel, load_pretrained
from dyad.services.renderer.avatars.avatar import create_avatar, load_avatar
from dyad.services.training.joint.render import AvatarRenderer
from dyad.services.training.joint.standardise import stage1_norm
from dyad.services.training.joint.train import (
    JointReport,
    _losses,
    speech_encoder_names,
    train_joint,
)
from dyad.services.training.motion.data import load_clips, make_batch, sample_index
from dyad.services.training.motion.objective import Standardizer, loss_groups
from dyad.services.training.motion.train import train

RIG = "arkit55"
WINDOW = 25
TINY = {"lstm_hidden": 16, "encoder_layers": 1}
PROJECTION = "joint_encoder.audio_projection."


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(root, 2, target_s=4, workers=1, progress=False, splits=(1.0, 0.0, 0.0))
    return root


@pytest.fixture(scope="module")
def stage1(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stage1")
    train(
        data,
        out,
        rig=RIG,
        social=True,
        feature_dim=32,
        config=TINY,
        epochs=1,
        batch_size=8,
        window=WINDOW,
        hop=WINDOW,
        eval_splits=(),
        progress=False,
        threads=1,
    )
    return out


@pytest.fixture(scope="module")
def joint(data: Path, stage1: Path, tmp_path_factory: pytest.TempPathFactory) -> JointReport:
    out = tmp_path_factory.mktemp("joint") / "model"
    return train_joint(
        data,
        out,
        motion_model=stage1,
        steps=20,
        batch_size=64,  # every window of the tiny corpus (28): an overfit, the tiny case
        window=WINDOW,
        hop=WINDOW,
        frames_per_step=1,
        image_size=48,
        lr=1e-3,
        progress=False,
        threads=1,
    )


def test_joint_training_lowers_both_losses(joint: JointReport) -> None:
    before, after = joint.before, joint.after  # a fixed probe batch, eval mode
    # measured: mesh 0.0147 → 0.0092, image 0.078 → 0.052 (the image error is the head turn's)
    assert after["mesh"] < 0.8 * before["mesh"], (before, after)
    assert after["image"] < 0.8 * before["image"], (before, after)
    assert after["joint"] < before["joint"]
    # the regularisers are live terms, and small: Gaussians and offsets stay near their triangle
    assert set(joint.after) == {"joint", "mesh", "image", "pos", "offset"}
    assert 0.0 <= after["pos"] < 0.05 and 0.0 <= after["offset"] < 0.05


def test_speech_encoder_frozen_the_rest_trained(joint: JointReport, stage1: Path) -> None:
    a = load_file(stage1 / "model.safetensors")
    b = load_file(Path(joint.out_dir) / "model.safetensors")
    assert a.keys() == b.keys()
    frozen = [k for k in a if k.startswith(PROJECTION)]
    assert frozen and joint.frozen == sum(a[k].numel() for k in frozen)
    # a stage-1 checkpoint takes raw inputs, so the frozen weights come back bit for bit
    assert all(torch.equal(a[k], b[k]) for k in frozen)
    for prefix in ("social_module.", "synthesis_module.", "joint_encoder.blendshape_encoder."):
        keys = [k for k in a if k.startswith(prefix)]
        assert keys and any(not torch.equal(a[k], b[k]) for k in keys), prefix


def test_checkpoint_loads_generates_and_keeps_its_avatar(joint: JointReport, data: Path) -> None:
    out = Path(joint.out_dir)
    assert not list(out.parent.glob(".*.tmp"))  # the temporary directory was renamed
    assert (out / "train_report.json").is_file()
    assert len((out / "train_log.jsonl").read_text().splitlines()) == joint.steps
    model = load_pretrained(out)
    assert model.config.social and model.config.rig == RIG
    clip = load_clips(data, "train", RIG)[0]
    a, b = generate_pair(
        model, clip.feats_a, clip.feats_b, clip.motion_a, clip.motion_b, clip.relation
    )
    assert a.shape == clip.motion_a.shape and np.isfinite(a).all() and np.isfinite(b).all()
    avatar = load_avatar(out / "avatar")
    assert avatar.head_config["kind"] == "human" and avatar.offsetnet is not None
    with torch.no_grad():
        c = avatar.offsetnet(True, False, torch.tensor([0.0, 0.4]))  # trained: no longer zero
    assert c.shape == (2, avatar.num_gaussians, 3) and float(c.abs().max()) > 0


def test_stage1_model_unfolds_exactly(data: Path, stage1: Path) -> None:
    """Unfolded (standardised units) and folded back, a stage-1 model computes what it did."""
    clips = load_clips(data, "train", RIG)
    model, ref = load_pretrained(stage1), load_pretrained(stage1)
    norm = stage1_norm(model, clips)
    batch = make_batch(clips, sample_index(clips, WINDOW, WINDOW)[:4], WINDOW)
    args = (batch["audio_self"], batch["audio_partner"], batch["motion_partner"])
    with torch.no_grad():
        want = ref(*args, batch["relation"])
        got, _, _ = norm.forward(model, batch)
        back = norm.folded(model)(*args, batch["relation"])
    assert float(want.abs().max()) > 0.05
    assert torch.allclose(got, want, atol=1e-5) and torch.allclose(back, want, atol=1e-5)
    w = model.synthesis_module.blendshape_predictor.weight
    assert not torch.allclose(w, ref.synthesis_module.blendshape_predictor.weight)  # unfolded


def test_image_loss_reaches_the_motion_model_and_the_offsetnet(data: Path) -> None:
    """L_image alone (no L_mesh) has a gradient on the social module, the decoder, the
    Gaussians and the offsetnet: the rendered frames are the prediction's, not a copy."""
    torch.manual_seed(0)
    clips = load_clips(data, "train", RIG)
    model = DualTalkModel(MotionModelConfig(rig=RIG, social=True, feature_dim=32, **TINY))
    avatar = create_avatar("", head="human")
    renderer, target = AvatarRenderer(avatar, 32), AvatarRenderer(avatar, 32)
    with torch.no_grad():  # a non-zero offsetnet output layer: gradients reach its first layer
        renderer.offsetnet.fc2.weight.normal_(0.0, 1e-5)
    items = sample_index(clips, WINDOW, WINDOW)[:2]
    parts = _losses(
        model,
        Standardizer.fit(clips),
        renderer,
        target,
        clips,
        items,
        [(0, 3), (1, 7)],
        WINDOW,
        loss_groups(RIG),
    )
    assert float(parts["image"].detach()) > 0 and float(parts["mesh"].detach()) > 0
    named = {
        "social": model.social_module.motion_socialnet[0].weight,
        "decoder head": model.synthesis_module.blendshape_predictor.weight,
        "gaussians": renderer.xyz,
        "colour": renderer.colour_delta,
        "offsetnet": renderer.offsetnet.fc1.weight,
    }
    grads = torch.autograd.grad(parts["image"], list(named.values()), allow_unused=True)
    for (name, _), g in zip(named.items(), grads, strict=True):
        assert g is not None and float(g.abs().max()) > 0, name
    assert speech_encoder_names(model) == [
        "joint_encoder.audio_projection.weight",
        "joint_encoder.audio_projection.bias",
    ]


def test_bad_input_is_one_line_exit_2(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flame, bust = tmp_path / "flame", tmp_path / "bust"
    flame.mkdir()
    (flame / "config.json").write_text(json.dumps({"rig": "flame56", "social": True}))
    bust.mkdir()
    (bust / "config.json").write_text(json.dumps({"head": {"kind": "procedural"}}))
    cases = [
        (["--data", str(tmp_path / "none")], "train/"),
        (["--data", str(data), "--rig", "flame56"], "human head"),
        (["--data", str(data), "--motion-model", str(tmp_path)], "config.json"),
        (["--data", str(data), "--motion-model", str(flame)], "flame56"),
        (["--data", str(data), "--avatar", str(bust)], "'procedural'"),
        (["--data", str(data), "--avatar", str(bust), "--identity", "x"], "identity"),
        (["--data", str(data), "--size", "8"], "image_size"),
    ]
    for extra, words in cases:
        code = main(["train", "joint", *extra, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.count("\n") == 0 and words in err, (extra, err)
    assert not (tmp_path / "o").exists()
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("")  # an output directory in use is refused
    assert main(["train", "joint", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    assert "not an empty" in capsys.readouterr().err
