"""Training of the neural dual-speaker motion model (DualTalk) on a DualTalk-layout corpus.

``train(data_dir, out_dir, rig=…)`` follows the released recipe (reference/models.md §1.2)
without its windowing defect:

- **Data** (``data.py``). Each ``train`` pair is loaded once (``dyad.dataset.reader``) with
  its cached mel features (``features.py``), cut into windows that each give two samples (A
  given B, B given A). ``social`` adds the relation [blood, equal].
- **Loss and standardisation** (``objective.py``). The MSE of each channel group plus the MSE
  of the first differences, on raw motion; the network sees standardised inputs (ours), the
  statistics folded into its weights for evaluation and ``save_pretrained`` (exact).
- **Optimiser.** Adam, ``StepLR(lr_step, lr_gamma)`` per epoch.
- **Determinism.** ``seed`` sets the weights; epoch ``e`` shuffles with a generator seeded
  from (seed, e); dropout uses the global torch RNG, saved in ``out_dir/checkpoint.pt`` with
  model, optimiser, scheduler and epoch after every epoch. A resumed run ends with the same
  weights as an uninterrupted one (same machine and thread count).
- **Evaluation** (``evaluate.py``) every ``eval_every`` epochs and at the end on
  ``test``/``ood``: whole clips through ``generate_pair`` given the partner's ground truth
  (DualTalk's protocol), both speakers, ``metrics.evaluate_clips``. Logged to
  ``out_dir/train_log.jsonl`` with the per-epoch losses; ``save_pretrained`` (config.json +
  model.safetensors) at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel, save_pretrained
from dyad.services.training.cli import register
from dyad.services.training.features import ensure_features
from dyad.services.training.motion.data import Clip, load_clips, make_batch, sample_index
from dyad.services.training.motion.evaluate import evaluate
from dyad.services.training.motion.objective import Standardizer, dualtalk_loss, loss_groups
from dyad.services.training.runs import append_log, reproducible_cpu, save_checkpoint

CHECKPOINT = "checkpoint.pt"
LOG = "train_log.jsonl"
FORMAT = "dyad.motion-train/1"
EVAL_SPLITS = ("test", "ood")


# -- the run -------------------------------------------------------------------------------------
@dataclass
class TrainReport:
    """What a run did; ``history`` holds the per-epoch losses (all runs of the checkpoint)."""

    out_dir: str
    epochs: int  # epochs completed in total (including resumed ones)
    resumed_from: int  # epoch of the checkpoint this run started from (0: fresh)
    steps: int
    samples: int  # training samples per epoch
    parameters: int
    loss: float  # mean loss of the last epoch
    loss_parts: dict[str, float]
    metrics: dict[str, dict[str, dict[str, float]]]  # split → group → metric (last evaluation)
    wall_s: float  # this call
    train_s: float  # all runs, from the checkpoint
    stopped_early: bool  # max_minutes reached before ``epochs``
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seeded(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)


def train(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    rig: str = "arkit55",
    variant: str = "paper",
    social: bool = True,
    feature_dim: int = 256,
    config: dict[str, Any] | None = None,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-4,
    lr_step: int = 50,
    lr_gamma: float = 0.8,
    window: int = 200,
    hop: int = 100,
    seed: int = 0,
    eval_every: int = 10,
    eval_splits: tuple[str, ...] = EVAL_SPLITS,
    resume: bool = True,
    progress: bool = True,
    max_minutes: float | None = None,
    threads: int | None = None,
    kl_weight: float = 1e-3,
    free_bits: float = 0.05,
    stat_weight: float = 1.0,
    pace_weight: float = 0.0,
) -> TrainReport:
    """Train (or resume) a DualTalk model on ``data_dir`` into ``out_dir`` (module doc).
    ``config`` overrides further ``MotionModelConfig`` fields (e.g. ``encoder_layers``);
    ``max_minutes`` stops before an epoch that would end later (the run can be resumed);
    ``threads`` sets torch's CPU threads for the run (1 is the robust choice on a busy
    machine: the BiLSTM's many small kernels slow down badly when threads are oversubscribed);
    ``kl_weight``, ``free_bits``, ``stat_weight`` and ``pace_weight`` weigh the latent's terms
    (``dualtalk_loss``; models with ``latent_dim`` only)."""
    t0 = time.perf_counter()
    for name, v in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("window", window),
        ("hop", hop),
        ("eval_every", eval_every),
        ("lr_step", lr_step),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidInput(name, f"expected a positive integer, got {v!r}")
    for name, x in (
        ("kl_weight", kl_weight),
        ("free_bits", free_bits),
        ("stat_weight", stat_weight),
        ("pace_weight", pace_weight),
    ):
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x < math.inf:
            raise InvalidInput(name, f"expected a finite number ≥ 0, got {x!r}")
    rig = get_rig(rig).name
    cfg = MotionModelConfig(
        **{
            "rig": rig,
            "variant": variant,
            "social": social,
            "feature_dim": feature_dim,
            **(config or {}),
        }
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ensure_features(data_dir, ("train", *eval_splits), progress=progress)
    clips = load_clips(data_dir, "train", rig)
    index = sample_index(clips, window, hop)
    if cfg.social and any(c.relation is None for c in clips):
        raise InvalidInput(
            "social",
            f"{data_dir} lacks relations (metadata.jsonl) for some "
            "train pairs: train with social=False",
        )
    if not index:
        raise InvalidInput("data_dir", f"no train pair in {data_dir} has {window} frames")
    evals = {s: load_clips(data_dir, s, rig) for s in eval_splits}
    groups = loss_groups(rig)
    norm = Standardizer.fit(clips)
    run_args = {
        "data_dir": str(data_dir),
        "rig": rig,
        "seed": seed,
        "window": window,
        "hop": hop,
        "batch_size": batch_size,
        "lr": lr,
        "lr_step": lr_step,
        "lr_gamma": lr_gamma,
        "kl_weight": kl_weight,
        "free_bits": free_bits,
        "stat_weight": stat_weight,
        "pace_weight": pace_weight,
    }

    with reproducible_cpu(threads):
        torch.manual_seed(seed)
        model = DualTalkModel(cfg)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=lr_step, gamma=lr_gamma)
        start, steps, train_s = 0, 0, 0.0
        history: list[dict[str, Any]] = []
        ckpt_path = out / CHECKPOINT
        if resume and ckpt_path.is_file():
            ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
            if ck.get("format") != FORMAT or ck["config"] != cfg.to_dict():
                raise FailedPrecondition(
                    f"{ckpt_path} was trained with another model config: pass resume=False "
                    "(--no-resume) or another output directory"
                )
            # Settings an older checkpoint predates (the latent's weights) are not compared.
            before = ck["args"]
            changed = {
                k: (before[k], v)
                for k, v in run_args.items()
                if k != "data_dir" and k in before and before[k] != v
            }
            if changed:
                raise FailedPrecondition(f"{ckpt_path}: training settings differ {changed}")
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            torch.set_rng_state(ck["torch_rng"])
            norm = Standardizer(ck["standardizer"])
            start, steps, train_s, history = ck["epoch"], ck["steps"], ck["train_s"], ck["history"]
        if start == 0:
            (out / LOG).unlink(missing_ok=True)  # a fresh run starts a fresh log
        params = sum(p.numel() for p in model.parameters())
        batches = math.ceil(len(index) / batch_size)
        bar = tqdm(
            total=(epochs - start) * batches,
            desc="train motion",
            unit="batch",
            disable=not progress,
            file=sys.stderr,
        )
        metrics: dict[str, dict[str, dict[str, float]]] = {}
        last_eval, stopped, epoch_s = -1, False, 0.0
        model.train()
        with bar:
            for epoch in range(start, epochs):
                limit = None if max_minutes is None else max_minutes * 60
                if limit is not None and time.perf_counter() - t0 + epoch_s > limit:
                    stopped = True
                    break
                te = time.perf_counter()
                order = torch.randperm(len(index), generator=_seeded(seed, epoch)).tolist()
                sums: dict[str, float] = {}
                total = 0.0
                for b in range(batches):
                    items = [index[i] for i in order[b * batch_size : (b + 1) * batch_size]]
                    batch = make_batch(clips, items, window)
                    pred, kl, from_prior = norm.forward(model, batch, prior_sample=stat_weight > 0)
                    loss, parts = dualtalk_loss(
                        pred,
                        batch["target"],
                        groups,
                        kl,
                        kl_weight,
                        free_bits,
                        from_prior,
                        stat_weight,
                        pace_weight,
                    )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    steps += 1
                    total += float(loss.detach()) * len(items)
                    for key, part in parts.items():
                        sums[key] = sums.get(key, 0.0) + part * len(items)
                    bar.update(1)
                    bar.set_postfix(epoch=epoch + 1, loss=f"{float(loss.detach()):.4f}")
                lr_now = opt.param_groups[0]["lr"]
                sched.step()
                epoch_s = time.perf_counter() - te
                train_s += epoch_s
                row = {
                    "epoch": epoch + 1,
                    "steps": steps,
                    "lr": lr_now,
                    "loss": total / len(index),
                    "seconds": round(epoch_s, 3),
                    **{f"loss_{k}": v / len(index) for k, v in sums.items()},
                }
                history.append(row)
                append_log(out / LOG, {"kind": "epoch", **row})
                if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                    metrics = _evaluate_all(norm.folded(model), evals, rig, out, epoch + 1)
                    last_eval = epoch + 1
                save_checkpoint(
                    ckpt_path,
                    {
                        "format": FORMAT,
                        "config": cfg.to_dict(),
                        "args": run_args,
                        "epoch": epoch + 1,
                        "steps": steps,
                        "train_s": train_s,
                        "history": history,
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": sched.state_dict(),
                        "torch_rng": torch.get_rng_state(),
                        "standardizer": norm.stats,
                    },
                )
        done = history[-1]["epoch"] if history else start
        if last_eval != done:
            metrics = _evaluate_all(norm.folded(model), evals, rig, out, done)
        save_pretrained(norm.folded(model), out)
    last = history[-1] if history else {"loss": float("nan")}
    report = TrainReport(
        str(out),
        done,
        start,
        steps,
        len(index),
        params,
        float(last["loss"]),
        {k[5:]: float(v) for k, v in last.items() if k.startswith("loss_")},
        metrics,
        time.perf_counter() - t0,
        train_s,
        stopped,
        history,
    )
    (out / "train_report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return report


def _evaluate_all(
    model: DualTalkModel, evals: dict[str, list[Clip]], rig: str, out: Path, epoch: int
) -> dict[str, dict[str, dict[str, float]]]:
    social = bool(model.config.social)
    res = {s: evaluate(model, c, rig, social=social) for s, c in evals.items() if c}
    for split, m in res.items():
        append_log(out / LOG, {"kind": "eval", "epoch": epoch, "split": split, "metrics": m})
    return res


# -- CLI (the parser is in ``cli.py``, which imports nothing heavy) ----------------------
def _cli(args: argparse.Namespace) -> int:
    if args.minutes is not None and args.minutes <= 0:
        raise InvalidInput("--minutes", "must be positive")
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise InvalidInput("--threads", "between 1 and 256")
    report = train(
        args.data,
        args.out,
        rig=args.rig,
        variant=args.variant,
        social=args.social,
        feature_dim=args.feature_dim,
        epochs=args.epochs,
        batch_size=args.batch_size,
        config={
            "encoder_layers": args.encoder_layers,
            "lstm_hidden": args.lstm_hidden,
            "latent_dim": args.latent_dim,
            "latent_group": args.latent_group,
            "latent_stride": args.latent_stride,
        },
        kl_weight=args.kl_weight,
        free_bits=args.free_bits,
        stat_weight=args.stat_weight,
        pace_weight=args.pace_weight,
        lr=args.lr,
        lr_step=args.lr_step,
        lr_gamma=args.lr_gamma,
        seed=args.seed,
        eval_every=args.eval_every,
        resume=not args.no_resume,
        max_minutes=args.minutes,
        threads=args.threads,
    )
    summary = {k: v for k, v in report.to_dict().items() if k != "history"}
    print(json.dumps(summary, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dyad.services.training.motion.train train motion …`` = ``dyad train motion``."""
    parser = argparse.ArgumentParser(prog="python -m dyad.services.training.motion.train")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.func(args)) if hasattr(args, "func") else 2


if __name__ == "__main__":
    raise SystemExit(main())
