"""``dyad train motion|refiner|joint`` and ``dyad metrics motion``: the command parsers. The
training modules import torch and friends, so they load when a command runs, not whenever any
``dyad`` command starts."""

from __future__ import annotations

import argparse
import importlib
import json
import math
from pathlib import Path

from dyad.errors import EXIT_USAGE, InvalidInput


def _run(module: str, args: argparse.Namespace) -> int:
    return int(importlib.import_module(module)._cli(args) or 0)


def register(sub: argparse._SubParsersAction) -> None:
    """``dyad train motion …``."""
    t = sub.add_parser("train", help="train neural models")
    cmds = t.add_subparsers(title="commands", metavar="COMMAND")
    t.set_defaults(func=lambda _a: t.print_help() or 2)
    m = cmds.add_parser("motion", help="train the DualTalk motion model on a corpus")
    m.add_argument("--data", required=True, type=Path, help="DualTalk-layout corpus directory")
    m.add_argument("--rig", required=True, choices=("arkit55", "flame56"))
    m.add_argument("--variant", choices=("paper", "released"), default="paper")
    m.add_argument("--social", action="store_true", help="condition on the relation")
    m.add_argument("--epochs", type=int, default=100)
    m.add_argument("--batch-size", type=int, default=32)
    m.add_argument("--lr", type=float, default=1e-4)
    m.add_argument("--feature-dim", type=int, default=256)
    m.add_argument("--encoder-layers", type=int, default=3)
    m.add_argument("--lstm-hidden", type=int, default=128)
    m.add_argument(
        "--latent-dim",
        type=int,
        default=0,
        help="variation latent size (0: none; the bundled model: 8)",
    )
    m.add_argument(
        "--latent-group",
        default="",
        help="channel group the latent's posterior sees ('' = all; e.g. face)",
    )
    m.add_argument("--latent-stride", type=int, default=2, help="frames per latent step")
    m.add_argument("--kl-weight", type=float, default=1e-3, help="weight of the latent's KL")
    m.add_argument(
        "--free-bits",
        type=float,
        default=0.05,
        help="nats per latent dimension and step the KL does not penalise",
    )
    m.add_argument(
        "--stat-weight",
        type=float,
        default=1.0,
        help="weight of the prior-sampled window-statistics term",
    )
    m.add_argument(
        "--pace-weight",
        type=float,
        default=0.0,
        help="weight of the pace (mean |Δ|) part of that term",
    )
    m.add_argument("--lr-step", type=int, default=50, help="StepLR step (epochs)")
    m.add_argument("--lr-gamma", type=float, default=0.8, help="StepLR factor")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--eval-every", type=int, default=10)
    m.add_argument("--minutes", type=float, default=None, help="stop before exceeding this")
    m.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy host)")
    m.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint.pt")
    m.add_argument("--out", required=True, type=Path, help="model directory")
    m.set_defaults(func=lambda a: _run("dyad.services.training.motion.train", a))
    add_refiner_command(cmds)
    add_joint_command(cmds)


def add_refiner_command(cmds: argparse._SubParsersAction) -> None:
    """``dyad train refiner …`` (``refiner/train.py`` runs it)."""
    r = cmds.add_parser("refiner", help="train the diffusion refiner on a synthetic corpus")
    r.add_argument("--data", required=True, type=Path, help="`dyad dataset synth` corpus")
    r.add_argument("--out", required=True, type=Path, help="model directory")
    r.add_argument("--rig", choices=("arkit55", "flame56"), default="arkit55")
    r.add_argument("--steps", type=int, default=1500, help="optimiser steps")
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--window", type=int, default=160, help="frames per training window")
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--warmup", type=int, default=100)
    r.add_argument("--d-model", type=int, default=128)
    r.add_argument("--layers", type=int, default=4)
    r.add_argument("--ff-dim", type=int, default=256)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--ckpt-every", type=int, default=100)
    r.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy host)")
    r.add_argument("--no-resume", action="store_true", help="ignore OUT/checkpoint.pt")
    r.set_defaults(func=lambda a: _run("dyad.services.training.refiner.train", a))


