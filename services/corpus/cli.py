"""``dyad dataset synth``: a synthetic dyadic corpus in DualTalk's layout."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dyad.errors import InvalidInput

RIGS = ("arkit55", "flame56")


def register(sub: argparse._SubParsersAction) -> None:
    dataset = sub.add_parser("dataset", help="synthetic dyadic corpora")
    cmds = dataset.add_subparsers(title="commands", metavar="COMMAND")
    dataset.set_defaults(func=lambda _a: dataset.print_help() or 2)
    s = cmds.add_parser("synth", help="generate a corpus in DualTalk's layout")
    s.add_argument("--n", type=int, required=True, help="number of clips")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--rig", choices=RIGS, default="arkit55")
    s.add_argument("--seconds", type=float, default=20.0, help="target length per clip")
    s.set_defaults(func=synth)


def synth(args: argparse.Namespace) -> int:
    # The builder (speech, rooms, animator: scipy.signal, av) loads when the command runs.
    from dyad.services.corpus.synth import build_corpus

    if not 1 <= args.n <= 1_000_000:
        raise InvalidInput("--n", "between 1 and 1 000 000")
    if not 1 <= args.workers <= 256:
        raise InvalidInput("--workers", "between 1 and 256")
    report = build_corpus(
        args.out, args.n, seed=args.seed, workers=args.workers, rig=args.rig, target_s=args.seconds
    )
    print(
        json.dumps(
            {
                "out": str(report.out_dir),
                "n": report.n,
                "generated": report.generated,
                "skipped": report.skipped,
                "splits": report.splits,
                "audio_s": round(report.audio_s, 1),
                "wall_s": round(report.wall_s, 1),
                "clips_per_min": round(report.clips_per_min, 1),
            }
        )
    )
    return 0
