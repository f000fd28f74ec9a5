"""The metric catalogue: every metric Dyad exports, defined once, with where it is exported.

The code takes its metrics from here (``worker_metrics()``, ``stage_metrics()``,
``render_metrics()``), the RPC, queue and GPU metrics from ``dyad.metrics`` and ``dyad.queue``;
``catalogue()`` runs every definition into a fresh registry — what the dashboards and alert
rules are checked against (``tests/test_observability.py``). Names follow ``dyad.metrics``'
rule (``dyad_`` prefix, base units, counters end ``_total``).

Stage timings (``dyad_stage_duration_seconds{stage, mode}``) count cache hits too, labelled
``mode="cached"`` (the time to read the cached result): the stage rate stays the job rate and
the hit ratio is one query; latency panels and alerts select ``mode!="cached"``.

Ray Serve replicas export through Ray's metrics agent, not through a ``/metrics`` of their
own: what a replica records with ``ray.serve.metrics`` is exported as ``ray_<name>`` with
``application``, ``deployment`` and ``replica`` labels added (``RAY_EXPORTED``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

from dyad.metrics import REGISTRY, RpcMetrics, counter, gauge, gpu_memory_families, histogram
from dyad.queue.metrics import queue_metric_families

M = TypeVar("M")
#: The ``backend`` label of a stage whose model the job does not choose.
DEFAULT_BACKEND = "default"
_lock = threading.Lock()
_made: dict[tuple[str, int], Any] = {}


def _once(kind: str, make: Callable[[CollectorRegistry], M], registry: CollectorRegistry) -> M:
    """One instance of ``make`` per registry and process (metrics register once)."""
    with _lock:
        key = (kind, id(registry))
        if key not in _made:
            _made[key] = make(registry)
        return _made[key]


class WorkerMetrics:
    """The batch worker's (``dyad worker``, ``dyad.services.worker.worker``)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.jobs: Counter = counter(
            "dyad_worker_jobs_total",
            "job deliveries by how they ended",
            ("outcome",),
            registry,
        )
        self.duration: Histogram = histogram(
            "dyad_worker_job_duration_seconds",
            "time a worker spent on one delivery",
            registry=registry,
        )
        self.age_at_claim: Histogram = histogram(
            "dyad_worker_job_age_at_claim_seconds",
            "job age when a worker claimed it (now - created; retries count from creation)",
            ("priority",),
            registry=registry,
        )
        self.end_to_end: Histogram = histogram(
            "dyad_worker_job_end_to_end_seconds",
            "created to finished, for jobs a worker finished (succeeded, failed, cancelled)",
            ("outcome",),
            registry=registry,
        )
        # A worker's slots count under each job kind it takes (DYAD_WORKER_JOB_KINDS): per
        # kind, they are the capacity for that kind's queue; a sum over kinds counts a
        # multi-kind worker's slots once per kind (total slots: ``max by (instance)`` first).
        self.slots: Gauge = gauge(
            "dyad_worker_slots",
            "job slots of the workers running in this process, under each job kind they take",
            ("kind",),
            registry,
        )
        self.busy_slots: Gauge = gauge(
            "dyad_worker_busy_slots",
            "job slots running a job now (of any kind), under each job kind the worker takes",
            ("kind",),
            registry,
        )


class StageMetrics:
    """The pipeline's (the orchestrator, in the process running it: a worker, ``dyad generate``)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.duration: Histogram = histogram(
            "dyad_stage_duration_seconds",
            "pipeline stage time by stage, backend and where it ran (embedded, served, cached)",
            ("stage", "backend", "mode"),
            registry=registry,
        )
        self.retries: Counter = counter(
            "dyad_stage_call_retries_total",
            "served stage calls retried after UNAVAILABLE or RESOURCE_EXHAUSTED",
            ("service", "code"),
            registry,
        )

    def prepare_retries(self, services: Sequence[str]) -> None:
        """Export every retry series at 0 once stages are served, for the same reason."""
        for service in services:
            for code in ("UNAVAILABLE", "RESOURCE_EXHAUSTED"):
                self.retries.labels(service, code)

    def prepare(self, backends: Mapping[str, Sequence[str]], mode: str) -> None:
        """Export every stage (with each of its ``backends``) at 0 from the start, so a first
        run is a rate, not a new series."""
        for stage, names in backends.items():
            for backend in names:
                for m in (mode, "cached"):
                    self.duration.labels(stage, backend, m)


class RenderMetrics:
    """The renderer's (its core: in a worker for embedded stages, a standalone renderer)."""

    FRAMES = "dyad_render_frames_total"
    FRAMES_DOC = "conversation frames rendered (25 per second of conversation)"

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.frames: Counter = counter(self.FRAMES, self.FRAMES_DOC, ("backend",), registry)


def worker_metrics(registry: CollectorRegistry = REGISTRY) -> WorkerMetrics:
    return _once("worker", WorkerMetrics, registry)


def stage_metrics(registry: CollectorRegistry = REGISTRY) -> StageMetrics:
    return _once("stage", StageMetrics, registry)


def render_metrics(registry: CollectorRegistry = REGISTRY) -> RenderMetrics:
    return _once("render", RenderMetrics, registry)


