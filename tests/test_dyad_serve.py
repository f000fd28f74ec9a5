"""``dyad serve`` end to end, as the README tells a new user: one command starts the whole
served system (Redis, the store — here moto's S3 —, Ray Serve with every application fitted to
this machine, a batch worker), then ``dyad submit --prompt … --wait --download out/`` in
another process finds the endpoint, the application and the token by itself, the video plays
(ffprobe), Ray Serve's own metrics show the stage deployments' requests, another team cannot
read the job, and SIGTERM leaves no process behind. Slow (the models load in six replicas on
two cores, then a conversation is made): ``make test-slow``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from dyad import errors
from dyad.client import DyadClient
from dyad.media import probe_video
from dyad.testing import S3Server, free_port, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), the way the stack's children hang."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_serve_then_submit_verbatim(tmp_path: Path) -> None:
    with S3Server() as s3:
        serve_dir, port = tmp_path / "serve", free_port()
        env = {
            **os.environ,
            "DYAD_SERVE_DIR": str(serve_dir),
            "DYAD_STORE_URI": f"s3://serve-{uuid.uuid4().hex[:8]}/dyad",
            "DYAD_S3_ENDPOINT": s3.endpoint,
            "DYAD_S3_ACCESS_KEY": s3.access_key,
            "DYAD_S3_SECRET_KEY": s3.secret_key,
            "DYAD_LOG_LEVEL": "WARNING",
        }
        out = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 (closed below)
        cmd = [sys.executable, "-m", "dyad.cli", "serve", "--workers", "1"]
        proc = subprocess.Popen([*cmd, "--grpc-port", str(port)], env=env, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 240
            while not (serve_dir / "stack.json").exists():
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "not serving after 240 s"
                time.sleep(1)
            assert oct((serve_dir / "tokens").stat().st_mode & 0o777) == "0o600"
            stack = json.loads((serve_dir / "stack.json").read_text())
            children = descendants(proc.pid)
            # The README's command, verbatim but smaller, in another process's shoes.
            dl = tmp_path / "out"
            r = run_cli(
                *("submit", "--prompt", "Two colleagues plan a product launch", "--wait"),
                *("--download", str(dl), "--turns", "5", "--head-px", "64"),
                *("--refine-steps", "2", "--seed", "1", "--quiet", "--watch-timeout", "900"),
                env={"DYAD_SERVE_DIR": str(serve_dir)},
            )
            assert r.returncode == 0, r.stderr + (tmp_path / "serve.log").read_text()[-3000:]
            job = json.loads(r.stdout)
            assert job["status"] == "succeeded"
            info = probe_video(dl / "video.mp4")
            assert info["video"] is not None and info["audio"] is not None
            assert (info["video"]["codec"], info["video"]["fps"]) == ("h264", 25)
            assert (info["video"]["width"], info["video"]["height"]) == (128, 64)
            manifest = json.loads(next(dl.glob("*/manifest.json")).read_text())
            assert set(manifest["stages"].values()) == {"served"}
            # Ray exports its counters every few seconds: the last stage may take a moment.
            served: set[str] = set()
            for _ in range(60):
                with urllib.request.urlopen(stack["metrics"]["ray"], timeout=10) as resp:
                    text = resp.read().decode()
                served = {
                    line.split('deployment="')[1].split('"')[0]
                    for line in text.splitlines()
                    if line.startswith("ray_serve_deployment_request_counter_total{")
                }
                if {"Motion", "Refiner", "Renderer"} <= served:
                    break
                time.sleep(1)
            assert {"Motion", "Refiner", "Renderer"} <= served, served
            other = DyadClient(stack["endpoint"], "not-the-token-0123456789", application="gateway")
            with pytest.raises(errors.Unauthenticated):
                other.get(job["job_id"])
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                assert proc.wait(timeout=120) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                out.close()
        time.sleep(1)
        left = {p for p in children if alive(p)}
        assert not left, [Path(f"/proc/{p}/cmdline").read_text() for p in left]
        assert not (serve_dir / "stack.json").exists()
