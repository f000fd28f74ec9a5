"""``dyad train``: the command parsers only. The training modules import torch and friends,
so they load when a command runs, not whenever any ``dyad`` command starts."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path


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
    m.set_defaults(func=lambda a: _run("dyad.services.motion.train", a))
    from dyad.services.refiner.cli import add_train_command

    add_train_command(cmds)  # `dyad train refiner`
