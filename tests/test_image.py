"""The container image (``deploy/docker/``), checked without a container engine.

The Dockerfile is parsed (dockerfile-parse) and held to what the cluster needs: pinned bases,
a fixed non-root user, the same pins as ``make setup``, every writable path under the one
volume, the system tools, both flavours, and role commands that exist. The build context
(``.dockerignore``) is evaluated with Docker's matching rules, and ``make image`` is run
against stand-in engines.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path, PurePosixPath

import pytest
from dockerfile_parse import DockerfileParser

from dyad.testing import run_cli

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
IMAGE_README = REPO / "deploy" / "docker" / "README.md"
SERVE_CONFIG = "deploy/ray/serve_config.yaml"
ROLE_LABEL = "io.dyad.role."

#: Env vars that name a place something writes; each must lie under the declared VOLUME.
WRITABLE_ENV = (
    "HOME",
    "TMPDIR",
    "RAY_TMPDIR",
    "XDG_CACHE_HOME",
    "NUMBA_CACHE_DIR",
    "TORCH_HOME",
    "TORCH_EXTENSIONS_DIR",
    "HF_HOME",
    "MPLCONFIGDIR",
    "DYAD_SERVE_DIR",
)
#: ... and these must be the volume itself: a fresh empty mount has no subdirectories.
VOLUME_ROOT_ENV = ("HOME", "TMPDIR")
FIXED_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
#: System packages of the runtime stage, and why.
RUNTIME_PACKAGES = {
    "ffmpeg": "ffprobe",
    "espeak-ng": "speech synthesis",
    "redis-server": "the local stack of `dyad serve`",
    "wget": "KubeRay's injected Ray probes (`wget … | grep success`)",
}
COMPILERS = {"gcc", "g++", "clang", "build-essential", "make", "cmake", "cpp", "gfortran"}


# --- the Dockerfile -------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    image: str
    instructions: list[dict[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [i["value"] for i in self.instructions if i["instruction"] == instruction]

    def args(self) -> dict[str, str]:
        return _arg_defaults(self.values("ARG"))

    def run_containing(self, text: str) -> str:
        runs = [v for v in self.values("RUN") if text in v]
        assert runs, f"stage {self.name}: no RUN contains {text!r}"
        return runs[0]


def _arg_defaults(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, _, default = value.partition("=")
        out[name.strip()] = default.strip().strip('"')
    return out


def _substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m[1] or m[2], ""), text)


@dataclass
class Dockerfile:
    parser: DockerfileParser
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


@cache
def dockerfile() -> Dockerfile:
    parser = DockerfileParser(path=str(DOCKERFILE))
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            words = [w for w in ins["value"].split() if not w.startswith("--")]
            image = _substitute(words[0], global_args)
            name = words[2] if len(words) == 3 and words[1].lower() == "as" else str(len(stages))
            stages.append(Stage(name, image))
        elif stages:
            stages[-1].instructions.append(ins)
        elif ins["instruction"] == "ARG":
            global_args.update(_arg_defaults([ins["value"]]))
    assert stages, f"{DOCKERFILE}: no FROM"
    return Dockerfile(parser, global_args, stages)


def final_env() -> dict[str, str]:
    return dict(dockerfile().parser.envs)


def volumes() -> list[str]:
    out: list[str] = []
    for value in dockerfile().final.values("VOLUME"):
        out += json.loads(value) if value.lstrip().startswith("[") else value.split()
    return out


def apt_packages(run: str) -> set[str]:
    words = shlex.split(run.replace(";", " ; "))
    start = words.index("install") + 1
    packages = set()
    for word in words[start:]:
        if word in {"&&", "||", ";", "|"}:
            break
        if not word.startswith("-"):
            packages.add(word)
    return packages


def requirement_pin(name: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}==(\S+)", line.strip())
        if m:
            return m[1]
    raise AssertionError(f"requirements.txt pins no {name}")


def test_every_base_image_is_pinned_to_an_exact_version() -> None:
    df = dockerfile()
    names = set()
    for stage in df.stages:
        if stage.image in names:  # FROM an earlier stage
            continue
        names.add(stage.name)
        image = stage.image
        assert image, f"stage {stage.name}: FROM resolves to nothing (an ARG without default?)"
        name, _, digest = image.partition("@")
        _repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "")
        assert tag and tag != "latest", f"stage {stage.name}: {image} has no exact tag"
        # An exact version: major.minor.patch, not a floating `3.11` or `3`.
        assert re.search(r"(^|[^\d.])\d+\.\d+\.\d+([^\d.]|$)", tag), (
            f"stage {stage.name}: {image}: tag {tag!r} is not an exact version"
        )
        if not digest:
            comments = [line for line in DOCKERFILE.read_text().splitlines() if line[:1] == "#"]
            assert any("digest" in line for line in comments), (
                "a base without a digest needs the comment saying why and how to pin one"
            )


def test_the_final_stage_runs_as_a_fixed_non_root_user() -> None:
    stage = dockerfile().final
    users = stage.values("USER")
    assert users, "the final stage sets no USER (it would run as root)"
    user = users[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {user}: not a numeric non-root UID"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"USER {user}: not a numeric GID"
    # The UID exists in the image (useradd), so tools that look the user up find a name.
    assert any(f"--uid {uid}" in run for run in stage.values("RUN")), f"no user with UID {uid}"


def test_it_installs_the_requirements_make_setup_installs_and_one_torch() -> None:
    makefile = (REPO / "Makefile").read_text()
    make_files = set(re.findall(r"pip install[^\n]*?-r (\S+)", makefile))
    make_files |= set(re.findall(r"-r (requirements[\w.-]*\.txt)", makefile))
    builder = dockerfile().stage("builder")
    run = builder.run_containing("-r requirements.txt")
    docker_files = set(re.findall(r"-r ([^\s;&|]+)", run))
    assert docker_files == {"requirements.txt"} and docker_files <= make_files, (
        f"image installs {docker_files}, make setup installs {make_files}"
    )
    assert any(v.split()[0] == "requirements.txt" for v in builder.values("COPY")), (
        "requirements.txt is not copied from the repository root"
    )
    # One torch version everywhere: requirements.txt, the build arg, the install commands.
    pin = requirement_pin("torch")
    args = builder.args()
    assert args.get("TORCH_VERSION") == pin, f"TORCH_VERSION={args.get('TORCH_VERSION')}, pin {pin}"
    assert 'grep -qx "torch==${TORCH_VERSION}" requirements.txt' in run
    literal = set(re.findall(r"torch==([\w.+]+)", DOCKERFILE.read_text())) - {"${TORCH_VERSION}"}
    assert literal <= {pin}, f"torch versions written in the Dockerfile: {literal}"
    # torch first and alone; then requirements.txt from PyPI (no other index for it).
    torch_at, reqs_at = run.index('"torch==${TORCH_VERSION}"'), run.index("-r requirements.txt")
    assert torch_at < reqs_at, "torch must be installed before -r requirements.txt"
    reqs_command = run[run.rindex(";", 0, reqs_at) : run.index(";", reqs_at)]
    assert "index-url" not in reqs_command and "find-links" not in reqs_command
    assert "pip install --no-deps ." in " ".join(builder.values("RUN"))


def test_flavour_is_a_build_arg_and_each_flavour_gets_its_torch() -> None:
    df = dockerfile()
    assert df.global_args.get("FLAVOUR") == "cpu", "ARG FLAVOUR=cpu before the first FROM"
    builder = df.stage("builder")
    assert "FLAVOUR" in builder.args(), "the builder stage must declare ARG FLAVOUR to see it"
    run = builder.run_containing('case "${FLAVOUR}"')
    case = run[run.index('case "${FLAVOUR}"') : run.index("esac")]
    branches = dict(re.findall(r"(\*|\w+)\)\s*(.*?);;", case))
    assert set(branches) == {"cpu", "cuda", "*"}, f"FLAVOUR branches: {sorted(branches)}"
    assert "exit" in branches["*"], "an unknown FLAVOUR must fail the build"
    cpu = _substitute(branches["cpu"], builder.args())
    cuda = _substitute(branches["cuda"], builder.args())
    pin = requirement_pin("torch")
    assert "--index-url https://download.pytorch.org/whl/cpu" in cpu.replace('"', "")
    assert "--no-deps" in cpu, "only torch may come from PyTorch's index"
    assert f"torch=={pin}" in cpu and f"torch=={pin}" in cuda
    assert "index-url" not in cuda, "the CUDA build comes from PyPI"


def test_every_writable_location_is_under_the_declared_volume() -> None:
    declared = volumes()
    assert len(declared) == 1, f"one writable VOLUME, got {declared}"
    volume = PurePosixPath(declared[0])
    env = final_env()
    for name in WRITABLE_ENV:
        assert name in env, f"{name} is not set in the final stage"
        path = PurePosixPath(env[name])
        assert path == volume or volume in path.parents, f"{name}={path} is not under {volume}"
    for name in VOLUME_ROOT_ENV:
        assert PurePosixPath(env[name]) == volume, f"{name} must be {volume} itself"
    store = env.get("DYAD_STORE_URI", "")
    assert store.startswith("file://") and volume in PurePosixPath(store[7:]).parents
    for name, value in FIXED_ENV.items():
        assert env.get(name) == value, f"{name}={env.get(name)!r}, expected {value!r}"


def test_the_runtime_stage_has_the_system_tools_and_no_compilers() -> None:
    stage = dockerfile().final
    packages = apt_packages(stage.run_containing("apt-get install"))
    missing = sorted(set(RUNTIME_PACKAGES) - packages)
    assert not missing, f"runtime stage lacks {missing}: " + str(
        {p: RUNTIME_PACKAGES[p] for p in missing}
    )
    assert not packages & COMPILERS, f"compilers in the runtime stage: {packages & COMPILERS}"
    assert "--no-install-recommends" in stage.run_containing("apt-get install")
    # The entrypoint's binary comes from one of those packages.
    entrypoint = json.loads(stage.values("ENTRYPOINT")[-1])
    assert PurePosixPath(entrypoint[0]).name in packages | {"dyad", "python"}


def test_ray_pods_and_dyad_serve_find_the_venv_and_the_serve_config() -> None:
    stage = dockerfile().final
    env = final_env()
    venv = env.get("VIRTUAL_ENV", "")
    assert venv and env["PATH"].startswith(f"{venv}/bin:"), "the venv's bin must lead PATH"
    assert any(v.split()[-1] == venv for v in stage.values("COPY") if "--from=builder" in v)
    # KubeRay runs `bash -lc "… ray start …"`; Debian's /etc/profile resets PATH.
    profile = stage.run_containing("/etc/profile.d/")
    assert f'PATH="{venv}/bin:$PATH"' in profile
    # `dyad serve` reads deploy/ray/serve_config.yaml from the working directory.
    workdir = PurePosixPath(stage.values("WORKDIR")[-1])
    copies = [v.split() for v in stage.values("COPY") if v.split()[0] == SERVE_CONFIG]
    assert copies, f"{SERVE_CONFIG} is not copied into the image"
    assert PurePosixPath(copies[0][-1]) == workdir / SERVE_CONFIG
    assert env.get("DYAD_SERVE_CONFIG") == str(workdir / SERVE_CONFIG)
    assert env.get("DYAD_GRPC_HOST") == "0.0.0.0", "servers must listen beyond the container"


def test_the_build_fails_without_the_bundled_checkpoints() -> None:
    """They install with the package (tests/test_packaging.py); the build checks they landed."""
    checkpoints = sorted(p.parent.name for p in (REPO / "services").glob("*/checkpoints"))
    assert checkpoints, "no services/*/checkpoints to check"
    run = dockerfile().stage("builder").run_containing("pip install --no-deps .")
    assert "model.safetensors" in run, "the build must fail when a bundled model is missing"
    assert "BUNDLED" in run


# --- the roles --------------------------------------------------------------------------------


def role_commands() -> dict[str, str]:
    labels = dockerfile().parser.labels
    return {k[len(ROLE_LABEL) :]: v for k, v in labels.items() if k.startswith(ROLE_LABEL)}


def test_the_image_documents_every_role() -> None:
    roles = role_commands()
    assert {"gateway", "worker", "ray", "serve"} <= set(roles), f"role labels: {sorted(roles)}"
    readme = IMAGE_README.read_text()
    for role, command in roles.items():
        assert command in readme, f"{IMAGE_README.name} does not show the {role} role: {command}"


@pytest.mark.parametrize("role", sorted(role_commands()))
def test_each_role_command_exists(role: str) -> None:
    words = role_commands()[role].split()
    if words[:2] == ["python", "-m"]:
        import_module(f"{words[2]}.__main__")  # `python -m X` runs X.__main__
    elif words[0] == "dyad":
        result = run_cli(*words[1:], "--help")
        assert result.returncode == 0, result.stderr
    elif words[0] == "ray":
        eps = entry_points(group="console_scripts", name="ray")
        assert eps, "ray installs no `ray` command"
        assert (Path(sys.executable).parent / "ray").is_file(), "no `ray` beside the venv python"
    else:
        pytest.fail(f"role {role}: no check for {words[0]!r}")


@pytest.mark.parametrize("command", [["worker"], ["serve"], []])
def test_dyad_commands_the_image_runs_answer_help(command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.returncode == 0, result.stderr


def test_the_standalone_servers_import() -> None:
    for module in ("dyad.services.gateway.__main__", "dyad.services.worker.__main__"):
        import_module(module)
    cmd = json.loads(dockerfile().final.values("CMD")[-1])
    assert cmd[0] == "dyad" and run_cli(*cmd[1:]).returncode == 0


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
