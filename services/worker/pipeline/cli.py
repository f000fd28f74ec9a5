"""``dyad generate`` (prompt → conversations) and ``dyad animate`` (recorded audio → video):
the embedded pipeline, every stage in this process, artefacts in the local store.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from dyad.domain import parse_turn_range
from dyad.domain.limits import check_voice_id
from dyad.errors import InvalidInput

#: An avatar directory's files (``renderer.avatars.stored.AVATAR_FILES``; not imported here:
#: it loads torch, and building the parser stays light).
AVATAR_FILES = ("config.json", "model.safetensors")


def register_generate(sub: argparse._SubParsersAction) -> None:
    """``dyad generate``."""
    g = sub.add_parser("generate", help="prompt → talking-head conversations (the main job)")
    g.add_argument("--prompt", required=True, help="what the two people talk about")
    g.add_argument("--n", type=int, default=1, help="number of conversations (default 1)")
    g.add_argument("--turns", default="", help="MIN-MAX turns per dialogue within 5-10")
    g.add_argument(
        "--relation",
        default="",
        help="blood,equal as 0/1 flags (e.g. 1,0 parent–child); default: inferred from the prompt",
    )
    for s in ("a", "b"):
        g.add_argument(
            f"--voice-{s}",
            default="",
            help=f"speaker {s.upper()}'s voice (`dyad dialogue voices`); default: cast",
        )
    _common(g)
    g.set_defaults(func=generate)


def register_animate(sub: argparse._SubParsersAction) -> None:
    """``dyad animate``."""
    a = sub.add_parser("animate", help="recorded audio → talking-head conversation")
    a.add_argument("--audio", required=True, type=Path, help="speaker A's track, or a stereo file")
    a.add_argument("--audio-b", type=Path, help="speaker B's track (else --audio is stereo)")
    _common(a)
    a.set_defaults(func=animate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--motion", choices=("procedural", "neural"), default="procedural")
    p.add_argument("--rig", choices=("arkit55", "flame56"), default="arkit55")
    p.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="diffusion refinement of the motion (default on)",
    )
    p.add_argument("--refine-steps", type=int, default=10)
    p.add_argument("--layout", choices=("side", "pip", "single"), default="side")
    p.add_argument("--head-px", type=int, default=512)
    p.add_argument(
        "--per-speaker-videos",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write speaker_a.mp4 / speaker_b.mp4 beside the composite (default on)",
    )
    for side in ("a", "b"):
        p.add_argument(
            f"--avatar-{side}",
            type=Path,
            help=f"avatar directory speaker {side.upper()} is rendered with (dyad avatar create"
            "|fit); default: generated from the speaker's identity",
        )
    p.add_argument("--store", default="", help="artefact store (default: DYAD_STORE_URI)")
    p.add_argument("--out", required=True, type=Path, help="output directory")


def _relation(text: str) -> Any:
    from dyad.domain import Relation

    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or any(p not in ("0", "1") for p in parts):
        raise InvalidInput("--relation", "two 0/1 flags: blood,equal (e.g. 1,0 for parent–child)")
    return Relation(parts[0] == "1", parts[1] == "1")


def _options(args: argparse.Namespace, **extra: Any) -> Any:
    from dyad.services.worker.pipeline.orchestrator import GenerateOptions

    return GenerateOptions(
        seed=args.seed,
        motion_backend=args.motion,
        rig=args.rig,
        refine=args.refine,
        refine_steps=args.refine_steps,
        layout=args.layout,
        head_px=args.head_px,
        per_speaker_videos=args.per_speaker_videos,
        **extra,
    ).validate()


def check_avatar_dirs(args: argparse.Namespace) -> dict[str, Path]:
    """``--avatar-a``/``--avatar-b``: avatar directories posed by ``--rig`` — checked (files
    there, the config readable, the rig) before any work starts."""
    import json

    dirs: dict[str, Path] = {}
    for side in ("a", "b"):
        directory = getattr(args, f"avatar_{side}", None)
        if directory is None:
            continue
        flag = f"--avatar-{side}"
        if not all((directory / name).is_file() for name in AVATAR_FILES):
            raise InvalidInput(
                flag, f"{directory} is not an avatar (config.json + model.safetensors)"
            )
        try:
            rig = json.loads((directory / "config.json").read_text()).get("rig")
        except (OSError, ValueError, AttributeError):
            raise InvalidInput(flag, f"{directory}/config.json is not an avatar's config") from None
        if rig != args.rig:
            raise InvalidInput(
                flag, f"the avatar is posed by {rig}, the motion is --rig {args.rig}"
            )
        dirs[side] = directory
    return dirs


def store_avatars(store: Any, dirs: dict[str, Path]) -> dict[str, str]:
    """Each local avatar directory copied into the store under ``avatars/local/<sha256 of its
    files>`` (content-addressed: the render cache sees a changed avatar as a new input); the
    keys the render stage loads them by."""
    import hashlib

    keys = {}
    for side, directory in dirs.items():
        blobs = {name: (directory / name).read_bytes() for name in AVATAR_FILES}
        digest = hashlib.sha256(b"".join(hashlib.sha256(b).digest() for b in blobs.values()))
        key = f"avatars/local/{digest.hexdigest()}"
        for name, data in blobs.items():
            store.put_named(f"{key}/{name}", data)
        keys[side] = key
    return keys


def _orchestrator(args: argparse.Namespace) -> Any:
    from dyad.config import PlatformSettings, load
    from dyad.services.worker.pipeline.embedded import EmbeddedStages
    from dyad.services.worker.pipeline.orchestrator import Orchestrator
    from dyad.storage import open_store

    platform = load(PlatformSettings)
    if args.store:
        import dataclasses

        platform = dataclasses.replace(platform, store_uri=args.store)
    return Orchestrator(EmbeddedStages(open_store(platform)))


def check_installed_voices(voices: dict[str, str]) -> None:
    """Each ``flag → voice id`` names a voice this machine has — checked before any work."""
    if not voices:
        return
    from dyad.services.dialogue.core import engine_from_settings
    from dyad.services.dialogue.settings import DialogueSettings

    installed = {v.id for v in engine_from_settings(DialogueSettings.from_env()).voices()}
    for flag, voice in voices.items():
        engine, name = check_voice_id(voice, field=flag)
        if f"{engine}:{name}" not in installed and engine != "espeak":
            raise InvalidInput(
                flag, f"no installed voice {voice!r}; `dyad dialogue voices` lists them"
            )


def check_out_dir(out: Path) -> Path:
    """``--out`` must be a directory or creatable as one — checked before any work starts.

    Rendering for half a minute and only then finding that ``--out`` names a file (or a
    directory we may not write) used to end in a traceback.
    """
    if out.exists() and not out.is_dir():
        raise InvalidInput("--out", f"{out} exists and is not a directory")
    parent = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise InvalidInput("--out", f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidInput("--out", f"cannot write in {parent}")
    return out


def generate(args: argparse.Namespace) -> int:
    from dyad.services.dialogue.writing.writer import check_prompt

    check_out_dir(args.out)
    prompt = check_prompt(args.prompt, 4000)
    voices = {"a": args.voice_a.strip(), "b": args.voice_b.strip()}
    check_installed_voices({f"--voice-{s}": v for s, v in voices.items() if v})
    avatar_dirs = check_avatar_dirs(args)
    orch = _orchestrator(args)
    opts = _options(
        args,
        n=args.n,
        turns=parse_turn_range(args.turns, "--turns"),
        relation=_relation(args.relation),
        voices={s: v for s, v in voices.items() if v},
        avatars=store_avatars(orch.store, avatar_dirs),
    )
    with ProgressReporter(("dialogue", "speech", "features", "motion", "refine", "render")) as rep:
        outputs = orch.generate(prompt, opts, rep)
    return _finish(orch, outputs, opts, args.out)


def animate(args: argparse.Namespace) -> int:
    from dyad.media.audio import read_wav

    check_out_dir(args.out)
    avatar_dirs = check_avatar_dirs(args)
    orch = _orchestrator(args)
    opts = _options(args, avatars=store_avatars(orch.store, avatar_dirs))
    refs = []
    for flag, path in (("--audio", args.audio), ("--audio-b", args.audio_b)):
        if path is None:
            continue
        if not path.is_file():
            raise InvalidInput(flag, f"{path} is not a file")
        read_wav(path, field=flag)  # a clear error for a bad file, before any work
        refs.append(orch.store.put_file(path, "audio/wav"))
    with ProgressReporter(("segment", "features", "motion", "refine", "render")) as rep:
        out = orch.animate(refs[0], refs[1] if len(refs) > 1 else None, opts, rep)
    return _finish(orch, [out], opts, args.out)


def _finish(orch: Any, outputs: list[Any], opts: Any, out_dir: Path) -> int:
    from rich.console import Console
    from rich.table import Table

    from dyad.services.worker.pipeline.orchestrator import export

    stages = list(dict.fromkeys(k for out in outputs for k in out.timings_s))
    table = Table(title="dyad: conversations (seconds per stage)")
    for col in ("conversation", "audio s", "turns", *stages):
        table.add_column(col, justify="left" if col == "conversation" else "right")
    for out in outputs:
        export(out, orch.store, orch.manifest(out, opts), out_dir)
        turns = len(out.dialogue.turns) if out.dialogue is not None else "—"
        times = [
            "cached" if k in out.cached else f"{out.timings_s.get(k, 0.0):.1f}" for k in stages
        ]
        table.add_row(out.dialogue_id, f"{out.timeline.duration_s:.1f}", str(turns), *times)
    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = 140  # logs: do not squeeze the table into 80 columns
    console.print(table)
    for out in outputs:
        print(out_dir / out.dialogue_id / "conversation.mp4")
    return 0


class ProgressReporter:
    """Rich progress bars, one per stage (fraction over all conversations)."""

    def __init__(self, stages: tuple[str, ...]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        # Bars on a terminal; one plain line per finished stage in logs (CI, batch jobs).
        self.plain = not console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            disable=self.plain,
        )
        self.tasks = {s: self.progress.add_task(s, total=1.0, note="", start=False) for s in stages}
        self.started: set[str] = set()
        self.done: set[str] = set()
        self.t0 = time.perf_counter()

    def __enter__(self) -> ProgressReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def stage(self, name: str, fraction: float, message: str = "") -> None:
        task = self.tasks.get(name)
        if task is None:
            return
        if name not in self.started:
            self.progress.start_task(task)
            self.started.add(name)
        self.progress.update(task, completed=min(1.0, fraction), note=message)
        if self.plain and fraction >= 1.0 and name not in self.done:
            self.done.add(name)
            elapsed = time.perf_counter() - self.t0
            print(f"dyad: {name} done at {elapsed:.1f} s {message}".rstrip(), file=sys.stderr)

    def check_cancelled(self) -> None:
        pass
