"""The architecture contracts (``[tool.importlinter]`` in pyproject.toml), runnable here.

``dyad.services`` lives in ``services/`` but imports as a subpackage of ``dyad`` (setup.py maps
the two roots), and import-linter finds packages by walking the directory of ``dyad``, where
``services/`` is not. So the contracts run over a scratch tree that joins the two roots the
way Python sees them — real directories, every module a symlink to its source — first on the
import path. ``python -m tests.architecture`` (``make lint``) prints import-linter's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOTS = ((REPO / "libs" / "dyad", Path("dyad")), (REPO / "services", Path("dyad", "services")))


def joined_tree(dest: Path) -> Path:
    """``dest/dyad``: libs/dyad with services/ as its ``services`` subpackage (symlinks)."""
    for src_root, rel_root in ROOTS:
        for dirpath, dirnames, filenames in os.walk(src_root):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            target = dest / rel_root / Path(dirpath).relative_to(src_root)
            target.mkdir(parents=True, exist_ok=True)
            for name in filenames:
                if name.endswith(".py"):
                    (target / name).symlink_to(Path(dirpath) / name)
    return dest / "dyad"


def lint_imports(tree_root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """import-linter with the project's contracts (or only ``contracts``) over ``tree_root``."""
    exe = Path(sys.executable).with_name("lint-imports")
    args = [str(exe), "--no-cache", *(a for c in contracts for a in ("--contract", c))]
    env = {**os.environ, "PYTHONPATH": str(tree_root)}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dyad-arch-") as tmp:
        joined_tree(Path(tmp))
        result = lint_imports(Path(tmp))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
