"""The container image (``deploy/docker/``), checked without a container engine.

The Dockerfile is parsed (tests/dockerfile_model.py) and held to what the cluster needs: pinned
bases, a fixed non-root user, the same pins as ``make setup``, every writable path under the one
volume, the system tools, both flavours, and role commands that exist. The build context and
``make image`` are checked in tests/test_image_build.py.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path, PurePosixPath

import pytest

from dyad.testing import run_cli
from tests.dockerfile_model import DOCKERFILE, REPO, SERVE_CONFIG, dockerfile, substitute

IMAGE_README = REPO / "deploy" / "docker" / "README.md"
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
    cpu = substitute(branches["cpu"], builder.args())
    cuda = substitute(branches["cuda"], builder.args())
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
