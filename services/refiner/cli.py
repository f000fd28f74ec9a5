"""``dyad refine``: refine both speakers' motion files. Only argparse, the domain types and the
settings' constants are imported here; numpy and the torch modules load when the command runs,
not whenever ``dyad`` starts."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.services.refiner.settings import BLOCKS, SAMPLERS, RefinerSettings

FAST_STEPS = 10


def register(sub: argparse._SubParsersAction) -> None:
    """``dyad refine``."""
    r = sub.add_parser(
        "refine", help="diffusion refinement (CHAT IFBR: SFBG, RFBG, TCR) of two motion files"
    )
    r.add_argument("--motion-a", required=True, type=Path, help="speaker A's motion .npz")
    r.add_argument("--motion-b", required=True, type=Path, help="speaker B's motion .npz")
    r.add_argument("--timeline", required=True, type=Path, help="the conversation's timeline.json")
    r.add_argument(
        "--features-a",
        type=Path,
        help="speaker A's mel features .npy (`dyad audio encode`; optional condition)",
    )
    r.add_argument("--features-b", type=Path, help="speaker B's mel features (with --features-a)")
    steps = r.add_mutually_exclusive_group()
    steps.add_argument("--steps", type=int, help="denoising steps, 1–1000 (default 50)")
    steps.add_argument("--fast", action="store_true", help=f"the fast preset: {FAST_STEPS} steps")
    r.add_argument("--blocks", default=",".join(BLOCKS), help="subset of sfbg,rfbg,tcr")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--strength", type=float, help="RFBG noise strength, (0, 1] (default 0.5)")
    r.add_argument("--guidance", type=float, help="CFG scale on the partner (default 1: none)")
    r.add_argument("--sampler", choices=SAMPLERS, help="ddim (default) or ancestral")
    r.add_argument("--model-dir", type=Path, help="checkpoint directory (default: the bundled)")
    r.add_argument("--out", required=True, type=Path, help="writes motion_a.npz, motion_b.npz")
    r.set_defaults(func=refine)


def _file(path: Path | None, flag: str) -> Path:
    if path is None or not path.is_file():
        raise InvalidInput(flag, f"{path} is not a file")
    return path


def refine(args: argparse.Namespace) -> int:
    # imported when the command runs, not when `dyad` builds its parser (module doc)
    from dyad.features_io import load_features
    from dyad.motion_io import load_motion, save_motion
    from dyad.services.refiner.core import RefinerCore, parse_blocks
    from dyad.services.refiner.schedule import check_steps, check_strength

    blocks = parse_blocks(args.blocks, "--blocks")
    if args.steps is not None:
        check_steps(args.steps, "--steps")
    if args.strength is not None:
        check_strength(args.strength, "--strength")
    if args.guidance is not None and not 0.0 <= args.guidance <= 20.0:
        raise InvalidInput("--guidance", "in [0, 20]")
    if (args.features_a is None) != (args.features_b is None):
        raise InvalidInput(
            "--features-b" if args.features_b is None else "--features-a",
            "give both speakers' features or neither",
        )
    try:
        timeline = Timeline.from_dict(json.loads(_file(args.timeline, "--timeline").read_bytes()))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidInput("--timeline", f"not JSON: {e}") from None
    a = load_motion(_file(args.motion_a, "--motion-a"), field="--motion-a")
    b = load_motion(_file(args.motion_b, "--motion-b"), field="--motion-b")
    if b.rig.name != a.rig.name:
        raise InvalidInput("--motion-b", f"rig {b.rig.name}; --motion-a is {a.rig.name}")
    if b.num_frames != a.num_frames:
        raise InvalidInput("--motion-b", f"{b.num_frames} frames; --motion-a has {a.num_frames}")
    features = None
    if args.features_a is not None:
        features = (
            load_features(
                _file(args.features_a, "--features-a").read_bytes(), field="--features-a"
            ),
            load_features(
                _file(args.features_b, "--features-b").read_bytes(), field="--features-b"
            ),
        )
    steps = FAST_STEPS if args.fast else args.steps
    settings = RefinerSettings(model_dir=args.model_dir)
    core = RefinerCore(None, settings)
    t0 = time.perf_counter()
    pair = core.refine_arrays(
        a.motion,
        b.motion,
        timeline,
        rig=a.rig.name,
        blocks=blocks,
        steps=steps,
        seed=args.seed,
        strength=args.strength,
        guidance=args.guidance,
        sampler=args.sampler,
        features=features,
    )
    seconds = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    files = [
        save_motion(args.out / "motion_a.npz", pair.motion_a, pair.rig),
        save_motion(args.out / "motion_b.npz", pair.motion_b, pair.rig),
    ]
    o = pair.options
    print(
        json.dumps(
            {
                "frames": int(pair.motion_a.shape[0]),
                "rig": pair.rig,
                "blocks": list(o.blocks),
                "steps": o.steps,
                "seed": o.seed,
                "seconds": round(seconds, 3),
                "files": [str(f) for f in files],
            }
        )
    )
    return 0
