"""``dyad track`` and ``dyad avatar create|fit|synth-data``.

The ``avatar`` group lives here, in the composition root, because fitting and synthetic data
compose services; ``create`` is the renderer's own command (``renderer.cli``). Each command's
arguments and runner sit beside its code (``tracking/cli.py``, ``fitting/cli.py``,
``synthdata/cli.py``) and import their heavy modules only when they run
(``tests/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse

from dyad.services.capture.fitting.cli import add_fit_command
from dyad.services.capture.synthdata.cli import add_synth_data_command
from dyad.services.capture.tracking.cli import add_track_command
from dyad.services.renderer.cli import add_create_command


def register_track(sub: argparse._SubParsersAction) -> None:
    add_track_command(sub)


def register_avatar(sub: argparse._SubParsersAction) -> None:
    avatar = sub.add_parser("avatar", help="Gaussian avatars: create, fit to a video, synth data")
    cmds = avatar.add_subparsers(title="commands", metavar="COMMAND")
    avatar.set_defaults(func=lambda _a: avatar.print_help() or 2)
    add_create_command(cmds)
    add_fit_command(cmds)
    add_synth_data_command(cmds)
