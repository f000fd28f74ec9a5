"""Training of the neural dual-speaker motion model (DualTalk) on a DualTalk-layout corpus.

``train(data_dir, out_dir, rig=…)`` follows the released recipe (reference/models.md §1.2)
without its windowing defect:

- **Data.** Each ``train`` pair is loaded once (``dataset.load_pair``) with its cached mel
  features (``features.py``). Windows of ``window`` frames start every ``hop`` frames
  (``dataset.window_starts``, tail ``shift``), each sliced from its own pair; pairs shorter
  than a window are skipped. A window gives two samples: A given (A's audio, B's audio, B's
  motion) and B given (B's, A's, A's motion). ``social`` adds the relation [blood, equal].
- **Loss.** The MSE of each channel group (``metrics.GROUPS``: flame56 exp / jaw / pose,
  arkit55 mouth / face / pose) plus the MSE of the first differences (velocity), weights 1.
- **Standardisation** (ours): the network sees features and partner motion standardised
  with fixed train statistics and predicts standardised motion; the loss is on raw motion.
  The statistics are folded into its first and last linear layers for evaluation and
  ``save_pretrained``, so the saved model takes raw features and motion (exact).
- **Optimiser.** Adam, ``StepLR(lr_step, lr_gamma)`` per epoch.
- **Determinism.** ``seed`` sets the weights; epoch ``e`` shuffles with a generator seeded
  from (seed, e); dropout uses the global torch RNG, saved in ``out_dir/checkpoint.pt`` with
  model, optimiser, scheduler and epoch after every epoch. A resumed run ends with the same
  weights as an uninterrupted one (same machine and thread count).
- **Evaluation** every ``eval_every`` epochs and at the end on ``test``/``ood``: whole clips
  through ``model.generate_pair`` given the partner's ground truth (DualTalk's protocol), both
  speakers, ``metrics.evaluate_clips``. Logged to ``out_dir/train_log.jsonl`` with the
  per-epoch losses; ``save_pretrained`` (config.json + model.safetensors) at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from dyad.dataset.reader import load_pair, scan, window_starts
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.services.motion.neural.model import (
    DualTalkModel,
    MotionModelConfig,
    generate_pair,
    save_pretrained,
)
from dyad.services.training.features import ensure_features, load_features
from dyad.services.training.metrics import GROUPS, evaluate_clips

CHECKPOINT = "checkpoint.pt"
LOG = "train_log.jsonl"
FORMAT = "dyad.motion-train/1"
EVAL_SPLITS = ("test", "ood")


# -- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clip:
    """One pair in memory: features ``[T, D]`` and motion ``[T, C]`` of both speakers."""

    name: str
    feats_a: np.ndarray
    feats_b: np.ndarray
    motion_a: np.ndarray
    motion_b: np.ndarray
    relation: tuple[bool, bool] | None

    @property
    def frames(self) -> int:
        return int(self.motion_a.shape[0])


def load_clips(root: str | Path, split: str, rig: str) -> list[Clip]:
    """Every pair of ``root/split`` (features cached on first use); [] without the folder."""
    if not (Path(root) / split).is_dir():
        return []
    out = []
    for pair in scan(root, split):
        data = load_pair(pair, rig)
        fa, fb = load_features(pair, data.frames)
        rel = (pair.relation.blood, pair.relation.equal) if pair.relation else None
        out.append(Clip(pair.clip, fa, fb, data.motion_a, data.motion_b, rel))
    return out


def sample_index(clips: list[Clip], window: int, hop: int) -> list[tuple[int, int, int]]:
    """(clip, start, side) of every training sample; side 0 predicts A, 1 predicts B."""
    return [
        (k, start, side)
        for k, c in enumerate(clips)
        if c.frames >= window
        for start, _ in window_starts(c.frames, window, hop, "shift")
        for side in (0, 1)
    ]


def make_batch(clips: list[Clip], items: list[tuple[int, int, int]], window: int) -> dict[str, Any]:
    """Stacked tensors of the samples ``items`` (each slice copied from its own pair)."""
    own, partner, partner_motion, target, rels = [], [], [], [], []
    for k, start, side in items:
        c, sl = clips[k], slice(start, start + window)
        fa, fb, ma, mb = c.feats_a[sl], c.feats_b[sl], c.motion_a[sl], c.motion_b[sl]
        own.append(fa if side == 0 else fb)
        partner.append(fb if side == 0 else fa)
        partner_motion.append(mb if side == 0 else ma)
        target.append(ma if side == 0 else mb)
        rels.append(c.relation)

    def stack(xs: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(xs).astype(np.float32))

    return {
        "audio_self": stack(own), "audio_partner": stack(partner),
        "motion_partner": stack(partner_motion), "target": stack(target),
        "relation": None if None in rels else torch.tensor(rels, dtype=torch.float32),
    }  # fmt: skip


# -- standardisation ---------------------------------------------------------------------------
STD_FLOOR = {"feats": 1e-3, "motion": 1e-2}  # constant channels: no blow-up of the folded weights


class Standardizer:
    """Per-channel train mean/std of the features and of the motion (both speakers)."""

    def __init__(self, stats: dict[str, torch.Tensor]) -> None:
        self.stats = {k: v.to(torch.float32) for k, v in stats.items()}

    @classmethod
    def fit(cls, clips: list[Clip]) -> Standardizer:
        out = {}
        for key, pair in (("feats", ("feats_a", "feats_b")), ("motion", ("motion_a", "motion_b"))):
            x = np.concatenate([getattr(c, a) for c in clips for a in pair]).astype(np.float64)
            out[f"{key}_mean"] = torch.from_numpy(x.mean(0))
            out[f"{key}_std"] = torch.from_numpy(np.maximum(x.std(0), STD_FLOOR[key]))
        return cls(out)

    def forward(
        self, model: DualTalkModel, batch: dict[str, Any], *, prior_sample: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """For a raw batch: the raw motion ``model`` (trained on standardised data) predicts,
        the variation latent's KL and (``prior_sample``) a second prediction from the same
        context with a prior draw of ``z`` — both None without a latent. The first uses a
        posterior sample given the standardised target (``model_parts.MotionVariation``)."""
        s = self.stats
        f = [(batch[k] - s["feats_mean"]) / s["feats_std"] for k in ("audio_self", "audio_partner")]
        m = (batch["motion_partner"] - s["motion_mean"]) / s["motion_std"]
        z = kl = from_prior = None
        feats = model.context(f[0], f[1], m, batch["relation"])
        var = model.variation
        if var is not None:
            y = (batch["target"] - s["motion_mean"]) / s["motion_std"]
            z, kl = var.sample_posterior(y[..., model.config.latent_channels])
            if prior_sample:
                noise = torch.randn(
                    z.shape[0], var.steps(z.shape[1]), var.latent_dim, dtype=z.dtype
                )
                from_prior = model.synthesise(feats, var.upsample(noise, z.shape[1]))
                from_prior = from_prior * s["motion_std"] + s["motion_mean"]
        out = model.synthesise(feats, z) * s["motion_std"] + s["motion_mean"]
        return out, kl, from_prior

    def folded(self, model: DualTalkModel) -> DualTalkModel:
        """A copy of ``model`` that takes and returns raw data: the statistics folded into
        ``audio_projection`` (W/σ, b − W·μ/σ), the motion encoder's first layer (same) and
        ``blendshape_predictor`` (σ·W, σ·b + μ); the variation posterior's first convolution
        like the input layers (over its channels and taps)."""
        s, out = self.stats, copy.deepcopy(model)
        first = out.joint_encoder.blendshape_encoder[0]
        assert isinstance(first, nn.Linear)
        layers: list[tuple[nn.Linear | nn.Conv1d, torch.Tensor, torch.Tensor]] = [
            (out.joint_encoder.audio_projection, s["feats_mean"], s["feats_std"]),
            (first, s["motion_mean"], s["motion_std"]),
        ]
        if out.variation is not None:
            conv = out.variation.posterior[0]
            assert isinstance(conv, nn.Conv1d)
            idx = model.config.latent_channels
            layers.append((conv, s["motion_mean"][idx], s["motion_std"][idx]))
        head = out.synthesis_module.blendshape_predictor
        with torch.no_grad():
            for layer, mu, sd in layers:
                w = layer.weight.view(layer.weight.shape[0], mu.shape[0], -1)  # [out, in, taps]
                assert layer.bias is not None
                layer.bias -= (w * (mu / sd)[None, :, None]).sum((1, 2))
                w /= sd[None, :, None]
            head.weight *= s["motion_std"][:, None]
            head.bias.mul_(s["motion_std"]).add_(s["motion_mean"])
        return out


# -- loss ----------------------------------------------------------------------------------------
def loss_groups(rig: str) -> dict[str, list[int]]:
    """Channel groups of the DualTalk loss: the metric groups (``metrics.GROUPS``) of the rig
    (flame56: exp / jaw / pose, DualTalk's; arkit55: mouth / face / pose)."""
    return {g.name: list(g.index) for g in GROUPS[get_rig(rig).name]}


def dualtalk_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    groups: dict[str, list[int]],
    kl: torch.Tensor | None = None,
    kl_weight: float = 0.0,
    free_bits: float = 0.0,
    from_prior: torch.Tensor | None = None,
    stat_weight: float = 0.0,
    pace_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Sum of the per-group MSEs and the velocity MSE, plus, for a model with a variation
    latent, ``kl_weight·Σ_l max(kl_l, free_bits)`` (``kl`` ``[L]`` nats per dimension; part
    ``kl``: the plain sum) and ``stat_weight·stats`` of a prior-sampled prediction
    (``window_stats_loss``); returns (loss, parts)."""
    mse = nn.functional.mse_loss
    parts = {g: mse(pred[..., idx], target[..., idx]) for g, idx in groups.items()}
    parts["velocity"] = mse(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1])
    total = torch.stack(list(parts.values())).sum()
    if kl is not None:
        total = total + kl_weight * kl.clamp(min=free_bits).sum()
        parts["kl"] = kl.sum()
    if from_prior is not None:
        parts["stats"] = window_stats_loss(from_prior, target, groups, pace_weight)
        total = total + stat_weight * parts["stats"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def window_stats_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    groups: dict[str, list[int]],
    pace_weight: float = 0.0,
) -> torch.Tensor:
    """Σ over groups of the mean over channels and samples of ``(μ̂ − μ)² + (σ̂ − σ)²`` — the
    moments taken over each window's frames: the Fréchet distance of diagonal Gaussians,
    i.e. the per-clip statistic that DualTalk's FD scores, without the cross-channel terms —
    plus ``(σ̂_v − σ_v)²`` of the first differences (velocity), so that the spread comes
    from motion rather than frame-to-frame noise, and (``pace_weight`` > 0) ``pace_weight·
    log²`` of the ratio of the group's mean |Δ| to the target's (clamped to ±3).

    Why (ours): a latent drawn from the prior gives the decoder noise it never saw in the
    posterior-trained pass, and it answers with its average — a listener whose blinks and
    glances are a third of their real size (measured after 3 epochs: eyeBlink std 0.042 vs
    0.139). This term asks the prior-sampled motion to have each window's spread. Without the
    velocity part the spread came as jitter: face velocity 4.5× the target's; with it, 2.5×
    (stride 4). A pace weight of 0.01 slowed the face but cost FD everywhere (face 0.024 →
    0.084 at epoch 5), so the bundled model trains with 0."""

    def sd(x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(x.var(dim=1, unbiased=False) + 1e-8)

    out = []
    for idx in groups.values():
        p, y = pred[..., idx], target[..., idx]  # [B, T, c]
        vp, vy = p[:, 1:] - p[:, :-1], y[:, 1:] - y[:, :-1]
        terms = (p.mean(1) - y.mean(1)).square() + (sd(p) - sd(y)).square()
        part = (terms + (sd(vp) - sd(vy)).square()).mean()
        if pace_weight:
            ratio = (vp.abs().mean((1, 2)) + 1e-4) / (vy.abs().mean((1, 2)) + 1e-4)  # [B]
            part = part + pace_weight * torch.log(ratio).clamp(-3.0, 3.0).square().mean()
        out.append(part)
    return torch.stack(out).sum()


# -- evaluation ----------------------------------------------------------------------------------
def predict_clip(
    model: DualTalkModel, clip: Clip, *, social: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' motion of a whole clip, each given the partner's ground truth."""
    rel = clip.relation if social else None
    with torch.no_grad():
        a, b = generate_pair(model, clip.feats_a, clip.feats_b, clip.motion_a, clip.motion_b, rel)
    return np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)


