"""``dyad avatar fit (--video V.mp4 | --frames DIR) --out AVATAR_DIR``: RSATalker stage 2.

``--video``: a person's video, tracked and its geometry fitted first (``pipeline``);
``--frames``: a capture folder (``capture/folder.py``: ``dyad avatar synth-data``, or
``dyad track --frames`` + your own cameras).

Heavy modules (torch, the renderer) are imported when the command runs
(``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dyad.errors import InvalidInput
from dyad.progress import stage_bars


def add_fit_command(cmds: argparse._SubParsersAction) -> None:
    f = cmds.add_parser(
        "fit", help="a person's video (or a capture folder) → fitted avatar directory"
    )
    source = f.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", type=Path, help="a video of one person (the largest face)")
    source.add_argument("--frames", type=Path, help="capture folder (capture/folder.py)")
    f.add_argument("--out", required=True, type=Path, help="avatar directory to write")
    f.add_argument("--iters", type=int, default=1000, help="iterations (default 1000)")
    f.add_argument("--size", type=int, default=256, help="working size, longer side px (256)")
    f.add_argument("--resume", action="store_true", help="continue from OUT/.fit/checkpoint.pt")
    f.add_argument("--identity", default="", help="descriptor of the person (the head's shape)")
    f.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--no-refine", action="store_true", help="keep the capture's motion as is")
    f.add_argument(
        "--track-steps",
        type=int,
        default=None,
        help="steps fitting each held-out frame's motion before scoring (default 20; 0: none)",
    )
    f.set_defaults(func=fit)


def fit(args: argparse.Namespace) -> int:
    from dyad.services.renderer.avatars.avatar import create_avatar

    from .data import check_capture, load_fit_data
    from .run import FitConfig, fit_avatar

    cfg = FitConfig(
        iters=args.iters,
        size=args.size,
        device=args.device,
        seed=args.seed,
        refine_motion=not args.no_refine,
        **({} if args.track_steps is None else {"track_steps": args.track_steps}),
    )
    cfg.check()
    if args.video is not None:
        return _fit_video(args, cfg)
    check_capture(args.frames, args.size)  # cheap checks before loading anything big
    if (args.out / "config.json").exists() and not args.resume:
        raise InvalidInput("--out", f"{args.out} already holds an avatar (use another directory)")
    if args.resume and not (args.out / ".fit" / "checkpoint.pt").is_file():
        raise InvalidInput("--resume", f"no checkpoint in {args.out / '.fit'}")
    data = load_fit_data(args.frames, args.size)
    avatar = create_avatar(args.identity, head="human")
    with stage_bars() as bar:
        task = bar.add_task("fit", total=cfg.iters, info="")
        score = bar.add_task("score", total=1.0, info="held-out frames tracked")

        def progress(it: int, total: int, stats: dict[str, float]) -> None:
            info = f"loss {stats.get('loss', 0):.4f}"
            if "psnr" in stats:
                info += (
                    f"  held-out PSNR {stats['psnr']:.2f} dB  SSIM {stats['ssim']:.3f}"
                    f"  {int(stats['gaussians'])} Gaussians"
                )
            bar.update(task, completed=it, info=info)

        def scoring(done: int, total: int) -> None:
            bar.update(score, completed=done / max(total, 1))

        result = fit_avatar(
            data, avatar, cfg, args.out, resume=args.resume, progress=progress, scoring=scoring
        )
    print(json.dumps({"out": str(args.out), **result.metrics}))
    return 0


def _fit_video(args: argparse.Namespace, cfg: Any) -> int:
    """``--video``: tracking → geometry → photometry, one bar per stage."""
    from .pipeline import STAGES, fit_from_video

    if args.resume and not (args.out / ".fit" / "checkpoint.pt").is_file():
        raise InvalidInput("--resume", f"no checkpoint in {args.out / '.fit'}")
    with stage_bars() as bar:
        tasks = {stage: bar.add_task(stage, total=1.0, info="") for stage in STAGES}

        def progress(stage: str, done: float) -> None:
            bar.update(tasks[stage], completed=done)

        metrics = fit_from_video(
            args.video,
            args.out,
            iters=cfg.iters,
            size=cfg.size,
            identity=args.identity,
            device=cfg.device,
            seed=cfg.seed,
            refine_motion=cfg.refine_motion,
            track_steps=cfg.track_steps,
            resume=args.resume,
            progress=progress,
        )
    print(json.dumps({"out": str(args.out), **metrics}))
    return 0
