"""Training of the neural motion model: feature cache, windows, loss, checkpoint/resume and the
reference baselines, on a tiny real corpus (espeak + procedural teacher)."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dyad.errors import FailedPrecondition
from dyad.services.corpus import synth as corpus
from dyad.services.motion.neural.backend import BUNDLED
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel, load_pretrained
from dyad.services.training.cli import register
from dyad.services.training.features import ensure_features, feature_path
from dyad.services.training.metrics import GROUPS
from dyad.services.training.motion.baselines import compare, table
from dyad.services.training.motion.baselines import pace as pace_ratios
from dyad.services.training.motion.data import load_clips, make_batch, sample_index
from dyad.services.training.motion.evaluate import predict_clip
from dyad.services.training.motion.objective import (
    STD_FLOOR,
    Standardizer,
    dualtalk_loss,
    loss_groups,
    window_stats_loss,
)
from dyad.services.training.motion.train import TrainReport, train

RIG = "arkit55"
WINDOW, HOP = 50, 25
TINY = {"lstm_hidden": 16, "encoder_layers": 1}
PACE_RANGE = (0.5, 3.0)  # the bundled model: face 2.5×, pose 2.3× the teacher's on test


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    corpus.build_corpus(root, 4, target_s=5, workers=1, progress=False)
    return root


def test_features_cached_and_reused(data: Path) -> None:
    counts = ensure_features(data)
    assert counts["train"] + counts.get("test", 0) + counts.get("ood", 0) == 4
    files = sorted(data.glob("*/*.mel.npy"))
    assert len(files) == 8
    before = {f: f.stat().st_mtime_ns for f in files}
    ensure_features(data)
    assert {f: f.stat().st_mtime_ns for f in files} == before  # reused, not rewritten
    for clip in load_clips(data, "train", RIG):
        assert clip.feats_a.shape == (clip.frames, 160) and clip.feats_a.dtype == np.float32
        assert np.isfinite(clip.feats_a).all() and not np.array_equal(clip.feats_a, clip.feats_b)
    # a cache older than its wav is encoded again
    wav = next(data.glob("train/*_speaker1.wav"))
    cache = feature_path(wav)
    old = wav.stat().st_mtime_ns - 10**9
    os.utime(cache, ns=(old, old))
    ensure_features(data, ["train"])
    assert cache.stat().st_mtime_ns >= wav.stat().st_mtime_ns
    assert not list(data.glob("*/.*.tmp"))


def test_windows_are_sliced_from_their_own_frames(data: Path) -> None:
    clips = load_clips(data, "train", RIG)
    index = sample_index(clips, WINDOW, HOP)
    assert {side for _, _, side in index} == {0, 1}
    for k, c in enumerate(clips):
        starts = sorted({s for kk, s, _ in index if kk == k})
        assert starts[0] == 0 and starts[-1] == c.frames - WINDOW  # last window ends at T
    batch = make_batch(clips, index, WINDOW)
    assert batch["target"].shape == (len(index), WINDOW, 55)
    for i, (k, s, side) in enumerate(index):
        c, sl = clips[k], slice(s, s + WINDOW)
        own, other = (c.motion_a, c.motion_b) if side == 0 else (c.motion_b, c.motion_a)
        own_f, other_f = (c.feats_a, c.feats_b) if side == 0 else (c.feats_b, c.feats_a)
        assert np.array_equal(batch["target"][i].numpy(), own[sl])
        assert np.array_equal(batch["motion_partner"][i].numpy(), other[sl])
        assert np.array_equal(batch["audio_self"][i].numpy(), own_f[sl])
        assert np.array_equal(batch["audio_partner"][i].numpy(), other_f[sl])
        assert batch["relation"][i].tolist() == [float(v) for v in c.relation]


def test_loss_groups_and_decrease(data: Path) -> None:
    groups = loss_groups(RIG)
    assert list(groups) == ["mouth", "face", "pose"]
    assert sorted(i for g in groups.values() for i in g) == list(range(55))
    clips = load_clips(data, "train", RIG)
    batch = make_batch(clips, sample_index(clips, WINDOW, HOP)[:16], WINDOW)
    torch.manual_seed(0)
    model = DualTalkModel(MotionModelConfig(rig=RIG, social=True, feature_dim=32, **TINY))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(12):
        pred = model(
            batch["audio_self"], batch["audio_partner"], batch["motion_partner"], batch["relation"]
        )
        loss, parts = dualtalk_loss(pred, batch["target"], groups)
        assert set(parts) == {"mouth", "face", "pose", "velocity"}
        assert math.isclose(float(loss.detach()), sum(parts.values()), rel_tol=1e-5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("latent_dim", [0, 4])
def test_standardizer_folds_exactly(data: Path, latent_dim: int) -> None:
    clips = load_clips(data, "train", RIG)
    norm = Standardizer.fit(clips)
    assert float(norm.stats["motion_std"].min()) == pytest.approx(STD_FLOOR["motion"])
    torch.manual_seed(1)
    cfg = MotionModelConfig(
        rig=RIG,
        social=True,
        feature_dim=32,
        latent_dim=latent_dim,
        latent_group="face" if latent_dim else "",
        **TINY,
    )
    model = DualTalkModel(cfg).eval()
    batch = make_batch(clips, sample_index(clips, WINDOW, HOP)[:6], WINDOW)
    raw = (batch["audio_self"], batch["audio_partner"], batch["motion_partner"], batch["relation"])
    folded = norm.folded(model)
    with torch.no_grad():
        torch.manual_seed(2)
        want, kl, _ = norm.forward(model, batch)
        z = None
        if latent_dim:  # the same posterior draw, from the folded posterior on raw motion
            torch.manual_seed(2)
            z, kl_folded = folded.variation.sample_posterior(
                batch["target"][..., cfg.latent_channels]
            )
            assert kl is not None and float(kl.sum()) > 0
            assert torch.allclose(kl_folded, kl, rtol=1e-4)
        else:
            assert kl is None
        got = folded(*raw, z)
        plain = model(*raw, z)
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(plain, want, atol=1e-3)  # the statistics do matter
    assert folded.state_dict().keys() == model.state_dict().keys()


def _run(data: Path, out: Path, epochs: int, resume: bool = True) -> TrainReport:
    return train(
        data,
        out,
        rig=RIG,
        social=True,
        feature_dim=32,
        config=TINY,
        epochs=epochs,
        batch_size=8,
        window=WINDOW,
        hop=HOP,
        seed=7,
        eval_every=100,
        resume=resume,
        progress=False,
        eval_splits=("test",),
    )


def test_resume_equals_uninterrupted(data: Path, tmp_path: Path) -> None:
    full = _run(data, tmp_path / "full", 3)
    first = _run(data, tmp_path / "resumed", 2)
    assert first.epochs == 2 and (tmp_path / "resumed" / "checkpoint.pt").is_file()
    second = _run(data, tmp_path / "resumed", 3)
    assert second.resumed_from == 2 and second.epochs == 3
    assert second.steps == full.steps and len(second.history) == 3
    a = load_file(tmp_path / "full" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full.history[-1]["loss"] < full.history[0]["loss"]
    assert set(full.metrics["test"]) == {"mouth", "face", "pose"}
    log = (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()
    assert sum('"kind": "epoch"' in line for line in log) == 3
    # other training settings are refused on resume; a fresh run ignores the checkpoint
    with pytest.raises(FailedPrecondition, match="settings differ"):
        train(
            data,
            tmp_path / "resumed",
            rig=RIG,
            social=True,
            feature_dim=32,
            config=TINY,
            epochs=4,
            batch_size=4,
            window=WINDOW,
            hop=HOP,
            seed=7,
            progress=False,
        )
    again = _run(data, tmp_path / "resumed", 1, resume=False)
    assert again.resumed_from == 0 and again.epochs == 1


def test_variation_latent_trains_and_round_trips(data: Path, tmp_path: Path) -> None:
    cfg = {**TINY, "latent_dim": 4, "latent_group": "face"}
    kw = dict(
        rig=RIG,
        social=True,
        feature_dim=32,
        config=cfg,
        batch_size=8,
        window=WINDOW,
        hop=HOP,
        seed=7,
        eval_every=100,
        progress=False,
        eval_splits=("test",),
    )
    report = train(data, tmp_path / "m", epochs=2, stat_weight=2.0, **kw)
    for row in report.history:
        assert row["loss_kl"] > 0 and row["loss_stats"] > 0
        parts = sum(
            v
            for k, v in row.items()
            if k.startswith("loss_") and k not in ("loss_kl", "loss_stats")
        )
        assert row["loss"] > parts  # the latent's terms are in the total
    model = load_pretrained(tmp_path / "m")
    assert model.variation is not None and model.config.latent_dim == 4
    clip = load_clips(data, "test", RIG)[0]
    args = (clip.feats_a, clip.feats_b, clip.motion_a, clip.motion_b, clip.relation)
    a0, _ = generate_pair(model, *args, seed=0)
    a1, _ = generate_pair(model, *args, seed=1)
    assert np.array_equal(a0, generate_pair(model, *args, seed=0)[0]) and not np.array_equal(a0, a1)
    with pytest.raises(FailedPrecondition, match="stat_weight"):  # resume with another weight
        train(data, tmp_path / "m", epochs=3, stat_weight=1.0, **kw)


def test_window_stats_loss_by_hand() -> None:
    # One group of one channel: pred [0, 2] (μ 1, σ 1) vs target [1, 1] (μ 1, σ 0) → 1, and
    # its pace (|Δ| 2 vs 0) is off by more than e³ → w·3²; pred [3, 3] (μ 3, σ 0)
    # vs [1, 1] → 4, pace equal. Mean over the two samples.
    w = 0.01
    pace = w * 9
    pred = torch.tensor([[[0.0], [2.0]], [[3.0], [3.0]]])
    target = torch.ones(2, 2, 1)
    got = window_stats_loss(pred, target, {"g": [0]}, w)
    assert float(got) == pytest.approx((1 + pace + 4) / 2, abs=1e-3)
    assert float(window_stats_loss(pred, target, {"g": [0]})) == pytest.approx(2.5, abs=1e-3)
    two = window_stats_loss(
        torch.cat([pred, pred], -1), torch.cat([target, target], -1), {"g": [0], "h": [1]}, w
    )
    assert float(two) == pytest.approx(1 + pace + 4, abs=2e-3)  # summed over groups
    assert float(window_stats_loss(target, target, {"g": [0]})) == pytest.approx(0.0, abs=1e-6)
    # Velocity: [0, 2, 0, 2] vs a constant: σ 1 → 1, plus the steps [2, −2, 2] (σ² = 32/9).
    jitter = torch.tensor([0.0, 2.0, 0.0, 2.0])[None, :, None]
    got = window_stats_loss(jitter, torch.ones(1, 4, 1), {"g": [0]}, w)
    assert float(got) == pytest.approx(1.0 + 32 / 9 + pace, abs=1e-3)
    # Twice the target's speed: μ 3 vs 1.5 → 2.25, σ 2.236 vs 1.118 → 1.25, equal velocity
    # spread (0), and pace log²(2) = 0.480 at weight 1.
    slow = torch.tensor([0.0, 1.0, 2.0, 3.0])[None, :, None]
    got = window_stats_loss(2 * slow, slow, {"g": [0]}, 1.0)
    assert float(got) == pytest.approx(2.25 + 1.25 + math.log(2) ** 2, abs=1e-3)


def test_baselines_finite(data: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = DualTalkModel(MotionModelConfig(rig=RIG, social=True, feature_dim=32, **TINY))
    res = compare(data, model, rig=RIG, splits=("test",), max_frames=500)
    rows = res["test"]
    assert set(rows) == {"model", "speaker_only", "teacher", "random", "nearest_audio", "mean"}
    for scores in rows.values():
        assert all(math.isfinite(v) for g in scores.values() for v in g.values())
    # the teacher re-run is far closer to its own ground truth than random frames are
    assert rows["teacher"]["mouth"]["fd"] < rows["random"]["mouth"]["fd"]
    # pace: the teacher moves at its own pace, random frames jump, a held mean never moves
    assert 0.5 < rows["teacher"]["pose"]["pace"] < 2.0
    assert rows["random"]["face"]["pace"] > 3 * rows["teacher"]["face"]["pace"]
    assert rows["mean"]["face"]["pace"] == 0.0
    text = table(rows)
    assert text.count("\n") == 1 + len(rows) and "P-FD mouth" in text


def test_cli_parser() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "train",
            "motion",
            "--data",
            "c",
            "--rig",
            RIG,
            "--social",
            "--epochs",
            "2",
            "--minutes",
            "1.5",
            "--out",
            "m",
        ]
    )
    assert args.social and args.epochs == 2 and args.minutes == 1.5 and args.variant == "paper"
    assert args.out == Path("m") and callable(args.func)


def test_bundled_model_moves_at_the_teachers_pace(data: Path) -> None:
    """The bundled checkpoint on fresh clips: FD cannot see frame-to-frame jitter, pace can
    (a staircase latent once gave the face 4.5× the teacher's pace at a good FD)."""
    model = load_pretrained(BUNDLED)
    clips = [c for split in ("train", "test", "ood") for c in load_clips(data, split, RIG)]
    preds = [predict_clip(model, c, social=True) for c in clips]
    ratios = pace_ratios(preds, clips, RIG)
    assert all(PACE_RANGE[0] < ratios[g] < PACE_RANGE[1] for g in ratios), ratios
    face = [i for g in GROUPS[RIG] if g.name == "face" for i in g.index]
    spread = np.concatenate([p for ab in preds for p in ab])[:, face].std(0).mean()
    truth = np.concatenate([m for c in clips for m in (c.motion_a, c.motion_b)])[:, face]
    assert spread > 0.5 * truth.std(0).mean()  # blinks and glances, not a frozen average