def score(
    preds: list[tuple[np.ndarray, np.ndarray]], clips: list[Clip], rig: str
) -> dict[str, dict[str, float]]:
    """metrics.evaluate_clips over both speakers of every clip."""
    p = [x for a, b in preds for x in (a, b)]
    gts = [x for c in clips for x in (c.motion_a, c.motion_b)]
    partners = [x for c in clips for x in (c.motion_b, c.motion_a)]
    return evaluate_clips(p, gts, partners, rig)


def evaluate(
    model: DualTalkModel, clips: list[Clip], rig: str, *, social: bool
) -> dict[str, dict[str, float]]:
    """Scores of ``model`` (raw inputs and outputs) on ``clips``; the torch RNG is untouched."""
    rng = torch.get_rng_state()  # evaluation never shifts the training RNG
    try:
        return score([predict_clip(model, c, social=social) for c in clips], clips, rig)
    finally:
        torch.set_rng_state(rng)


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


@contextlib.contextmanager
def reproducible_cpu(threads: int | None = None) -> Iterator[None]:
    """Deterministic algorithms on, and oneDNN (mkldnn) off: its LSTM kernels are ~10× slower
    than PyTorch's own on this model's small BiLSTM on CPU (measured: a 32 × 200-frame training
    step 26 s vs 1.9 s on 2 cores); ``threads`` (if given) sets torch's thread count. All
    settings are restored on exit."""
    deterministic, mkldnn = torch.are_deterministic_algorithms_enabled(), torch.backends.mkldnn
    enabled, num_threads = bool(mkldnn.enabled), torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    setattr(mkldnn, "enabled", False)  # noqa: B010 (mkldnn.flags() also sets TF32 and warns)
    try:
        yield
    finally:
        setattr(mkldnn, "enabled", enabled)  # noqa: B010
        torch.set_num_threads(num_threads)
        torch.use_deterministic_algorithms(deterministic)


