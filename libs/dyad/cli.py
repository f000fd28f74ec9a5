"""The ``dyad`` command line. Stage commands are added by the services as they land."""

from __future__ import annotations

import sys

from dyad import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in (["--version"], ["version"]):
        print(__version__)
        return 0
    print("dyad: no commands yet (the pipeline stages land with their issues)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
