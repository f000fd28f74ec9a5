"""Shared by the benchmarks: timing, machine description, result files."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def median_s(fn: Callable[[], Any], repeat: int, *, warmup: bool = True) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs (after one untimed run)."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def write_result(name: str, result: dict[str, Any]) -> Path:
    """``bench/results/<name>-<hostname>.json`` with the machine and the time."""
    m = machine()
    body = {"machine": m, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **result}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{m['hostname']}.json"
    path.write_text(json.dumps(body, indent=2) + "\n")
    return path


def write_result_and_markdown(name: str, result: dict[str, Any], markdown: str) -> Path:
    """``write_result`` plus the same run as ``<name>-<hostname>.md`` beside it (printed too)."""
    print(markdown)
    path = write_result(name, result)
    path.with_suffix(".md").write_text(markdown)
    print(f"wrote {path} and .md", file=sys.stderr)
    return path