def _seeded(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _log(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")


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
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("window", window),
                    ("hop", hop), ("eval_every", eval_every), ("lr_step", lr_step)):  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidInput(name, f"expected a positive integer, got {v!r}")
    for name, x in (("kl_weight", kl_weight), ("free_bits", free_bits),
                    ("stat_weight", stat_weight), ("pace_weight", pace_weight)):  # fmt: skip
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x < math.inf:
            raise InvalidInput(name, f"expected a finite number ≥ 0, got {x!r}")
    rig = get_rig(rig).name
    cfg = MotionModelConfig(**{"rig": rig, "variant": variant, "social": social,
                               "feature_dim": feature_dim, **(config or {})})  # fmt: skip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ensure_features(data_dir, ("train", *eval_splits), progress=progress)
    clips = load_clips(data_dir, "train", rig)
    index = sample_index(clips, window, hop)
    if cfg.social and any(c.relation is None for c in clips):
        raise InvalidInput("social", f"{data_dir} lacks relations (metadata.jsonl) for some "
                           "train pairs: train with social=False")  # fmt: skip
    if not index:
        raise InvalidInput("data_dir", f"no train pair in {data_dir} has {window} frames")
    evals = {s: load_clips(data_dir, s, rig) for s in eval_splits}
    groups = loss_groups(rig)
    norm = Standardizer.fit(clips)
    run_args = {"data_dir": str(data_dir), "rig": rig, "seed": seed, "window": window,
                "hop": hop, "batch_size": batch_size, "lr": lr, "lr_step": lr_step,
                "lr_gamma": lr_gamma, "kl_weight": kl_weight, "free_bits": free_bits,
                "stat_weight": stat_weight, "pace_weight": pace_weight}  # fmt: skip

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
            changed = {k: (before[k], v) for k, v in run_args.items()
                       if k != "data_dir" and k in before and before[k] != v}  # fmt: skip
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
        bar = tqdm(total=(epochs - start) * batches, desc="train motion", unit="batch",
                   disable=not progress, file=sys.stderr)  # fmt: skip
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
                    loss, parts = dualtalk_loss(pred, batch["target"], groups, kl, kl_weight,
                                                free_bits, from_prior, stat_weight,
                                                pace_weight)  # fmt: skip
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
                row = {"epoch": epoch + 1, "steps": steps, "lr": lr_now,
                       "loss": total / len(index), "seconds": round(epoch_s, 3),
                       **{f"loss_{k}": v / len(index) for k, v in sums.items()}}  # fmt: skip
                history.append(row)
                _log(out / LOG, {"kind": "epoch", **row})
                if (epoch + 1) % eval_every == 0 or epoch + 1 == epochs:
                    metrics = _evaluate_all(norm.folded(model), evals, rig, out, epoch + 1)
                    last_eval = epoch + 1
                _save_checkpoint(ckpt_path, {
                    "format": FORMAT, "config": cfg.to_dict(), "args": run_args,
                    "epoch": epoch + 1, "steps": steps, "train_s": train_s, "history": history,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "torch_rng": torch.get_rng_state(),
                    "standardizer": norm.stats,
                })  # fmt: skip
        done = history[-1]["epoch"] if history else start
        if last_eval != done:
            metrics = _evaluate_all(norm.folded(model), evals, rig, out, done)
        save_pretrained(norm.folded(model), out)
    last = history[-1] if history else {"loss": float("nan")}
    report = TrainReport(
        str(out), done, start, steps, len(index), params, float(last["loss"]),
        {k[5:]: float(v) for k, v in last.items() if k.startswith("loss_")}, metrics,
        time.perf_counter() - t0, train_s, stopped, history,
    )  # fmt: skip
    (out / "train_report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return report


def _evaluate_all(
    model: DualTalkModel, evals: dict[str, list[Clip]], rig: str, out: Path, epoch: int
) -> dict[str, dict[str, dict[str, float]]]:
    social = bool(model.config.social)
    res = {s: evaluate(model, c, rig, social=social) for s, c in evals.items() if c}
    for split, m in res.items():
        _log(out / LOG, {"kind": "eval", "epoch": epoch, "split": split, "metrics": m})
    return res


# -- CLI (the parser is in train_cli.py, which imports nothing heavy) ----------------------
def _cli(args: argparse.Namespace) -> int:
    if args.minutes is not None and args.minutes <= 0:
        raise InvalidInput("--minutes", "must be positive")
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise InvalidInput("--threads", "between 1 and 256")
    report = train(
        args.data, args.out, rig=args.rig, variant=args.variant, social=args.social,
        feature_dim=args.feature_dim, epochs=args.epochs, batch_size=args.batch_size,
        config={"encoder_layers": args.encoder_layers, "lstm_hidden": args.lstm_hidden,
                "latent_dim": args.latent_dim, "latent_group": args.latent_group,
                "latent_stride": args.latent_stride},
        kl_weight=args.kl_weight, free_bits=args.free_bits, stat_weight=args.stat_weight,
        pace_weight=args.pace_weight,
        lr=args.lr, lr_step=args.lr_step, lr_gamma=args.lr_gamma, seed=args.seed,
        eval_every=args.eval_every, resume=not args.no_resume, max_minutes=args.minutes,
        threads=args.threads,
    )  # fmt: skip
    summary = {k: v for k, v in report.to_dict().items() if k != "history"}
    print(json.dumps(summary, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dyad.services.training.motion.train train motion …`` = ``dyad train motion``."""
    from dyad.services.training.cli import register

    parser = argparse.ArgumentParser(prog="python -m dyad.services.training.motion.train")
    register(parser.add_subparsers(title="commands", metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.func(args)) if hasattr(args, "func") else 2


if __name__ == "__main__":
    raise SystemExit(main())
