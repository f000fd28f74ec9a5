"""Prometheus' own binaries for tests: ``promtool`` and a real ``prometheus`` server.

``make setup`` unpacks Debian's ``prometheus`` package into ``.venv/opt/prometheus`` (no system
service); a ``promtool``/``prometheus`` on PATH works too. Tests skip, naming ``make setup``,
only when neither is there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
import yaml

from dyad.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yaml"))
_UNPACKED = Path("opt") / "prometheus" / "usr" / "bin"


def find_binary(name: str) -> Path | None:
    """``name`` from the venv's unpacked package (this interpreter's, or the checkout's), else
    from PATH."""
    for venv in (Path(sys.prefix), ROOT / ".venv"):
        candidate = venv / _UNPACKED / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def require_binary(name: str) -> Path:
    path = find_binary(name)
    if path is None:
        # `make setup` installs it everywhere `make test` runs: missing is a broken setup, and
        # a skip would let CI pass without checking a single alert or dashboard.
        pytest.fail(
            f"{name} not found in .venv/opt/prometheus or on PATH: run `make setup` "
            "(it unpacks Debian's prometheus package into the venv)"
        )
    return path


class PrometheusServer:
    """``prometheus`` on a free loopback port scraping ``targets`` (job → ``host:port``s) every
    ``interval_s``, with ``rule_files`` loaded and itself as job ``prometheus``. Stopped (no
    process left) on exit."""

    def __init__(
        self,
        binary: Path,
        targets: dict[str, list[str]],
        *,
        rule_files: Sequence[Path] = (),
        interval_s: float = 1.0,
    ) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dyad-prometheus-"))
        every = f"{int(interval_s * 1000)}ms"
        jobs = {"prometheus": [f"127.0.0.1:{self.port}"], **targets}
        config = {
            "global": {"scrape_interval": every, "evaluation_interval": every},
            "rule_files": [str(p) for p in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addrs}]}
                for job, addrs in jobs.items()
            ],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self.log = open(self.dir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                f"--config.file={self.dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError(f"prometheus exited during start-up: {self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise TimeoutError("prometheus was not ready within 30 s")

    def __exit__(
        self,
        *exc: type[BaseException] | BaseException | TracebackType | None,
    ) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        return (self.dir / "prometheus.log").read_text(errors="replace")[-2000:]

    def api(self, path: str, **params: str) -> Any:
        """``/api/v1/<path>``'s ``data`` (raises on an error status)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise RuntimeError(f"{path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (or scalar as a one-element list)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])
