"""Progress bars for long CLI commands (``dyad track``, ``dyad avatar synth-data``, ``dyad
avatar fit``): on stderr, so stdout keeps only the command's JSON or summary line, and off
when stderr is not a terminal (logs and CI keep no bar redraws)."""

from __future__ import annotations

from typing import Any


def _progress(*columns: Any) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        columns[0],
        BarColumn(),
        *columns[1:],
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def count_bar(label: str, unit: str) -> Any:
    """One task counted in ``unit`` ("12/50 frames")."""
    from rich.progress import TextColumn

    return _progress(TextColumn(label), TextColumn(f"{{task.completed}}/{{task.total}} {unit}"))


def stage_bars() -> Any:
    """One task per stage, each a percentage with a free ``info`` field and the time spent."""
    from rich.progress import TextColumn, TimeElapsedColumn

    return _progress(
        TextColumn("{task.description}"),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
