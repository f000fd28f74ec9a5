"""``dyad avatar synth-data``: a known avatar under procedural motion → a capture folder.

Light at import: the renderer and the animator load when the command runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dyad.progress import count_bar


def add_synth_data_command(cmds: argparse._SubParsersAction) -> None:
    c = cmds.add_parser(
        "synth-data",
        help="render a known avatar under procedural motion from K cameras → capture folder",
    )
    c.add_argument("--identity", required=True, help="descriptor text, e.g. 'man, 40s, beard'")
    c.add_argument("--frames", required=True, type=int, help="number of frames (25 fps)")
    c.add_argument("--out", required=True, type=Path, help="new capture folder")
    c.add_argument("--cameras", type=int, default=3, help="cameras: frontal, ±30° yaw, … (3)")
    c.add_argument("--size", type=int, default=512, help="square image side in pixels (512)")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(func=synth_data)


def synth_data(args: argparse.Namespace) -> int:
    from dyad.services.capture.synthdata.generate import check_args, synth_capture

    check_args(args.out, args.frames, args.cameras, args.size)  # before loading the avatar
    start = time.perf_counter()
    with count_bar("synth-data", "images") as bar:
        task = bar.add_task("synth-data", total=args.frames * args.cameras)
        out = synth_capture(
            args.out,
            args.identity,
            args.frames,
            cameras=args.cameras,
            size=args.size,
            seed=args.seed,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    print(
        f"wrote {out}: {args.frames} frames × {args.cameras} cameras at {args.size}px "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
