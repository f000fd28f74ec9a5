"""``dyad motion animate | generate | convert-released | inspect``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.services.motion.settings import RIGS, MotionSettings

# The commands import the motion I/O, the service core and the model (numpy, scipy.signal, av,
# torch) when they run: building ``dyad``'s parser must stay light (tests/test_cli_startup.py).


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

    g = cmds.add_parser("generate", help="neural model: features → motion (DualTalk)")
    g.add_argument("--features-a", required=True, type=Path, help="[T, D] .npy, the target speaker")
    g.add_argument("--features-b", required=True, type=Path, help="[T, D] .npy, the partner")
    g.add_argument(
        "--motion-partner", type=Path, help="partner motion .npz: predict A only, given it"
    )
    g.add_argument("--relation", default="", help="blood,equal as two 0/1 flags, e.g. 1,0")
    g.add_argument("--model-dir", type=Path, help="checkpoint directory (default: the bundled one)")
    g.add_argument("--seed", type=int, default=0, help="variation latent draw (models with one)")
    g.add_argument("--out", required=True, type=Path)
    g.set_defaults(func=generate)

    c = cmds.add_parser("convert-released", help="the authors' DualTalk.pth → a model directory")
    c.add_argument("--checkpoint", required=True, type=Path, help="DualTalk.pth")
    c.add_argument("--out", required=True, type=Path, help="directory for config.json + weights")
    c.set_defaults(func=convert_released)

    i = cmds.add_parser("inspect", help="print a model's state-dict table")
    i.add_argument("--variant", choices=("paper", "released"), default="paper")
    i.add_argument("--rig", choices=RIGS, default="flame56")
    i.add_argument("--social", action="store_true")
    i.add_argument("--json", action="store_true", help="JSON {name: shape}")
    i.set_defaults(func=inspect)


def _file(path: Path, flag: str) -> bytes:
    if not path.is_file():
        raise InvalidInput(flag, f"{path} is not a file")
    return path.read_bytes()


def animate(args: argparse.Namespace) -> int:
    from dyad.motion_io import save_motion
    from dyad.services.motion.core import MotionCore, read_track

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


def _relation(text: str) -> tuple[bool, bool] | None:
    if not text:
        return None
    parts = text.split(",")
    if len(parts) != 2 or any(p.strip() not in ("0", "1") for p in parts):
        raise InvalidInput("--relation", "two 0/1 flags: blood,equal (e.g. 1,0 for parent–child)")
    return parts[0].strip() == "1", parts[1].strip() == "1"


def _features(path: Path, flag: str) -> Any:
    import numpy as np

    try:
        _file(path, flag)
        x = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise InvalidInput(flag, f"not a .npy array: {e}") from None
    if x.ndim != 2:
        raise InvalidInput(flag, f"expected [T, D], got shape {x.shape}")
    return x.astype("float32")


def generate(args: argparse.Namespace) -> int:
    """With ``--motion-partner``: A given B's motion (DualTalk's protocol), → ``motion.npz``.
    Without: both speakers, the first pass from rest and a second pass given the first's
    output, → ``motion_a.npz`` and ``motion_b.npz``."""
    import numpy as np

    from dyad.motion_io import load_motion, save_motion
    from dyad.services.motion.neural.backend import BUNDLED
    from dyad.services.motion.neural.generate import generate_pair
    from dyad.services.motion.neural.model import load_pretrained

    fa, fb = _features(args.features_a, "--features-a"), _features(args.features_b, "--features-b")
    if fa.shape != fb.shape:
        raise InvalidInput("--features-b", f"shape {fb.shape} differs from --features-a {fa.shape}")
    relation = _relation(args.relation)
    if isinstance(args.seed, bool) or args.seed < 0:
        raise InvalidInput("--seed", "must be ≥ 0")
    model = load_pretrained(args.model_dir or BUNDLED, setting="--model-dir")
    rig = model.config.rig
    args.out.mkdir(parents=True, exist_ok=True)
    if args.motion_partner is not None:
        partner = load_motion(
            _file(args.motion_partner, "--motion-partner"), field="--motion-partner"
        )
        if partner.rig.name != rig or partner.num_frames != fa.shape[0]:
            raise InvalidInput("--motion-partner", f"need {rig} with {fa.shape[0]} frames")
        ma, _ = generate_pair(
            model, fa, fb, np.zeros_like(partner.motion), partner.motion, relation, seed=args.seed
        )
        files = [save_motion(args.out / "motion.npz", ma, rig)]
    else:
        rest = np.zeros((fa.shape[0], model.config.motion_dim), np.float32)
        ma, mb = generate_pair(model, fa, fb, rest, rest, relation, seed=args.seed)
        ma, mb = generate_pair(model, fa, fb, ma, mb, relation, seed=args.seed)
        files = [
            save_motion(args.out / "motion_a.npz", ma, rig),
            save_motion(args.out / "motion_b.npz", mb, rig),
        ]
    print(json.dumps({"frames": int(fa.shape[0]), "rig": rig, "files": [str(f) for f in files]}))
    return 0


def convert_released(args: argparse.Namespace) -> int:
    """Load the authors' ``DualTalk.pth`` strictly (``released.load_released``) and write it as
    a model directory that ``--model-dir``, ``DYAD_MOTION_MODEL_DIR`` and ``model_id`` take."""
    from dyad.services.motion.neural.model import save_pretrained
    from dyad.services.motion.neural.released import load_released

    try:
        model = load_released(args.checkpoint)
    except InvalidInput as e:
        raise InvalidInput("--checkpoint", e.reason) from None
    out = save_pretrained(model, args.out)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({"out": str(out), "parameters": params, "rig": model.config.rig}))
    return 0


def inspect(args: argparse.Namespace) -> int:
    """The state-dict table; the model is built on the meta device (no memory, no download)."""
    import torch

    from dyad.services.motion.neural.config import MotionModelConfig
    from dyad.services.motion.neural.model import DualTalkModel, state_dict_table

    audio = {"audio_input": "waveform", "audio_dim": 1024} if args.variant == "released" else {}
    cfg = MotionModelConfig(rig=args.rig, variant=args.variant, social=args.social, **audio)
    with torch.device("meta"):
        table = state_dict_table(DualTalkModel(cfg))
    if args.json:
        print(json.dumps(table))
    else:
        for name, shape in table.items():
            print(f"{name:<80} {tuple(shape)}")
        total = sum(int(torch.tensor(s).prod()) if s else 1 for s in table.values())
        print(f"{total:,} parameters")
    return 0
