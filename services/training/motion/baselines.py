"""DualTalk's reference rows for a trained motion model (paper §5.1, Tab. 2 / 4).

Training-free baselines, fitted on ``train`` (both speakers' frames):

- ``random``: every frame is a random train frame;
- ``nearest_audio``: every frame is the motion of the train frame whose mel feature is nearest
  (Euclidean after per-dimension standardisation with train statistics; a seeded random
  subsample of at most ``max_frames`` train frames, searched with ``torch.cdist``);
- ``mean``: the mean train frame, held still.

Model rows: ``model`` (DualTalk's protocol: each speaker given the partner's ground truth),
``speaker_only`` (the same model with the partner silent — features of a zero waveform — and
still — neutral, all-zero motion: DualTalk's "w/o Speaker-A" ablations at once), and
``teacher`` (our corpus only: the procedural animator re-run on the clip's audio and timeline
from ``metadata.jsonl`` with another seed; ground truth is the same animator with the clip's
own seed, so this row is the ceiling set by the teacher's own randomness).

``compare(data_dir, model)`` scores every row on ``test`` and ``ood`` with
``metrics.evaluate_clips``, plus ``pace`` (ours, not DualTalk's): the mean absolute
frame-to-frame change of the prediction over the ground truth's, per group — 1 moves at the
teacher's pace, ≫ 1 is jitter that FD, a per-clip distribution of frames, cannot see.
``table(results)`` prints DualTalk's layout with the pace columns last.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dyad.domain import Timeline
from dyad.media import load_audio
from dyad.services.motion.neural.model import DualTalkModel, load_pretrained
from dyad.services.motion.procedural.animator import ProceduralAnimator
from dyad.services.training.features import encode_wave
from dyad.services.training.metrics import GROUPS
from dyad.services.training.motion.data import Clip, load_clips
from dyad.services.training.motion.evaluate import predict_clip, score
from dyad.services.training.runs import reproducible_cpu

Pair = tuple[np.ndarray, np.ndarray]
Results = dict[str, dict[str, dict[str, dict[str, float]]]]  # split → method → group → metric
METRICS = {"fd": "FD", "p_fd": "P-FD", "mse": "MSE", "sid": "SID", "rpcc": "rPCC", "pace": "pace"}


class FrameBaselines:
    """The training-free baselines fitted on the frames of ``train_clips``."""

    def __init__(self, train_clips: list[Clip], *, seed: int = 0, max_frames: int = 20_000):
        motion = np.concatenate([m for c in train_clips for m in (c.motion_a, c.motion_b)])
        feats = np.concatenate([f for c in train_clips for f in (c.feats_a, c.feats_b)])
        self.rng = np.random.default_rng(seed)
        keep = np.sort(self.rng.permutation(len(motion))[:max_frames])
        self.motion, self.mean = motion, motion.mean(0).astype(np.float32)
        self.f_mean, self.f_std = feats.mean(0), feats.std(0) + 1e-6
        self.nn_motion = motion[keep]
        self.nn_feats = torch.from_numpy(((feats[keep] - self.f_mean) / self.f_std).astype("f4"))

    def random(self, clip: Clip) -> Pair:
        t = clip.frames
        idx = self.rng.integers(0, len(self.motion), size=(2, t))
        return self.motion[idx[0]], self.motion[idx[1]]

    def nearest_audio(self, clip: Clip) -> Pair:
        out = []
        for f in (clip.feats_a, clip.feats_b):
            q = torch.from_numpy(((f - self.f_mean) / self.f_std).astype(np.float32))
            idx = torch.cat(
                [
                    torch.cdist(q[i : i + 256], self.nn_feats).argmin(1)
                    for i in range(0, len(q), 256)
                ]
            )
            out.append(self.nn_motion[idx.numpy()])
        return out[0], out[1]

    def mean_pose(self, clip: Clip) -> Pair:
        held = np.repeat(self.mean[None], clip.frames, axis=0)
        return held, held.copy()


def speaker_only(model: DualTalkModel, clip: Clip, *, social: bool) -> Pair:
    """The model with the partner silent and still (see the module doc)."""
    silent = encode_wave(np.zeros(clip.frames * 640, dtype=np.float32), clip.frames)
    still = np.zeros_like(clip.motion_a)
    a = Clip(clip.name, clip.feats_a, silent, still, still, clip.relation)
    b = Clip(clip.name, silent, clip.feats_b, still, still, clip.relation)
    return predict_clip(model, a, social=social)[0], predict_clip(model, b, social=social)[1]


def teacher_rerun(data_dir: str | Path, rig: str, *, offset: int = 1) -> Callable[[Clip], Pair]:
    """Re-runs the procedural animator with seed (clip's seed + ``offset``)."""
    root = Path(data_dir)
    meta = {}
    for line in (root / "metadata.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        meta[row["clip"]] = row
    animator = ProceduralAnimator()

    def run(clip: Clip) -> Pair:
        row = meta[clip.name]
        folder = root / row["split"]
        a, b = (load_audio(folder / f"{clip.name}_speaker{k}.wav") for k in (1, 2))
        seed = row["clip_seed"] % 2**31 + offset  # the corpus animates with clip_seed % 2**31
        ma, mb = animator.animate(a, b, Timeline.from_dict(row["timeline"]), seed=seed, rig=rig)
        return ma[: clip.frames], mb[: clip.frames]

    return run


def pace(preds: list[Pair], clips: list[Clip], rig: str) -> dict[str, float]:
    """Per group: mean |Δ| of the predictions over mean |Δ| of the ground truth (all frames
    of both speakers of every clip)."""

    def mean_step(xs: list[np.ndarray], idx: list[int]) -> float:
        return float(np.mean(np.concatenate([np.abs(np.diff(x[:, idx], axis=0)) for x in xs])))

    pred = [x for a, b in preds for x in (a, b)]
    gt = [x for c in clips for x in (c.motion_a, c.motion_b)]
    return {
        g.name: mean_step(pred, list(g.index)) / max(mean_step(gt, list(g.index)), 1e-12)
        for g in GROUPS[rig]
    }


def _scores(preds: list[Pair], clips: list[Clip], rig: str) -> dict[str, dict[str, float]]:
    out = score(preds, clips, rig)
    for group, ratio in pace(preds, clips, rig).items():
        out[group]["pace"] = ratio
    return out


def compare(
    data_dir: str | Path,
    model: DualTalkModel | None,
    *,
    rig: str,
    splits: tuple[str, ...] = ("test", "ood"),
    seed: int = 0,
    teacher: bool = True,
    max_frames: int = 20_000,
) -> Results:
    """Every row (module doc) on each split that has pairs: split → method → group → metric."""
    base = FrameBaselines(load_clips(data_dir, "train", rig), seed=seed, max_frames=max_frames)
    social = model is not None and model.config.social
    methods: dict[str, Callable[[Clip], Pair]] = {}
    if model is not None:
        model.eval()
        methods["model"] = lambda c: predict_clip(model, c, social=social)
        methods["speaker_only"] = lambda c: speaker_only(model, c, social=social)
    if teacher and (Path(data_dir) / "metadata.jsonl").is_file():
        methods["teacher"] = teacher_rerun(data_dir, rig)
    methods |= {"random": base.random, "nearest_audio": base.nearest_audio, "mean": base.mean_pose}
    out: Results = {}
    for split in splits:
        clips = load_clips(data_dir, split, rig)
        if clips:
            with torch.no_grad(), reproducible_cpu():
                out[split] = {
                    name: _scores([f(c) for c in clips], clips, rig) for name, f in methods.items()
                }
    return out


NAMES = {
    "model": "DualTalk (ours, synth)",
    "speaker_only": "speaker-only (partner zeroed)",
    "teacher": "teacher re-run (other seed)",
    "random": "Random",
    "nearest_audio": "Nearest Audio",
    "mean": "Mean pose",
}


def table(results: dict[str, dict[str, dict[str, float]]], digits: int = 4) -> str:
    """One split's rows as a Markdown table: methods × (metric, group)."""
    first = next(iter(results.values()))
    groups = list(first)
    cols = [(m, g) for m in METRICS for g in groups if m in first[g]]
    head = "| Method | " + " | ".join(f"{METRICS[m]} {g}" for m, g in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 1)]
    for name, res in results.items():
        cells = [f"{res[g][m]:.{digits}g}" for m, g in cols]
        lines.append(f"| {NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m dyad.services.training.motion.baselines --data CORPUS [--model DIR]
    [--json OUT]``: the Markdown tables of every split (and the raw scores as JSON)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m dyad.services.training.motion.baselines")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--model", type=Path, help="save_pretrained directory (omit: baselines only)")
    p.add_argument("--rig", default="arkit55")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the scores here")
    args = p.parse_args(argv)
    model = load_pretrained(args.model) if args.model else None
    res = compare(args.data, model, rig=args.rig, seed=args.seed)
    for split, rows in res.items():
        print(f"\n{split}\n\n{table(rows)}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
