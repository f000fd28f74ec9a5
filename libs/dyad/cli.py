"""The ``dyad`` command line.

Each service contributes its own subcommands through the ``dyad.commands`` entry-point group
(``pyproject.toml``): an entry is a ``register(subparsers)`` function that adds a parser and
sets ``func`` on it. The library itself never imports a service (DESIGN.md §3).

Errors: a Dyad error (bad input, configuration, an endpoint down or too slow) prints one line
and exits 2; an internal error exits 1; nothing prints a stack trace unless ``DYAD_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points

from dyad import __version__
from dyad.errors import EXIT_USAGE, DyadError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dyad", description="Two-person conversational 3D talking heads.")
    parser.add_argument("--version", action="version", version=f"dyad {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for ep in sorted(entry_points(group="dyad.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except DyadError as e:
        if os.environ.get("DYAD_DEBUG") == "1":
            raise
        print(f"dyad: {e.message}", file=sys.stderr)
        return 1 if e.code == "INTERNAL" else EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
