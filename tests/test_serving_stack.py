"""``dyad serve``'s pieces that need no Ray: the dev token, the stack file the CLI and SDK find
the local stack by, the fitted config, and its refusals (the whole stack runs in
``test_dyad_serve.py``, slow tier)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import yaml

from dyad.services.gateway.tests.stack import RED, Stack
from dyad.serving.stack import GATEWAY_APP, dev_token, read_stack
from dyad.testing import run_cli


def test_the_dev_token_is_private_and_kept(tmp_path: Path) -> None:
    token = dev_token(tmp_path)
    assert len(token) >= 24 and (tmp_path / "tokens").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tokens").read_text() == f"local:{token}\n"
    assert dev_token(tmp_path) == token  # the same token across restarts of the stack


def test_submit_finds_the_local_stack_by_itself(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    """What `dyad serve` leaves in its directory is all `dyad submit` needs: no --endpoint,
    --token or DYAD_APPLICATION."""
    gateway = make_stack()
    (tmp_path / "tokens").write_text(f"red:{RED}\n")
    stack = {
        "endpoint": gateway.endpoint,
        "application": "",
        "token_file": str(tmp_path / "tokens"),
    }
    (tmp_path / "stack.json").write_text(json.dumps(stack))
    assert read_stack(tmp_path) == stack
    r = run_cli(
        "submit", "--prompt", "two friends plan a trip", env={"DYAD_SERVE_DIR": str(tmp_path)}
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "queued"
    none = run_cli("submit", "--prompt", "x", env={"DYAD_SERVE_DIR": str(tmp_path / "nothing")})
    assert none.returncode == 2 and "dyad serve" in none.stderr and none.stderr.count("\n") == 1


def test_dry_run_prints_the_config_fitted_to_the_cpus() -> None:
    r = run_cli("serve", "--dry-run", "--cpus", "2")
    assert r.returncode == 0, r.stderr
    config = yaml.safe_load(r.stdout)
    names = [a["name"] for a in config["applications"]]
    assert GATEWAY_APP in names and "renderer" in names
    deployments = [d for a in config["applications"] for d in a["deployments"]]
    assert sum(d["ray_actor_options"]["num_cpus"] for d in deployments) <= 2
    assert all("num_gpus" not in d["ray_actor_options"] for d in deployments)


def test_refusals_are_one_line(tmp_path: Path) -> None:
    for args, flag in ((["--grpc-port", "0"], "--grpc-port"), (["--workers", "-1"], "--workers")):
        r = run_cli("serve", *args, "--dir", str(tmp_path))
        assert r.returncode == 2 and r.stderr.startswith(f"dyad: {flag}"), r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        r = run_cli("serve", "--grpc-port", str(port), "--dir", str(tmp_path))
    assert r.returncode == 2 and "is taken" in r.stderr, r.stderr
    assert not (tmp_path / "stack.json").exists()
