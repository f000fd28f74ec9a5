"""``dyad`` starts fast: building the parser (every service's subcommands) loads no heavy
library; each command imports what it needs when it runs."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_cli_imports_no_heavy_library() -> None:
    code = (
        "import sys, dyad.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('torch', 'scipy.signal', 'numba', 'ray', 'transformers', 'av') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
