"""``dyad dataset synth`` (a synthetic dyadic corpus) and ``dyad dataset from-video`` (tracked
real people), both in DualTalk's layout."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dyad.errors import InvalidInput

RIGS = ("arkit55", "flame56")


def register(sub: argparse._SubParsersAction) -> None:
    dataset = sub.add_parser("dataset", help="dyadic corpora: synthetic, or from videos")
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
    v = cmds.add_parser("from-video", help="tracked real people (video) → DualTalk's layout")
    v.add_argument("--video", type=Path, help="one video, two people side by side (A left)")
    v.add_argument("--video-a", type=Path, help="speaker A's own video (with --video-b)")
    v.add_argument("--video-b", type=Path, help="speaker B's own video (with --video-a)")
    v.add_argument("--out", required=True, type=Path, help="new corpus directory")
    v.add_argument("--split", default="train", help="train, test or ood (train)")
    v.add_argument("--seconds", type=float, default=20.0, help="clip length (20)")
    v.add_argument("--min-seconds", type=float, default=4.0, help="shortest clip kept (4)")
    v.add_argument("--max-side", type=int, default=1280, help="track at most this many px")
    v.add_argument("--relation", default="", help="blood,equal as two 0/1 flags (default: unknown)")
    v.set_defaults(func=from_video)


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


def from_video(args: argparse.Namespace) -> int:
    # The tracker (mediapipe, av) loads when the command runs.
    from dyad.domain import Relation
    from dyad.services.corpus.from_video import check_out, check_sources, corpus_from_video

    check_sources(args.video, args.video_a, args.video_b)
    check_out(args.out, args.split, args.seconds, args.min_seconds)
    relation = None
    if args.relation:
        flags = [f.strip() for f in args.relation.split(",")]
        if len(flags) != 2 or any(f not in ("0", "1") for f in flags):
            raise InvalidInput("--relation", "two 0/1 flags: blood,equal (e.g. 0,1 for peers)")
        relation = Relation(flags[0] == "1", flags[1] == "1")
    report = corpus_from_video(
        args.out,
        video=args.video,
        video_a=args.video_a,
        video_b=args.video_b,
        split=args.split,
        window_s=args.seconds,
        min_window_s=args.min_seconds,
        max_side=args.max_side,
        relation=relation,
        progress=lambda text: print(text, file=sys.stderr),
    )
    print(
        json.dumps(
            {
                "out": str(report.out_dir),
                "clips": report.clips,
                "frames_total": report.frames_total,
                "frames_kept": report.frames_kept,
                "audio": report.audio,
            }
        )
    )
    return 0
