"""How the container image is built, checked without a container engine: the build context
(``.dockerignore``, evaluated with Docker's matching rules) leaves out everything but what the
Dockerfile copies and has all of that, and ``make image`` runs the right build with Docker, else
Podman, against stand-in engines, and says so when neither runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tomllib
from functools import cache
from pathlib import Path, PurePosixPath

import pytest

from tests.dockerfile_model import REPO, SERVE_CONFIG, dockerfile

DOCKERIGNORE = REPO / ".dockerignore"

# --- the build context ------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern (Go filepath.Match plus `**`) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            j = pattern.index("]", i)
            out += "[" + pattern[i + 1 : j].replace("!", "^", 1) + "]"
            i = j
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


@cache
def ignore_rules() -> list[tuple[bool, re.Pattern[str], str]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = str(PurePosixPath(line.lstrip("!").strip().lstrip("/")))
        rules.append((negate, _pattern_regex(pattern), pattern))
    return rules


def in_context(path: str) -> bool:
    """Whether ``path`` (relative, posix) is sent to the builder: the last rule that matches
    the path or one of its parents decides, as in Docker's patternmatcher."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, regex, _ in ignore_rules():
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return not excluded


def context_files() -> list[str]:
    """Every file of the working tree that goes into the build context."""
    negated = [p for negate, _, p in ignore_rules() if negate]
    out = []
    for top in sorted(REPO.iterdir()):
        if not in_context(top.name) and not any(p.split("/")[0] == top.name for p in negated):
            continue  # excluded whole; nothing inside is re-included
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        out += [f.relative_to(REPO).as_posix() for f in files]
    return [f for f in out if in_context(f)]


def source_files(directory: str) -> list[str]:
    """The files of ``directory`` that are sources: git's, else all but caches."""
    out = subprocess.run(
        ["git", "ls-files", "--", directory], cwd=REPO, capture_output=True, text=True
    )
    if out.returncode == 0 and out.stdout.strip():
        return [f for f in out.stdout.split() if (REPO / f).is_file()]
    return [
        p.relative_to(REPO).as_posix()
        for p in (REPO / directory).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def copied_sources() -> list[str]:
    """The context paths the Dockerfile's COPY/ADD instructions take (not --from=stage)."""
    out = []
    for stage in dockerfile().stages:
        for value in stage.values("COPY") + stage.values("ADD"):
            words = shlex.split(value)
            if any(w.startswith("--from") for w in words):
                continue
            out += [w for w in words[:-1] if not w.startswith("--")]
    return out


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".dyad/store/cas/x",
        "demo-output/a/conversation.mp4",
        "bench/results/run.json",
        "tests/test_image.py",
        "services/motion/tests/test_core.py",
        "libs/dyad/__pycache__/cli.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/x.json",
        "build/lib/dyad/cli.py",
        "dist/dyad-0.1.0-py3-none-any.whl",
        "dyad.egg-info/PKG-INFO",
        "charts/dyad/values.yaml",
    ],
)
def test_the_context_leaves_out(path: str) -> None:
    assert not in_context(path), f"{path} would be sent to the builder"


def test_the_context_has_what_the_build_copies_and_nothing_else() -> None:
    for path in ("requirements.txt", "libs", "services", SERVE_CONFIG):
        assert in_context(path), f"{path} is left out of the build context"
    files = context_files()
    sources = copied_sources()
    assert {"requirements.txt", "libs", "services", SERVE_CONFIG} <= {
        s.rstrip("/") for s in sources
    }
    for source in sources:
        src = source.rstrip("/")
        if (REPO / src).is_dir():
            wanted = [f for f in source_files(src) if "tests" not in PurePosixPath(f).parts]
            assert wanted, f"{src} is empty"
            left_out = sorted(set(wanted) - set(files))
            assert not left_out, f"left out of the context: {left_out[:5]}"
        else:
            assert src in files, f"COPY {src}: not in the build context"
    for ckpt in (REPO / "services").glob("*/checkpoints/*/model.safetensors"):
        assert ckpt.relative_to(REPO).as_posix() in files
    extra = [
        f for f in files if not any(f == s or f.startswith(s.rstrip("/") + "/") for s in sources)
    ]
    assert not extra, f"in the context but never copied: {extra[:5]}"


# --- make image -------------------------------------------------------------------------------


def _make_env(fake_bin: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"IMAGE", "TAG", "FLAVOUR", "CONTAINER_ENGINE", "MAKEFLAGS", "MFLAGS"}
        and k != "MAKELEVEL"
    }
    if fake_bin is not None:
        env["PATH"] = f"{fake_bin}{os.pathsep}{env.get('PATH', '')}"
    return env


def _fake_engine(directory: Path, name: str, *, running: bool, log: Path) -> None:
    """A container CLI whose `info` fails when no daemon runs and whose `build` logs its args."""
    script = directory / name
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = info ]; then exit {0 if running else 1}; fi\n'
        f'printf "%s\\n" "{name}" "$@" > "{log}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def _version() -> str:
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


@needs_make
@pytest.mark.parametrize("flavour", ["cpu", "cuda"])
def test_make_n_image_shows_the_build(flavour: str) -> None:
    out = subprocess.run(
        ["make", "-n", "image", f"FLAVOUR={flavour}"],
        cwd=REPO,
        env=_make_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # The commands it would run, without the messages it would print.
    commands = "\n".join(line for line in out.stdout.splitlines() if "echo " not in line)
    assert "build -f deploy/docker/Dockerfile" in commands
    assert f"--build-arg FLAVOUR={flavour}" in commands
    assert f"-t dyad:{_version()}-{flavour} ." in commands
    assert "pip install" not in out.stdout and ".venv" not in out.stdout, "image must not set up"


@needs_make
@pytest.mark.parametrize(
    ("running", "used"),
    [({"docker": True, "podman": True}, "docker"), ({"docker": False, "podman": True}, "podman")],
)
def test_make_image_builds_with_docker_else_podman(
    tmp_path: Path, running: dict[str, bool], used: str
) -> None:
    log = tmp_path / "build.log"
    for name, up in running.items():
        _fake_engine(tmp_path, name, running=up, log=log)
    out = subprocess.run(
        ["make", "image", "IMAGE=reg/dyad", "TAG=t1"],
        cwd=REPO,
        env=_make_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    args = log.read_text().splitlines()
    assert args[:4] == [used, "build", "-f", "deploy/docker/Dockerfile"], args
    assert args[-3:] == ["-t", "reg/dyad:t1-cpu", "."], args
    assert "FLAVOUR=cpu" in args and f"VERSION={_version()}" in args


@needs_make
def test_make_image_without_a_usable_engine_says_so_and_exits_2(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    for name in ("docker", "podman"):  # clients present, no daemon
        _fake_engine(tmp_path, name, running=False, log=log)
    out = subprocess.run(
        ["make", "image"],
        cwd=REPO,
        env=_make_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    ours = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("image:")]
    assert len(ours) == 1 and "no usable container engine" in ours[0], out.stdout + out.stderr
    assert not log.exists(), "nothing may be built"
