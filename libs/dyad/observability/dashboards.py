"""The Grafana dashboards, as code: what each panel shows and its PromQL. ``grafana`` turns
them into ``deploy/grafana/*.json`` (``python -m dyad.observability.grafana``).

Conventions the queries follow: queue gauges are read from Redis by every exporter, so they
aggregate with ``max`` (by ``kind``: each job kind has its own queue); a worker's slots count
under each kind it takes, so slot panels sum per kind, never over kinds; Ray's latencies are
milliseconds, shown in seconds (``/ 1000``); frames rendered in Ray Serve replicas arrive as
``ray_dyad_render_frames_total``; a panel's ``needs`` names what must run for its queries to
return data (``cuda``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RATE = "$__rate_interval"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    #: What must exist for the queries to return data (``cuda``: a process with a GPU).
    needs: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]

    @property
    def filename(self) -> str:
        return f"{self.uid}.json"


def _q(expr: str, legend: str = "") -> Query:
    return Query(" ".join(expr.split()), legend)


def quantile(q: float, metric: str, by: str, where: str = "", scale: str = "") -> str:
    """``histogram_quantile`` of ``metric``'s buckets over ``RATE``, grouped ``by``."""
    sel = f"{metric}_bucket{{{where}}}" if where else f"{metric}_bucket"
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({group}) (rate({sel}[{RATE}]))){scale}"


def ratio_or_zero(part: str, whole: str, by: str) -> str:
    """``part / whole`` by ``by``, 0 (not empty) where ``part`` has no series yet."""
    return f"(sum by ({by}) ({part}) or sum by ({by}) ({whole}) * 0) / sum by ({by}) ({whole})"


FRAMES = f"rate(dyad_render_frames_total[{RATE}]) or rate(ray_dyad_render_frames_total[{RATE}])"