def observe_stage(stage: str, mode: str, seconds: float, backend: str = DEFAULT_BACKEND) -> None:
    """One stage's time; ``mode`` is embedded, served or cached; ``backend`` the model the job
    chose for the stage (motion: procedural or neural), ``default`` where the service's own
    setting decides (the renderer's rasteriser is on ``dyad_render_frames_total``)."""
    stage_metrics().duration.labels(stage, backend, mode).observe(seconds)


def prepare_stages(backends: Mapping[str, Sequence[str]], mode: str) -> None:
    """``StageMetrics.prepare`` on the process's registry."""
    stage_metrics().prepare(backends, mode)


_QUEUE_EXPORTERS = "workers and standalone gateways (QueueCollector; read from Redis at scrape)"
#: Where each metric is exported (the ``/metrics`` of which process).
WHERE = {
    "dyad_rpc_requests_total": "standalone gRPC servers (DYAD_METRICS_PORT)",
    "dyad_rpc_duration_seconds": "standalone gRPC servers (DYAD_METRICS_PORT)",
    "dyad_rpc_in_flight": "standalone gRPC servers (DYAD_METRICS_PORT)",
    "dyad_queue_lag_jobs": _QUEUE_EXPORTERS,
    "dyad_queue_pending_jobs": _QUEUE_EXPORTERS,
    "dyad_queue_delayed_jobs": _QUEUE_EXPORTERS,
    "dyad_queue_dead_letter_jobs": _QUEUE_EXPORTERS,
    "dyad_worker_jobs_total": "workers",
    "dyad_worker_job_duration_seconds": "workers",
    "dyad_worker_job_age_at_claim_seconds": "workers",
    "dyad_worker_job_end_to_end_seconds": "workers",
    "dyad_worker_slots": "workers",
    "dyad_worker_busy_slots": "workers",
    "dyad_stage_duration_seconds": "workers (and any process running the orchestrator)",
    "dyad_stage_call_retries_total": "workers with served stages",
    "dyad_render_frames_total": (
        "workers with embedded stages, standalone renderers; Ray Serve renderer replicas "
        "as ray_dyad_render_frames_total (Ray's metrics port)"
    ),
    "dyad_gpu_memory_allocated_bytes": "every /metrics process with CUDA initialised",
    "dyad_gpu_memory_reserved_bytes": "every /metrics process with CUDA initialised",
    "dyad_gpu_memory_total_bytes": "every /metrics process with CUDA initialised",
}

#: Ours, recorded in Ray Serve replicas through ``ray.serve.metrics``: Ray exports ``ray_<name>``.
RAY_EXPORTED = (RenderMetrics.FRAMES,)

#: Ray Serve's built-in metrics the dashboards and alerts may use (Ray 2.60 exports them on its
#: metrics port; latencies in milliseconds, histograms where the name ends ``_ms``), and
#: Prometheus' own ``up``.
RAY_SERVE = (
    "ray_serve_deployment_replica_healthy",
    "ray_serve_autoscaling_target_replicas",
    "ray_serve_deployment_processing_latency_ms",
    "ray_serve_num_grpc_requests_total",
    "ray_serve_grpc_request_latency_ms",
    "ray_serve_replica_processing_queries",
    "ray_serve_deployment_queued_queries",
)
PROMETHEUS = ("up",)


@dataclass(frozen=True)
class MetricInfo:
    name: str  # as exported: a counter's with ``_total``
    type: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    help: str

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names PromQL may use (a histogram's ``_bucket``, ``_sum``, ``_count``)."""
        if self.type == "histogram":
            return tuple(self.name + s for s in ("_bucket", "_sum", "_count"))
        return (self.name,)

    @property
    def where(self) -> str:
        return WHERE.get(self.name, "")


def _info(family: Metric, labels: Sequence[str]) -> MetricInfo:
    name = family.name + "_total" if family.type == "counter" else family.name
    return MetricInfo(name, family.type, tuple(labels), family.documentation)


def catalogue() -> list[MetricInfo]:
    """Every Dyad metric, from the code's own definitions run into a fresh registry."""
    registry = CollectorRegistry()
    owners: list[Any] = [
        RpcMetrics(registry),
        WorkerMetrics(registry),
        StageMetrics(registry),
        RenderMetrics(registry),
    ]
    out = []
    for owner in owners:
        for metric in vars(owner).values():
            if isinstance(metric, MetricWrapperBase):
                (family,) = metric.describe()
                out.append(_info(family, metric._labelnames))
    for f in [*queue_metric_families(), *gpu_memory_families()]:
        out.append(_info(f, getattr(f, "_labelnames", ())))
    return sorted(out, key=lambda m: m.name)


def exported_names() -> set[str]:
    """Every series name a PromQL expression may use: ours (also as Ray exports them),
    Ray Serve's allow-listed built-ins, and ``up``."""
    ours = {series for m in catalogue() for series in m.series}
    via_ray = {"ray_" + n for n in RAY_EXPORTED}
    ray: set[str] = set()
    for name in RAY_SERVE:
        ray |= {name + s for s in ("_bucket", "_sum", "_count")} if name.endswith("_ms") else {name}
    return ours | via_ray | ray | set(PROMETHEUS)
