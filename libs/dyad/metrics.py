"""Prometheus metrics helpers: base units, histograms for latency, one naming rule.

Names follow Prometheus practice (DESIGN.md §6): a ``dyad_`` namespace, snake_case, one base
unit as suffix (``_seconds``, ``_bytes``, ``_ratio``), counters ending in ``_total``. The helpers
refuse names that break the rule, so a dashboard never mixes milliseconds with seconds.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import start_http_server as _start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

NAMESPACE = "dyad"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
BASE_UNITS = ("seconds", "bytes", "ratio", "frames", "samples", "jobs", "calls", "info")
_BANNED_UNITS = (
    "_ms",
    "_milliseconds",
    "_us",
    "_minutes",
    "_hours",
    "_kb",
    "_mb",
    "_gb",
    "_percent",
)

#: Latency buckets from 5 ms to 10 min: covers an RPC and a whole render job.
LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
#: Size buckets from 1 KiB to 1 GiB, ×4 apart.
SIZE_BUCKETS_BYTES = tuple(float(1024 * 4**i) for i in range(11))


def check_name(name: str, *, counter: bool = False) -> None:
    """Raise ValueError when ``name`` breaks the naming rule."""
    if not _NAME.match(name) or not name.startswith(NAMESPACE + "_"):
        raise ValueError(f"metric {name!r}: snake_case with prefix {NAMESPACE}_ required")
    if any(name.endswith(b) or (b + "_") in name for b in _BANNED_UNITS):
        raise ValueError(f"metric {name!r}: use base units (seconds, bytes, ratio)")
    if counter and not name.endswith("_total"):
        raise ValueError(f"counter {name!r} must end in _total")
    if not counter and name.endswith("_total"):
        raise ValueError(f"{name!r}: only counters end in _total")


def counter(
    name: str, doc: str, labels: Sequence[str] = (), registry: CollectorRegistry = REGISTRY
) -> Counter:
    check_name(name, counter=True)
    # prometheus_client appends _total itself; give it the stem so the name is not doubled.
    return Counter(name.removesuffix("_total"), doc, list(labels), registry=registry)


def gauge(
    name: str, doc: str, labels: Sequence[str] = (), registry: CollectorRegistry = REGISTRY
) -> Gauge:
    check_name(name)
    return Gauge(name, doc, list(labels), registry=registry)


def histogram(
    name: str,
    doc: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] | None = None,
    registry: CollectorRegistry = REGISTRY,
) -> Histogram:
    """A histogram; ``_seconds`` and ``_bytes`` names get matching default buckets."""
    check_name(name)
    if buckets is None:
        if name.endswith("_seconds"):
            buckets = LATENCY_BUCKETS_S
        elif name.endswith("_bytes"):
            buckets = SIZE_BUCKETS_BYTES
        else:
            raise ValueError(f"histogram {name!r}: give buckets or use a _seconds/_bytes name")
    return Histogram(name, doc, list(labels), buckets=tuple(buckets), registry=registry)


@contextmanager
def timed(hist: Histogram, **labels: str) -> Iterator[None]:
    """Observe the wall time of the block in seconds (also when it raises)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        (hist.labels(**labels) if labels else hist).observe(time.perf_counter() - t0)


class RpcMetrics:
    """Per-RPC counters and latency, labelled by service, method and status code."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = counter(
            "dyad_rpc_requests_total",
            "RPCs handled, by final status code",
            ("service", "method", "code"),
            registry,
        )
        self.latency = histogram(
            "dyad_rpc_duration_seconds",
            "RPC handling time",
            ("service", "method"),
            registry=registry,
        )
        self.in_flight = gauge(
            "dyad_rpc_in_flight", "RPCs being handled now", ("service",), registry
        )

    def observe(self, service: str, method: str, code: str, seconds: float) -> None:
        self.requests.labels(service, method, code).inc()
        self.latency.labels(service, method).observe(seconds)


_rpc_metrics: dict[int, RpcMetrics] = {}


def rpc_metrics(registry: CollectorRegistry = REGISTRY) -> RpcMetrics:
    """The process's RpcMetrics for ``registry`` (created once; metrics register once)."""
    key = id(registry)
    if key not in _rpc_metrics:
        _rpc_metrics[key] = RpcMetrics(registry)
    return _rpc_metrics[key]


#: GPU memory gauges: name → (help, what ``torch.cuda`` reports for one device).
GPU_MEMORY_GAUGES = {
    "dyad_gpu_memory_allocated_bytes": "GPU memory held by this process's tensors",
    "dyad_gpu_memory_reserved_bytes": "GPU memory held by this process's caching allocator",
    "dyad_gpu_memory_total_bytes": "GPU memory of the device",
}


def gpu_memory_families(torch: Any = None) -> list[GaugeMetricFamily]:
    """The GPU memory gauges, one sample per device of ``torch`` (none without it)."""
    families = {
        name: GaugeMetricFamily(name, doc, labels=["device"])
        for name, doc in GPU_MEMORY_GAUGES.items()
    }
    for i in range(torch.cuda.device_count() if torch is not None else 0):
        device = str(i)
        families["dyad_gpu_memory_allocated_bytes"].add_metric(
            [device], float(torch.cuda.memory_allocated(i))
        )
        families["dyad_gpu_memory_reserved_bytes"].add_metric(
            [device], float(torch.cuda.memory_reserved(i))
        )
        families["dyad_gpu_memory_total_bytes"].add_metric(
            [device], float(torch.cuda.get_device_properties(i).total_memory)
        )
    return list(families.values())


class GpuMemoryCollector(Collector):
    """GPU memory per device, read at scrape time — only in a process that imported torch and
    initialised CUDA (a scrape never imports torch nor creates a CUDA context); without CUDA
    it exports nothing and raises nothing."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from gpu_memory_families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        torch = sys.modules.get("torch")
        try:
            if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
                return
            yield from gpu_memory_families(torch)
        except Exception:  # a driver hiccup must not break the scrape of everything else
            return


_process_collectors: set[int] = set()
_process_lock = threading.Lock()


def register_process_collectors(registry: CollectorRegistry = REGISTRY) -> None:
    """Add what every process exporting ``/metrics`` reports about itself (GPU memory) to
    ``registry``, once."""
    with _process_lock:
        if id(registry) not in _process_collectors:
            registry.register(GpuMemoryCollector())
            _process_collectors.add(id(registry))


def start_metrics_server(port: int, host: str = "127.0.0.1") -> int:
    """Serve ``/metrics`` on ``host:port`` (0 picks a free port); returns the bound port.

    The process collectors (``register_process_collectors``) are registered first."""
    register_process_collectors()
    server, _thread = _start_http_server(port, addr=host)
    return int(server.server_port)