JOBS = Dashboard(
    "dyad-jobs",
    "Dyad / Jobs",
    "The job queue and the batch workers: depth, outcomes, durations, capacity.",
    (
        Panel(
            "Queue lag by kind and priority",
            "Jobs enqueued and not yet delivered to a worker (what KEDA scales workers on), per "
            "job kind (each has its own queue and workers: generate, fit_avatar) and priority.",
            (_q("max by (kind, priority) (dyad_queue_lag_jobs)", "{{kind}} {{priority}}"),),
        ),
        Panel(
            "Jobs in flight by kind and priority",
            "Delivered and not yet acked: running, or held by a worker that died (until the "
            "visibility timeout hands them to another).",
            (_q("max by (kind, priority) (dyad_queue_pending_jobs)", "{{kind}} {{priority}}"),),
        ),
        Panel(
            "Retries waiting and dead letters by kind",
            "Retries waiting out their backoff; entries in the dead-letter stream; per job kind.",
            (
                _q("max by (kind) (dyad_queue_delayed_jobs)", "{{kind}} waiting retries"),
                _q("max by (kind) (dyad_queue_dead_letter_jobs)", "{{kind}} dead letters"),
            ),
        ),
        Panel(
            "Job deliveries by outcome",
            "Deliveries per second by how they ended (succeeded, retrying, failed, cancelled, "
            "released, lost).",
            (_q(f"sum by (outcome) (rate(dyad_worker_jobs_total[{RATE}]))", "{{outcome}}"),),
            unit="ops",
        ),
        Panel(
            "Job failure ratio",
            "Jobs that failed for good over jobs that finished (succeeded or failed).",
            (
                _q(
                    f"(sum(rate(dyad_worker_jobs_total{{outcome='failed'}}[{RATE}])) "
                    f"or vector(0)) / sum(rate(dyad_worker_jobs_total"
                    f"{{outcome=~'succeeded|failed'}}[{RATE}]))",
                    "failed",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Job end-to-end time",
            "From submission to the end, for the jobs workers finished, by outcome.",
            (
                _q(
                    quantile(0.5, "dyad_worker_job_end_to_end_seconds", "outcome"),
                    "p50 {{outcome}}",
                ),
                _q(
                    quantile(0.95, "dyad_worker_job_end_to_end_seconds", "outcome"),
                    "p95 {{outcome}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Job age when claimed",
            "How long jobs waited before a worker claimed them, by priority (retries count "
            "from submission).",
            (
                _q(
                    quantile(0.95, "dyad_worker_job_age_at_claim_seconds", "priority"),
                    "p95 {{priority}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Time per delivery",
            "Time a worker spent on one delivery (whatever its outcome).",
            (
                _q(quantile(0.5, "dyad_worker_job_duration_seconds", ""), "p50"),
                _q(quantile(0.95, "dyad_worker_job_duration_seconds", ""), "p95"),
            ),
            unit="s",
        ),
        Panel(
            "Worker slots by kind",
            "Job slots of running workers that take each job kind, and how many run a job now. "
            "A worker taking several kinds counts under each: do not add the kinds up.",
            (
                _q("sum by (kind) (dyad_worker_slots)", "{{kind}} slots"),
                _q("sum by (kind) (dyad_worker_busy_slots)", "{{kind}} busy"),
            ),
        ),
    ),
)

SERVICES = Dashboard(
    "dyad-services",
    "Dyad / Services",
    "The gRPC services: Ray Serve's replicas, requests, errors and latency; standalone "
    "servers' RPCs; scrape targets.",
    (
        Panel(
            "Healthy replicas by deployment",
            "Replicas passing their health check, and the autoscaler's target.",
            (
                _q(
                    "sum by (application, deployment) (ray_serve_deployment_replica_healthy)",
                    "{{deployment}} healthy",
                ),
                _q(
                    "sum by (application, deployment) (ray_serve_autoscaling_target_replicas)",
                    "{{deployment}} target",
                ),
            ),
        ),
        Panel(
            "gRPC requests by application",
            "Requests per second through Serve's gRPC proxy.",
            (
                _q(
                    f"sum by (application) (rate(ray_serve_num_grpc_requests_total[{RATE}]))",
                    "{{application}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "gRPC error ratio by application",
            "Requests that ended with a status other than OK.",
            (
                _q(
                    ratio_or_zero(
                        f"rate(ray_serve_num_grpc_requests_total{{status_code!='OK'}}[{RATE}])",
                        f"rate(ray_serve_num_grpc_requests_total[{RATE}])",
                        "application",
                    ),
                    "{{application}}",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "gRPC latency p95 by application",
            "At Serve's proxy, including queueing (Ray's milliseconds, shown in seconds).",
            (
                _q(
                    quantile(
                        0.95, "ray_serve_grpc_request_latency_ms", "application", "", " / 1000"
                    ),
                    "{{application}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Replica processing time p95 by deployment",
            "Inside the replica (Ray's milliseconds, shown in seconds).",
            (
                _q(
                    quantile(
                        0.95,
                        "ray_serve_deployment_processing_latency_ms",
                        "application, deployment",
                        "",
                        " / 1000",
                    ),
                    "{{deployment}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Requests in replicas and queued",
            "Requests replicas are processing now, and requests queued in front of them.",
            (
                _q(
                    "sum by (deployment) (ray_serve_replica_processing_queries)",
                    "{{deployment}} processing",
                ),
                _q(
                    "sum by (deployment) (ray_serve_deployment_queued_queries)",
                    "{{deployment}} queued",
                ),
            ),
        ),
        Panel(
            "Standalone servers: RPCs by code",
            "RPCs per second of servers run outside Ray Serve (DYAD_METRICS_PORT).",
            (
                _q(
                    f"sum by (service, code) (rate(dyad_rpc_requests_total[{RATE}]))",
                    "{{service}} {{code}}",
                ),
            ),
            unit="reqps",
        ),
        Panel(
            "Standalone servers: RPC latency p95",
            "Handling time by service and method.",
            (
                _q(
                    quantile(0.95, "dyad_rpc_duration_seconds", "service, method"),
                    "{{service}} {{method}}",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Scrape targets up",
            "Targets Prometheus scrapes successfully, by job.",
            (_q("sum by (job) (up)", "{{job}}"),),
        ),
    ),
)

MODELS = Dashboard(
    "dyad-models",
    "Dyad / Models",
    "The pipeline's stages and the models behind them: time per stage and where it ran, the "
    "stage cache, frames rendered, GPU memory.",
    (
        Panel(
            "Stage time p95",
            "Per stage, backend (the model a job chose; default: the service's setting) and "
            "where it ran (embedded, served); cache hits excluded.",
            (
                _q(
                    quantile(
                        0.95,
                        "dyad_stage_duration_seconds",
                        "stage, backend, mode",
                        "mode!='cached'",
                    ),
                    "{{stage}} {{backend}} ({{mode}})",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Stage time p50",
            "Per stage, backend (the model a job chose; default: the service's setting) and "
            "where it ran (embedded, served); cache hits excluded.",
            (
                _q(
                    quantile(
                        0.5, "dyad_stage_duration_seconds", "stage, backend, mode", "mode!='cached'"
                    ),
                    "{{stage}} {{backend}} ({{mode}})",
                ),
            ),
            unit="s",
        ),
        Panel(
            "Stage runs",
            "Stages per second by where they ran (cached: the result came from the stage cache).",
            (
                _q(
                    f"sum by (stage, mode) (rate(dyad_stage_duration_seconds_count[{RATE}]))",
                    "{{stage}} ({{mode}})",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Stage call retries",
            "Served stage calls retried after UNAVAILABLE or RESOURCE_EXHAUSTED (a replica "
            "restarting, a full queue); a steady rate means too few replicas.",
            (
                _q(
                    f"sum by (service, code) (rate(dyad_stage_call_retries_total[{RATE}]))",
                    "{{service}} {{code}}",
                ),
            ),
            unit="ops",
        ),
        Panel(
            "Stage cache hit ratio",
            "Stages whose result came from the stage cache (a rerun or a redelivered job).",
            (
                _q(
                    ratio_or_zero(
                        f"rate(dyad_stage_duration_seconds_count{{mode='cached'}}[{RATE}])",
                        f"rate(dyad_stage_duration_seconds_count[{RATE}])",
                        "stage",
                    ),
                    "{{stage}}",
                ),
            ),
            unit="percentunit",
        ),
        Panel(
            "Frames rendered per second",
            "Conversation frames rendered per second, by rasteriser backend.",
            (_q(f"sum by (backend) ({FRAMES})", "{{backend}}"),),
        ),
        Panel(
            "Render speed against real time",
            "Frames rendered per second over the 25 frames of a second of conversation.",
            (_q(f"sum({FRAMES}) / 25", "× real time"),),
            unit="x",
        ),
        Panel(
            "GPU memory reserved",
            "Held by each process's caching allocator, per device.",
            (
                _q(
                    "max by (instance, device) (dyad_gpu_memory_reserved_bytes)",
                    "{{instance}} gpu{{device}}",
                ),
            ),
            unit="bytes",
            needs=frozenset({"cuda"}),
        ),
        Panel(
            "GPU memory in use",
            "Allocated by tensors over the device's memory, per process and device.",
            (
                _q(
                    "max by (instance, device) (dyad_gpu_memory_allocated_bytes "
                    "/ dyad_gpu_memory_total_bytes)",
                    "{{instance}} gpu{{device}}",
                ),
            ),
            unit="percentunit",
            needs=frozenset({"cuda"}),
        ),
    ),
)

DASHBOARDS = (JOBS, SERVICES, MODELS)
