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
    opts = _options(
        args,
        n=args.n,
        turns=parse_turn_range(args.turns, "--turns"),
        relation=_relation(args.relation),
        voices={s: v for s, v in voices.items() if v},
    )
    orch = _orchestrator(args)
    with ProgressReporter(("dialogue", "speech", "features", "motion", "refine", "render")) as rep:
        outputs = orch.generate(prompt, opts, rep)
    return _finish(orch, outputs, opts, args.out)


def animate(args: argparse.Namespace) -> int:
    from dyad.media.audio import read_wav

    check_out_dir(args.out)
    opts = _options(args)
    orch = _orchestrator(args)
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
