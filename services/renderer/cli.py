"""``dyad render`` and ``dyad avatar create``.

The commands import what they run (torch, numba, av, scipy) when they run, so that building
the ``dyad`` parser stays light (``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from dyad.errors import InvalidInput
from dyad.services.renderer.settings import BACKENDS, LAYOUTS, RendererSettings


def register_render(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("render", help="two motion clips + audio → conversation MP4")
    r.add_argument("--motion-a", required=True, type=Path, help="motion .npz of speaker A")
    r.add_argument("--motion-b", type=Path, help="motion .npz of speaker B (not for single)")
    r.add_argument("--audio", type=Path, help="WAV: stereo mix (left A, right B) or mono")
    for s in ("a", "b"):
        g = r.add_mutually_exclusive_group()
        g.add_argument(f"--avatar-{s}", type=Path, help=f"avatar directory of {s.upper()}")
        g.add_argument(
            f"--identity-{s}", default="", help="descriptor, e.g. 'woman, 60s, grey bob'"
        )
    r.add_argument("--layout", choices=LAYOUTS, default=None, help="default: DYAD_RENDER_LAYOUT")
    r.add_argument("--head-px", type=int, default=0, help="pixels per head (default 512)")
    r.add_argument("--backend", choices=BACKENDS, default=None, help="default: DYAD_RENDER_BACKEND")
    r.add_argument("--out", required=True, type=Path, help="output .mp4")
    r.set_defaults(func=render)


def add_create_command(cmds: argparse._SubParsersAction) -> None:
    """``dyad avatar create`` (the ``avatar`` group is the capture root's: ``capture.cli``)."""
    c = cmds.add_parser("create", help="identity text → avatar directory (+ preview.png, .ply)")
    c.add_argument("--identity", default="", help="descriptor text; empty: a neutral default")
    c.add_argument(
        "--head-model",
        choices=("procedural", "human", "flame"),
        help="default: DYAD_RENDER_HEAD (human)",
    )
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", required=True, type=Path)
    c.set_defaults(func=create)


def _settings(args: argparse.Namespace) -> Any:
    s = RendererSettings.from_env()
    return dataclasses.replace(s, backend=args.backend) if getattr(args, "backend", None) else s


def _clip(path: Path | None, flag: str) -> Any:
    from dyad.motion_io import load_motion

    if path is None:
        return None
    if not path.is_file():
        raise InvalidInput(flag, f"{path} is not a file")
    return load_motion(path, field=flag)


def render(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from dyad.media.audio import load_audio, read_wav, resample
    from dyad.services.renderer.core import AUDIO_RATE, RendererCore

    if args.out.suffix.lower() != ".mp4":
        raise InvalidInput("--out", f"expected a .mp4 path, got {args.out}")
    a, b = _clip(args.motion_a, "--motion-a"), _clip(args.motion_b, "--motion-b")
    rig_b = b.rig.name if b is not None else a.rig.name
    if b is not None and rig_b != a.rig.name:
        raise InvalidInput("--motion-b", f"rig {rig_b} differs from --motion-a's {a.rig.name}")
    tracks: dict[str, Any] = {}
    mix = None
    if args.audio is not None:
        if not args.audio.is_file():
            raise InvalidInput("--audio", f"{args.audio} is not a file")
        raw, rate = read_wav(args.audio.read_bytes())
        if raw.ndim == 2 and raw.shape[1] == 2:
            mix = resample(raw, rate, AUDIO_RATE) if rate != AUDIO_RATE else raw
            tracks = {"track_a": mix[:, 0].copy(), "track_b": mix[:, 1].copy()}
        else:
            mix = load_audio(args.audio.read_bytes())
    core = RendererCore(None, _settings(args))
    identities = {"a": args.identity_a, "b": args.identity_b}
    avatars = {s: str(p) for s, p in (("a", args.avatar_a), ("b", args.avatar_b)) if p}
    start = time.perf_counter()
    with Progress(
        TextColumn("render"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} frames"),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("render", total=a.num_frames)
        paths = core.render_conversation(
            a.motion,
            b.motion if b is not None else None,
            a.rig.name,
            args.out.parent,
            mix=mix,
            identities=identities,
            avatar_uris=avatars,
            layout=args.layout or "",
            head_px=args.head_px,
            singles=False,
            progress=lambda done, _t: bar.update(task, completed=done),
            **tracks,
        )
    produced = paths["conversation"]
    if produced != args.out:
        produced.replace(args.out)
    wall = time.perf_counter() - start
    print(
        json.dumps(
            {
                "out": str(args.out),
                "frames": a.num_frames,
                "wall_s": round(wall, 2),
                "fps": round(a.num_frames / wall, 2),
            }
        )
    )
    return 0


def create(args: argparse.Namespace) -> int:
    from dyad.media.image import write_png
    from dyad.services.renderer.avatars.avatar import create_avatar
    from dyad.services.renderer.core import RendererCore

    settings = _settings(args)
    av = create_avatar(
        args.identity,
        head=args.head_model or settings.head,
        flame_model=settings.flame_model,
        seed=args.seed,
    )
    av.save(args.out)
    av.to_ply(args.out / "avatar.ply")
    write_png(args.out / "preview.png", RendererCore(None, settings).preview(av))
    print(
        json.dumps(
            {
                "out": str(args.out),
                "gaussians": av.num_gaussians,
                "rig": av.rig,
                "files": sorted(p.name for p in args.out.iterdir()),
            }
        )
    )
    return 0
