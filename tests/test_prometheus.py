"""A real Prometheus scraping the served system while a real job runs: every dashboard panel's
query returns data, and the alert rules load and evaluate.

Prometheus (the binary ``make setup`` unpacks) scrapes, every second: Ray's metrics port of the
session's served stack (Serve's metrics, and the frames renderer replicas count), a worker's
``/metrics`` (this process: ``start_metrics_server`` with the ``QueueCollector``, the worker and
pipeline metrics, and a standalone gRPC server's RPC metrics) and itself. One small job goes
through the gateway's queue, a ``Worker`` and the real pipeline on the Serve applications.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import redis
import rpc_test_server
import yaml
from prometheus_client import REGISTRY
from prometheus_server import RULES, PrometheusServer, require_binary

from dyad.metrics import start_metrics_server
from dyad.observability.dashboards import DASHBOARDS, RATE
from dyad.queue import JobQueue, QueueCollector, QueueConfig
from dyad.services.worker.pipeline.jobs import PipelineRunner
from dyad.services.worker.pipeline.served import STUBS, ServedStages
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.worker import Outcome, Worker
from dyad.testing import ServedStack, ServerThread
from dyad.v1 import job_service_pb2 as job_pb
from dyad.v1 import job_service_pb2_grpc as job_grpc

pytestmark = pytest.mark.integration
#: What ``$__rate_interval`` stands for here: longer than the whole test, so every counter
#: Prometheus saw is in the window.
RATE_WINDOW = "5m"


def _poll(check: Callable[[], Any], what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: nothing within {timeout_s} s")
        time.sleep(0.5)


@pytest.fixture
def worker_metrics_port(served: ServedStack) -> Iterator[tuple[int, JobQueue]]:
    """This process as a worker's scrape target: ``/metrics`` with the queue's gauges."""
    queue = JobQueue(
        redis.Redis.from_url(served.redis.url, decode_responses=True),
        QueueConfig(prefix=served.QUEUE_PREFIX),
    )
    collector = QueueCollector({"generate": queue})  # the kinds a default worker takes
    REGISTRY.register(collector)
    try:
        yield start_metrics_server(0), queue
    finally:
        REGISTRY.unregister(collector)


def _standalone_rpcs() -> None:
    """One standalone gRPC server's RPCs (OK and INVALID_ARGUMENT) in this process's metrics."""
    with ServerThread([rpc_test_server.build()]) as running:
        channel = grpc.insecure_channel(f"127.0.0.1:{running.ports[0]}")
        try:
            stub = job_grpc.JobServiceStub(channel)
            stub.GetJob(job_pb.GetJobRequest(job_id="fine"), timeout=10)
            with pytest.raises(grpc.RpcError):
                stub.GetJob(job_pb.GetJobRequest(job_id="bad"), timeout=10)
        finally:
            channel.close()


def test_every_panel_returns_data_from_a_real_prometheus(
    served: ServedStack, worker_metrics_port: tuple[int, JobQueue]
) -> None:
    port, queue = worker_metrics_port
    targets = {
        "ray": [f"127.0.0.1:{served.ray_metrics_port}"],
        "dyad-worker": [f"127.0.0.1:{port}"],
    }
    with PrometheusServer(require_binary("prometheus"), targets, rule_files=[RULES]) as prom:
        _standalone_rpcs()
        stages = ServedStages(
            served.store, dict.fromkeys(STUBS, served.endpoint), route_by_application=True
        )
        settings = WorkerSettings(heartbeat_interval_s=0.5, claim_block_s=0.2)
        worker = Worker(queue, served.store, PipelineRunner(lambda store: stages), settings)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            spec = {
                "input": "prompt",
                "prompt": "Two astronomers argue about a comet",
                "n": 1,
                # A seed of its own: no stage of this job is in the shared store's cache.
                "options": {
                    "turns": [5, 5],
                    "head_px": 64,
                    "refine_steps": 2,
                    "seed": uuid.uuid4().int % 100_000,
                },
            }
            job, _ = queue.submit(spec, priority="high")
            _poll(lambda: dict(worker.outcomes).get(job.job_id), "the job's outcome", 240)
            assert dict(worker.outcomes)[job.job_id] == Outcome.SUCCEEDED

            # Prometheus has seen the job end (and Ray exported the replicas' frames).
            _poll(
                lambda: prom.query('dyad_worker_jobs_total{outcome="succeeded"} > 0'),
                "the worker's succeeded job in Prometheus",
                30,
            )
            frames = _poll(
                lambda: prom.query("sum(ray_dyad_render_frames_total) > 0"),
                "the renderer replica's frames (through Ray's metrics port)",
                60,
            )
            assert float(frames[0]["value"][1]) >= 25  # at least a second of conversation
            served_stages = prom.query(
                'count by (stage) (dyad_stage_duration_seconds_count{mode="served"} > 0)'
            )
            # At least this job's stages (the registry is the process's: tests before this one
            # may have run others, e.g. `segment`, through ServedStages too).
            assert {s["metric"]["stage"] for s in served_stages} >= {
                *("dialogue", "speech", "features", "motion", "refine", "render")
            }
            _assert_every_panel_returns_data(prom)
            _assert_rules_loaded(prom)
            targets_up = prom.query("up == 1")
            assert {t["metric"]["job"] for t in targets_up} == {"prometheus", "ray", "dyad-worker"}
        finally:
            worker.stop(0)
            thread.join(30)
            stages.close()
    assert prom.proc is None  # stopped: no process left


def _assert_every_panel_returns_data(prom: PrometheusServer) -> None:
    skipped, empty = [], []
    for dashboard in DASHBOARDS:
        for panel in dashboard.panels:
            if "cuda" in panel.needs:
                skipped.append(panel.title)  # no GPU here: nothing to export
                continue
            for q in panel.queries:
                expr = q.expr.replace(RATE, RATE_WINDOW)
                try:
                    _poll(lambda e=expr: prom.query(e), expr, 15)  # type: ignore[misc]
                except AssertionError:
                    empty.append(f"{dashboard.uid} / {panel.title}: {expr}")
    assert empty == [], "panels without data:\n" + "\n".join(empty)
    assert set(skipped) <= {"GPU memory reserved", "GPU memory in use"}


def _assert_rules_loaded(prom: PrometheusServer) -> None:
    expected = {
        r["alert"]
        for g in yaml.safe_load(RULES.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }

    def evaluated() -> list[dict[str, Any]]:
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        return rules if all(r["health"] == "ok" for r in rules) else []

    rules = _poll(evaluated, "every rule evaluated without error", 15)
    assert {r["name"] for r in rules if r["type"] == "alerting"} == expected
    # A healthy system: no alert is firing (pending is fine: `for` has not elapsed).
    assert [r["name"] for r in rules if r["state"] == "firing"] == []
