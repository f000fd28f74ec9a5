"""Training: a few steps reduce the loss; resume is exact; the CLI is registered."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dyad.cli import build_parser
from dyad.services.refiner.denoiser import DenoiserConfig, RefinerDenoiser, load_pretrained
from dyad.services.refiner.turns import frame_conditions, identity_ids, silent_gaps, turn_spans
from dyad.services.training.refiner import train as train_mod
from dyad.services.training.refiner.data import RefinerClip, degrade, make_batch
from dyad.services.training.refiner.train import diffusion_loss, fit_statistics, train_on_clips
from dyad.testing.data import make_timeline, smooth_motion

TINY = DenoiserConfig(d_model=32, num_layers=1, num_heads=2, ff_dim=64)


def synthetic_clips(n: int = 3) -> list[RefinerClip]:
    tl = make_timeline()
    spans = turn_spans(tl, 200)
    out = []
    for i in range(n):
        teacher = {"a": smooth_motion(200, 10 * i), "b": smooth_motion(200, 10 * i + 1)}
        rng = np.random.default_rng(i)
        model_out = {
            s: (m + rng.normal(0, 0.05, m.shape)).astype(np.float32) for s, m in teacher.items()
        }
        feats = {s: rng.standard_normal((200, 160)).astype(np.float32) for s in "ab"}
        out.append(
            RefinerClip(
                f"c{i}",
                teacher,
                model_out,
                feats,
                frame_conditions(tl, 200),
                {s: identity_ids(tl, s) for s in "ab"},
                {s: silent_gaps(spans, s) for s in "ab"},
                tl,
            )
        )
    return out


def test_batches_and_degradations() -> None:
    clips = synthetic_clips(2)
    std = np.full(55, 0.2)
    jobs, targets = make_batch(
        clips, np.random.default_rng(0), batch_size=12, window=64, motion_std=std
    )
    assert len(jobs) == 12 and targets.shape == (12, 64, 55)
    for j, tgt in zip(jobs, targets, strict=True):
        assert j.hint.shape == (64, 55) and j.frames.shape == (64, 20)
        assert np.array_equal(tgt[j.hint_mask], j.hint[j.hint_mask]) or j.hint_mask.all()
    again, _ = make_batch(clips, np.random.default_rng(0), batch_size=12, window=64, motion_std=std)
    assert all(np.array_equal(x.hint, y.hint) for x, y in zip(jobs, again, strict=True))
    m = clips[0].teacher["a"]
    d = degrade(m, clips[0].gaps["a"], std, np.random.default_rng(1))
    assert d.shape == m.shape and not np.allclose(d, m)


def test_a_few_steps_reduce_the_loss(tmp_path: Path) -> None:
    clips = synthetic_clips()
    std = fit_statistics(clips)["motion_std"].numpy()
    jobs, targets = make_batch(
        clips, np.random.default_rng(99), batch_size=16, window=64, motion_std=std
    )
    t = torch.linspace(1, 1000, 16).round().long()

    def held_out(model: torch.nn.Module) -> float:
        with torch.no_grad():
            return float(
                diffusion_loss(model, jobs, targets, torch.Generator().manual_seed(0), t=t)
            )

    torch.manual_seed(0)
    fresh = RefinerDenoiser(TINY)
    fresh.set_statistics(fit_statistics(clips))
    before = held_out(fresh.eval())
    report = train_on_clips(
        clips,
        tmp_path / "m",
        config=TINY,
        steps=80,
        batch_size=8,
        window=64,
        lr=3e-3,
        warmup=5,
        ckpt_every=40,
        ema=0.0,
        progress=False,
        seed=0,
    )
    after = held_out(load_pretrained(tmp_path / "m"))
    assert after < 0.8 * before, (before, after)
    assert report.steps == 80 and [h["step"] for h in report.history] == [40, 80]
    log = [json.loads(x) for x in (tmp_path / "m" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [40, 80]


def test_resume_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clips = synthetic_clips(2)
    tiny = dataclasses.replace(TINY, dropout=0.1)  # dropout's RNG must resume exactly too
    kw = {
        "config": tiny,
        "steps": 6,
        "batch_size": 4,
        "window": 48,
        "ckpt_every": 3,
        "progress": False,
        "seed": 5,
    }
    straight = train_on_clips(clips, tmp_path / "straight", **kw)
    calls = {"n": 0}
    real = train_mod.make_batch

    def interrupted(*a: object, **k: object) -> object:
        calls["n"] += 1
        if calls["n"] == 4:  # step 4 (no held-out batch here: one call per step)
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "make_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_on_clips(clips, tmp_path / "resumed", **kw)
    monkeypatch.setattr(train_mod, "make_batch", real)
    resumed = train_on_clips(clips, tmp_path / "resumed", **kw)
    assert resumed.resumed_from == 3 and straight.steps == resumed.steps == 6
    a, b = load_pretrained(tmp_path / "straight"), load_pretrained(tmp_path / "resumed")
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(v, w), k
    with pytest.raises(Exception, match="other settings"):
        train_on_clips(clips, tmp_path / "resumed", **{**kw, "seed": 6})


def test_cli_is_registered_under_train() -> None:
    args = build_parser().parse_args(
        ["train", "refiner", "--data", "d", "--out", "o", "--steps", "7"]
    )
    assert args.steps == 7 and args.batch_size == 32
    assert args.func.__module__ == "dyad.services.training.cli"


def test_the_command_parsers_import_nothing_heavy() -> None:
    """``dyad`` builds every parser at start-up: the refiner's and training's must not pull in
    torch."""
    import subprocess
    import sys

    code = (
        "import sys, dyad.services.refiner.cli, dyad.services.training.cli; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
