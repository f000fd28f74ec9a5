"""Training of the refiner's denoiser (DDPM, x0-prediction) on a synthetic corpus.

``dyad train refiner --data CORPUS --out MODEL_DIR`` (``train``):

- **Data** (``data.py``): the corpus' ``train`` pairs, the motion model's output cached beside
  each (``data.ensure_inputs``, computed on first use), windows of ``window`` frames drawn by
  ``data.make_batch`` — inputs are motion-model outputs or degraded teacher motion, targets the
  teacher's motion; refine and infill tasks; partner dropped (CFG) and audio dropped.
- **Objective**: ``t ~ U{1..T}``, ``x_t = q(x_t | x_0)`` (cosine schedule), the denoiser predicts
  ``x_0``; loss = MSE(x̂_0, x_0) + ``velocity_weight`` · MSE of the first differences, in
  standardised motion units (train mean / std per channel, floor 0.01, stored in the model).
- **Optimiser**: AdamW (weight decay 0.01), linear warm-up over ``warmup`` steps then cosine
  decay to 10 % of ``lr``, gradient norm clipped at 1. The saved weights are an exponential
  moving average of the trained ones (decay ``min(ema, (1 + step)/(10 + step))``).
- **Determinism and resume**: every step draws its batch, timesteps, noise and dropout from
  generators seeded by ``(seed, step)``, so a run resumed from ``out/checkpoint.pt`` (model,
  EMA, optimiser, scheduler, step; written every ``ckpt_every`` steps and at the end) ends with the
  same weights as an uninterrupted one (same machine and thread count).
- **Logs**: ``out/train_log.jsonl`` (mean loss per ``ckpt_every`` steps, and the x̂_0 MSE of a
  fixed held-out batch from ``test``), a progress bar, ``save_pretrained`` at the end.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.refiner.denoiser import DenoiserConfig, RefinerDenoiser, save_pretrained
from dyad.services.refiner.sampler import WindowJob, make_cond
from dyad.services.refiner.schedule import NoiseSchedule
from dyad.services.training.cli import add_refiner_command
from dyad.services.training.features import ensure_features
from dyad.services.training.refiner.data import RefinerClip, ensure_inputs, load_clips, make_batch
from dyad.services.training.runs import append_log, save_checkpoint

CHECKPOINT = "checkpoint.pt"
LOG = "train_log.jsonl"
FORMAT = "dyad.refiner-train/1"
STD_FLOOR = {"motion": 1e-2, "audio": 1e-3}


def fit_statistics(clips: list[RefinerClip]) -> dict[str, torch.Tensor]:
    """Per-channel mean / std of the teacher motion and the features (both speakers)."""
    out = {}
    for key, attr in (("motion", "teacher"), ("audio", "feats")):
        x = np.concatenate([getattr(c, attr)[s] for c in clips for s in ("a", "b")])
        x = x.astype(np.float64)
        out[f"{key}_mean"] = torch.from_numpy(x.mean(0)).float()
        out[f"{key}_std"] = torch.from_numpy(np.maximum(x.std(0), STD_FLOOR[key])).float()
    return out


def diffusion_loss(
    model: RefinerDenoiser,
    jobs: list[WindowJob],
    targets: np.ndarray,
    gen: torch.Generator,
    *,
    velocity_weight: float = 1.0,
    t: torch.Tensor | None = None,
) -> torch.Tensor:
    """The training loss of one batch (module doc); ``t`` ``[B]`` fixes the timesteps."""
    sched = NoiseSchedule(model.config.num_train_steps)
    n = targets.shape[1]
    cond = make_cond(model, jobs, n)
    x0 = model.norm_motion(torch.from_numpy(targets).to(cond.hint.device))
    if t is None:
        t = torch.randint(1, model.config.num_train_steps + 1, (len(jobs),), generator=gen)
    noise = torch.randn(x0.shape, generator=gen).to(x0.device)
    t = t.to(x0.device)
    pred = model(sched.q_sample(x0, t, noise), t, cond)
    loss = torch.mean((pred - x0) ** 2)
    if velocity_weight:
        vel = torch.mean(((pred[:, 1:] - pred[:, :-1]) - (x0[:, 1:] - x0[:, :-1])) ** 2)
        loss = loss + velocity_weight * vel
    return loss


def update_ema(averaged: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """``averaged ← decay · averaged + (1 − decay) · model`` (parameters; buffers copied)."""
    with torch.no_grad():
        for a, p in zip(averaged.parameters(), model.parameters(), strict=True):
            a.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for buf, src in zip(averaged.buffers(), model.buffers(), strict=True):
            buf.copy_(src)


def _lr_factor(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _step_seed(seed: int, step: int, salt: int = 0) -> int:
    return (seed * 1_000_003 + step * 7919 + salt) % 2**63


@dataclass
class TrainReport:
    out_dir: str
    steps: int  # done in total (including resumed ones)
    resumed_from: int
    parameters: int
    loss: float  # mean training loss of the last logged interval
    val_loss: float  # held-out x̂_0 loss at the end
    wall_s: float  # this call
    train_s: float  # all runs, from the checkpoint
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_on_clips(
    clips: list[RefinerClip],
    out_dir: str | Path,
    *,
    val_clips: list[RefinerClip] | None = None,
    config: DenoiserConfig | None = None,
    steps: int = 1500,
    batch_size: int = 32,
    window: int = 160,
    lr: float = 1e-3,
    warmup: int = 100,
    velocity_weight: float = 1.0,
    ema: float = 0.99,
    seed: int = 0,
    ckpt_every: int = 100,
    resume: bool = True,
    progress: bool = True,
    threads: int | None = None,
    run_args: dict[str, Any] | None = None,
) -> TrainReport:
    """Train (or resume) on in-memory clips into ``out_dir`` (module doc)."""
    t0 = time.perf_counter()
    for name, v in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("window", window),
        ("ckpt_every", ckpt_every),
        ("warmup", warmup),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidInput(name, f"expected a positive integer, got {v!r}")
    if not clips:
        raise InvalidInput("data", "no training clips")
    cfg = config or DenoiserConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    args = {
        "seed": seed,
        "batch_size": batch_size,
        "window": window,
        "lr": lr,
        "warmup": warmup,
        "steps": steps,
        "velocity_weight": velocity_weight,
        "ema": ema,
        **(run_args or {}),
    }
    threads_before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        model = RefinerDenoiser(cfg)
        model.set_statistics(fit_statistics(clips))
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, warmup, steps))
        averaged = copy.deepcopy(model).eval()
        start, train_s, history = 0, 0.0, []
        ckpt = out / CHECKPOINT
        if resume and ckpt.is_file():
            ck = torch.load(ckpt, map_location="cpu", weights_only=False)
            if ck.get("format") != FORMAT or ck["config"] != cfg.to_dict() or ck["args"] != args:
                raise FailedPrecondition(
                    f"{ckpt} was trained with other settings: pass "
                    "resume=False (--no-resume) or another --out"
                )
            model.load_state_dict(ck["model"])
            averaged.load_state_dict(ck["ema"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            start, train_s, history = ck["step"], ck["train_s"], ck["history"]
        if start == 0:
            (out / LOG).unlink(missing_ok=True)
        std = model.motion_std.numpy().astype(np.float64)
        val = None
        if val_clips:
            vrng = np.random.default_rng([seed, 10**9])
            vjobs, vtargets = make_batch(
                val_clips, vrng, batch_size=64, window=window, motion_std=std
            )
            vt = torch.linspace(1, cfg.num_train_steps, 64).round().long()
            val = (vjobs, vtargets, vt)

        def val_loss() -> float:
            if val is None:
                return float("nan")
            with torch.no_grad():
                v = diffusion_loss(
                    averaged,
                    val[0],
                    val[1],
                    torch.Generator().manual_seed(seed),
                    velocity_weight=velocity_weight,
                    t=val[2],
                )
            return float(v)

        params = sum(p.numel() for p in model.parameters())
        bar = tqdm(
            total=steps - start,
            desc="train refiner",
            unit="step",
            disable=not progress,
            file=sys.stderr,
        )
        model.train()
        losses: list[float] = []
        ts = time.perf_counter()
        with bar:
            for step in range(start, steps):
                rng = np.random.default_rng([seed, step])
                jobs, targets = make_batch(
                    clips, rng, batch_size=batch_size, window=window, motion_std=std
                )
                gen = torch.Generator().manual_seed(_step_seed(seed, step))
                torch.manual_seed(_step_seed(seed, step, 1))  # dropout
                loss = diffusion_loss(model, jobs, targets, gen, velocity_weight=velocity_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                update_ema(averaged, model, min(ema, (1 + step) / (10 + step)))
                losses.append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
                if (step + 1) % ckpt_every == 0 or step + 1 == steps:
                    train_s += time.perf_counter() - ts
                    row = {
                        "step": step + 1,
                        "loss": float(np.mean(losses)),
                        "lr": opt.param_groups[0]["lr"],
                        "val_loss": val_loss(),
                        "train_s": round(train_s, 1),
                    }
                    history.append(row)
                    append_log(out / LOG, row)
                    losses = []
                    save_checkpoint(
                        ckpt,
                        {
                            "format": FORMAT,
                            "config": cfg.to_dict(),
                            "args": args,
                            "step": step + 1,
                            "train_s": train_s,
                            "history": history,
                            "model": model.state_dict(),
                            "ema": averaged.state_dict(),
                            "optimizer": opt.state_dict(),
                            "scheduler": sched.state_dict(),
                        },
                    )
                    ts = time.perf_counter()
        save_pretrained(averaged, out)
        final_val = (
            val_loss() if start < steps else (history[-1]["val_loss"] if history else float("nan"))
        )
    finally:
        torch.set_num_threads(threads_before)
    last = history[-1] if history else {"loss": float("nan")}
    report = TrainReport(
        str(out),
        steps,
        start,
        params,
        float(last["loss"]),
        float(final_val),
        time.perf_counter() - t0,
        train_s,
        history,
    )
    (out / "train_report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return report


def train(
    data_dir: str | Path, out_dir: str | Path, *, progress: bool = True, **kw: Any
) -> TrainReport:
    """Train on ``data_dir/train`` (held-out loss on ``data_dir/test``); ``kw`` as
    ``train_on_clips``'s."""
    root = Path(data_dir)
    if not (root / "train").is_dir():
        raise InvalidInput("--data", f"{root} has no train/ folder (a `dyad dataset synth` corpus)")
    ensure_features(root, ("train", "test"), progress=progress)
    for split in ("train", "test"):
        ensure_inputs(root, split, progress=progress)
    clips, val = load_clips(root, "train"), load_clips(root, "test")
    return train_on_clips(
        clips, out_dir, val_clips=val, progress=progress, run_args={"data_dir": str(root)}, **kw
    )


# -- CLI (the parser is ``cli.add_refiner_command``, which imports nothing heavy) -------------
def _cli(args: argparse.Namespace) -> int:
    if args.rig != "arkit55":
        raise InvalidInput("--rig", "the training data path reads arkit55 corpora only")
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise InvalidInput("--threads", "between 1 and 256")
    cfg = DenoiserConfig(
        rig=args.rig, d_model=args.d_model, num_layers=args.layers, ff_dim=args.ff_dim
    )
    report = train(
        args.data,
        args.out,
        config=cfg,
        steps=args.steps,
        batch_size=args.batch_size,
        window=args.window,
        lr=args.lr,
        warmup=args.warmup,
        seed=args.seed,
        ckpt_every=args.ckpt_every,
        resume=not args.no_resume,
        threads=args.threads,
    )
    print(json.dumps({k: v for k, v in report.to_dict().items() if k != "history"}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dyad.services.training.refiner.train refiner …`` = ``dyad train refiner``."""
    parser = argparse.ArgumentParser(prog="python -m dyad.services.training.refiner.train")
    add_refiner_command(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.func(args)) if hasattr(args, "func") else 2


if __name__ == "__main__":
    raise SystemExit(main())
