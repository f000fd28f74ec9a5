"""``dyad motion animate`` and ``dyad dataset synth``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dyad.errors import InvalidInput
from dyad.services.motion.settings import RIGS


def register(sub: argparse._SubParsersAction) -> None:
    motion = sub.add_parser("motion", help="animate both speakers of a conversation")
    cmds = motion.add_subparsers(title="commands", metavar="COMMAND")
    motion.set_defaults(func=lambda _a: motion.print_help() or 2)
    a = cmds.add_parser("animate", help="timeline + two tracks → motion_a.npz, motion_b.npz")
    a.add_argument("--timeline", required=True, type=Path)
    a.add_argument("--audio-a", required=True, type=Path)
    a.add_argument("--audio-b", required=True, type=Path)
    a.add_argument("--rig", choices=RIGS, default="arkit55")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", required=True, type=Path)
    a.set_defaults(func=animate)

    dataset = sub.add_parser("dataset", help="synthetic dyadic corpora")
    dcmds = dataset.add_subparsers(title="commands", metavar="COMMAND")
    dataset.set_defaults(func=lambda _a: dataset.print_help() or 2)
    s = dcmds.add_parser("synth", help="generate a corpus in DualTalk's layout")
    s.add_argument("--n", type=int, required=True, help="number of clips")
    s.add_argument("--out", required=True, type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--rig", choices=RIGS, default="arkit55")
    s.add_argument("--seconds", type=float, default=20.0, help="target length per clip")
    s.set_defaults(func=synth)


def _file(path: Path, flag: str) -> bytes:
    if not path.is_file():
        raise InvalidInput(flag, f"{path} is not a file")
    return path.read_bytes()


def animate(args: argparse.Namespace) -> int:
    from dyad.motion_io import save_motion
    from dyad.services.dialogue.model import Timeline
    from dyad.services.motion.core import MotionCore, read_track
    from dyad.services.motion.settings import MotionSettings

    try:
        timeline = Timeline.from_dict(json.loads(_file(args.timeline, "--timeline")))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput("--timeline", f"not JSON: {e}") from None
    a = read_track(_file(args.audio_a, "--audio-a"), "--audio-a")
    b = read_track(_file(args.audio_b, "--audio-b"), "--audio-b")
    pair = MotionCore(None, MotionSettings()).animate_arrays(
        a, b, timeline, rig=args.rig, seed=args.seed
    )
    args.out.mkdir(parents=True, exist_ok=True)
    files = [
        save_motion(args.out / "motion_a.npz", pair.motion_a, pair.rig),
        save_motion(args.out / "motion_b.npz", pair.motion_b, pair.rig),
    ]
    print(
        json.dumps(
            {
                "frames": int(pair.motion_a.shape[0]),
                "rig": pair.rig,
                "fps": 25,
                "files": [str(f) for f in files],
            }
        )
    )
    return 0


def synth(args: argparse.Namespace) -> int:
    from dyad.services.motion.corpus import build_corpus

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
