"""``dyad …`` run in this process, as a subprocess would see it: exit code, stdout, stderr.

For tests of a command's behaviour (its output, its one-line errors and exit codes) where a new
interpreter is not the point: no start-up cost, and the code runs under the test's coverage.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

from dyad.config import environ


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """``dyad *args`` with ``env`` added to the environment while it runs."""
    from dyad.cli import main

    out, err = io.StringIO(), io.StringIO()
    with environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's own errors and --help
            code = e.code if isinstance(e.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())