def add_joint_command(cmds: argparse._SubParsersAction) -> None:
    """``dyad train joint …``: RSATalker stage 3 (``joint/train.py`` runs it)."""
    j = cmds.add_parser(
        "joint", help="train the motion model and a human-head avatar end to end (RSATalker)"
    )
    j.add_argument("--data", required=True, type=Path, help="DualTalk-layout corpus with relations")
    j.add_argument("--out", required=True, type=Path, help="new output directory")
    j.add_argument("--rig", choices=("arkit55", "flame56"), default="arkit55")
    j.add_argument("--motion-model", type=Path, help="stage-1 model (`dyad train motion --social`)")
    j.add_argument("--avatar", type=Path, help="stage-2 human-head avatar directory")
    j.add_argument("--identity", default="", help="new avatar's identity (no --avatar)")
    j.add_argument("--feature-dim", type=int, default=256, help="a fresh motion model's width")
    j.add_argument("--steps", type=int, default=200, help="optimiser steps")
    j.add_argument("--batch-size", type=int, default=4)
    j.add_argument("--window", type=int, default=50, help="frames per training window")
    j.add_argument("--frames-per-step", type=int, default=2, help="frames rendered per step")
    j.add_argument("--size", type=int, default=96, help="rendered image size (px)")
    j.add_argument("--lr", type=float, default=1e-4, help="motion model learning rate")
    j.add_argument("--avatar-lr", type=float, default=1e-3, help="the Gaussians' learning rate")
    j.add_argument("--offset-lr", type=float, default=1e-5, help="the offsetnet's learning rate")
    j.add_argument("--seed", type=int, default=0)
    j.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 on a busy host)")
    j.set_defaults(func=lambda a: _run("dyad.services.training.joint.train", a))


def register_metrics(sub: argparse._SubParsersAction) -> None:
    """``dyad metrics motion …``: DualTalk's metrics of prediction files against a corpus."""
    metrics = sub.add_parser("metrics", help="evaluation metrics")
    cmds = metrics.add_subparsers(title="commands", metavar="COMMAND")
    metrics.set_defaults(func=lambda _a: metrics.print_help() or EXIT_USAGE)
    m = cmds.add_parser(
        "motion", help="DualTalk's FD, P-FD, MSE, SID, rPCC per channel group (JSON)"
    )
    m.add_argument("--pred", required=True, type=Path, help="prediction directory or .npy/.npz")
    m.add_argument("--gt", required=True, type=Path, help="GT root (DualTalk layout) or file")
    m.add_argument("--partner", type=Path, help="partner GT file (file mode only)")
    m.add_argument("--rig", choices=("arkit55", "flame56"), default="flame56")
    m.add_argument("--split", help="GT subfolder (train/test/ood) in directory mode")
    m.add_argument("--sid-fit", choices=("pred", "gt"), default="pred", help="KMeans fit for SID")
    m.set_defaults(func=motion_metrics)


def motion_metrics(args: argparse.Namespace) -> int:
    # numpy and scipy load when the command runs, not whenever any ``dyad`` command starts.
    from dyad.services.training.metrics import evaluate_dirs, evaluate_single, read_motion_file

    if args.pred.is_dir():
        if not args.gt.is_dir():
            raise InvalidInput("--gt", f"{args.gt} must be a directory when --pred is one")
        if args.partner is not None:
            raise InvalidInput("--partner", "only with file inputs (directories pair speakers)")
        scores = evaluate_dirs(args.pred, args.gt, args.rig, args.split, sid_fit=args.sid_fit)
    else:
        if args.split is not None:
            raise InvalidInput("--split", "only with directory inputs")
        if args.partner is None:
            raise InvalidInput("--partner", "required with file inputs")
        files = {"--pred": args.pred, "--gt": args.gt, "--partner": args.partner}
        for flag, path in files.items():
            if not path.is_file():
                raise InvalidInput(flag, f"{path} is not a file or directory")
        pred, gt, partner = (read_motion_file(p, args.rig, f) for f, p in files.items())
        scores = evaluate_single(pred, gt, partner, args.rig, sid_fit=args.sid_fit)
    # NaN (a constant array's rPCC) is written as null: strict JSON has no NaN.
    out = {g: {k: v if math.isfinite(v) else None for k, v in s.items()} for g, s in scores.items()}
    print(json.dumps(out))
    return 0
