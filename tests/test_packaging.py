"""The wheel (what `pip install .` and the image install) holds every file the code ships:
modules, the bundled checkpoints, configs, phrasebooks, READMEs — not only what lies in
Python packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shipped_files(tracked: list[str]) -> set[str]:
    """Tracked files under libs/dyad and services/, named as they install (tests excluded)."""
    out = set()
    for path in tracked:
        if (
            not path.startswith(("libs/dyad/", "services/"))
            or "/tests/" in path
            or path.endswith((".gitignore", ".gitattributes"))
        ):
            continue
        if path.startswith("libs/dyad/v1/") and not path.endswith(".py"):
            continue
        out.add(path.replace("libs/dyad/", "dyad/", 1).replace("services/", "dyad/services/", 1))
    return out


def test_the_wheel_ships_every_file_and_the_checkpoints(tmp_path: Path) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (tracked files are what ships)")
    # Built from a copy of the tracked files: setuptools reuses a checkout's build/ folder,
    # whose leftovers would hide a file the package data no longer names.
    src = tmp_path / "src"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    for path in tracked:
        if (REPO / path).is_file():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / path, src / path)
    wheels = tmp_path / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "-w", str(wheels), str(src)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("dyad-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_shipped_files(tracked) - names)
    assert missing == [], f"not in the wheel: {missing[:20]}"
    for service in ("motion", "refiner"):
        assert any(
            n.startswith(f"dyad/services/{service}/checkpoints/")
            and n.endswith("model.safetensors")
            for n in names
        ), service
