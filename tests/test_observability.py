"""Observability as code: the committed dashboards are what the generator makes, every metric a
panel or an alert uses is one the code exports, and the metrics the code adds are recorded
where they should be (the worker at claim and at the end, the orchestrator per stage, the
renderer per frame, GPU memory only with CUDA)."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_server import RULES

from dyad.metrics import GpuMemoryCollector, check_name, register_process_collectors
from dyad.observability import catalogue, exported_names
from dyad.observability.dashboards import DASHBOARDS
from dyad.observability.grafana import main, outputs, to_json
from dyad.observability.promql import metric_names
from dyad.queue import JobQueue, QueueCollector, QueueConfig
from dyad.storage import LocalStore
from dyad.testing import RedisServer

GRAFANA = Path(__file__).resolve().parents[1] / "deploy" / "grafana"


def _dashboard_exprs() -> list[str]:
    return [q.expr for d in DASHBOARDS for p in d.panels for q in p.queries]


def _rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def unknown_names(exprs: list[str]) -> dict[str, set[str]]:
    """Expression → the metric names in it that nothing exports."""
    known = exported_names()
    return {e: bad for e in exprs if (bad := metric_names(e) - known)}


# --- the committed files ----------------------------------------------------------------------
def test_committed_dashboards_are_what_the_generator_makes() -> None:
    for name, text in outputs().items():
        path = GRAFANA / name
        assert path.exists(), f"{path} missing: run `python -m dyad.observability.grafana`"
        assert path.read_text() == text, f"{path} is stale: `python -m dyad.observability.grafana`"
    assert main(["--check", "--out", str(GRAFANA)]) == 0


def test_generator_check_reports_a_stale_file(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "dyad-jobs.json").write_text("{}")
    assert main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.uid)
def test_every_panel_reads_the_datasource_variable(dashboard: Any) -> None:
    model = to_json(dashboard)
    (var,) = model["templating"]["list"]
    assert (var["name"], var["type"], var["query"]) == ("datasource", "datasource", "prometheus")
    ids = [p["id"] for p in model["panels"]]
    assert len(set(ids)) == len(ids) and model["panels"]
    for panel in model["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"] and panel["title"] and panel["description"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    json.dumps(model)


# --- the cross-check ----------------------------------------------------------------------------
def test_every_metric_a_dashboard_or_an_alert_uses_is_exported() -> None:
    assert unknown_names(_dashboard_exprs()) == {}
    assert unknown_names(_rule_exprs()) == {}


def test_the_cross_check_catches_a_made_up_name() -> None:
    made_up = "sum(rate(dyad_render_frames_made_up_total[5m])) / sum(up)"
    assert unknown_names([*_dashboard_exprs(), made_up]) == {
        made_up: {"dyad_render_frames_made_up_total"}
    }
    with pytest.raises(ValueError):
        metric_names('sum({__name__="dyad_worker_slots"})')


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (job) (up{job="x"})', {"up"}),
        (
            "histogram_quantile(0.95, sum by (stage, le) "
            "(rate(dyad_stage_duration_seconds_bucket{mode!='cached'}[$__rate_interval]))) > 300",
            {"dyad_stage_duration_seconds_bucket"},
        ),
        (
            "a_total / on (x) group_left (y) b offset 5m unless c and d or vector(1e3)",
            {"a_total", "b", "c", "d"},
        ),
        ("sum(x) without (instance) * 2.5e-3 > bool 0x1F", {"x"}),
        ("rate(y[5m] offset 1h30m) / .5", {"y"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
    ],
)
def test_metric_names_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_the_catalogue_follows_the_naming_rule_and_says_where_each_metric_is() -> None:
    metrics = catalogue()
    assert len({m.name for m in metrics}) == len(metrics)
    for m in metrics:
        check_name(m.name, counter=m.type == "counter")
        assert m.where and m.help, m.name
        assert m.type in ("counter", "gauge", "histogram")
    names = {m.name for m in metrics}
    assert {
        "dyad_stage_duration_seconds",
        "dyad_render_frames_total",
        "dyad_worker_job_age_at_claim_seconds",
        "dyad_worker_job_end_to_end_seconds",
        "dyad_gpu_memory_reserved_bytes",
        "dyad_queue_lag_jobs",
    } <= names


def test_the_queue_collector_registers_without_asking_redis() -> None:
    dead = JobQueue(redis.Redis(port=1), QueueConfig(prefix="nowhere"))
    registry = CollectorRegistry(auto_describe=True)
    collector = QueueCollector({"generate": dead, "fit_avatar": dead})
    registry.register(collector)  # describe() only: no connection attempted
    registry.unregister(collector)


# --- GPU memory -----------------------------------------------------------------------------
def test_gpu_memory_is_silent_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is here: test_gpu_memory_with_cuda covers it")
    assert list(GpuMemoryCollector().collect()) == []
    assert {f.name for f in GpuMemoryCollector().describe()} == {
        "dyad_gpu_memory_allocated_bytes",
        "dyad_gpu_memory_reserved_bytes",
        "dyad_gpu_memory_total_bytes",
    }
    register_process_collectors()
    register_process_collectors()  # once per registry
    assert REGISTRY.get_sample_value("dyad_gpu_memory_total_bytes", {"device": "0"}) is None


@pytest.mark.gpu
def test_gpu_memory_with_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    x = torch.ones(1024, 1024, device="cuda")  # 4 MiB
    fams = {f.name: f for f in GpuMemoryCollector().collect()}
    allocated = fams["dyad_gpu_memory_allocated_bytes"].samples[0]
    assert allocated.labels == {"device": "0"} and allocated.value >= x.numel() * 4
    total = fams["dyad_gpu_memory_total_bytes"].samples[0].value
    assert total >= fams["dyad_gpu_memory_reserved_bytes"].samples[0].value > 0


# --- the metrics the code records ----------------------------------------------------------------
def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.integration
def test_the_worker_records_age_at_claim_end_to_end_time_and_slots(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    from dyad.services.worker.settings import WorkerSettings
    from dyad.services.worker.tests.toy_runner import ToyRunner
    from dyad.services.worker.worker import Worker

    q = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True),
        QueueConfig(prefix="obs", max_deliveries=1),
    )
    spec = {"input": "prompt", "prompt": "Two friends plan a trip", "n": 1, "options": {}}
    q.submit(spec, priority="high")
    before = {
        "age": _value("dyad_worker_job_age_at_claim_seconds_count", priority="high"),
        "age_sum": _value("dyad_worker_job_age_at_claim_seconds_sum", priority="high"),
        "e2e": _value("dyad_worker_job_end_to_end_seconds_count", outcome="succeeded"),
        "ok": _value("dyad_worker_jobs_total", outcome="succeeded"),
    }
    time.sleep(0.3)  # the job is at least this old when claimed
    settings = WorkerSettings(heartbeat_interval_s=0.5, claim_block_s=0.1, max_jobs=1)
    worker = Worker(q, LocalStore(tmp_path), ToyRunner(0.0), settings)
    seen_slots: list[float] = []
    watcher = threading.Thread(target=lambda: seen_slots.append(_wait_for_slots()))
    watcher.start()
    worker.run()
    watcher.join()
    assert _value("dyad_worker_jobs_total", outcome="succeeded") == before["ok"] + 1
    assert (
        _value("dyad_worker_job_age_at_claim_seconds_count", priority="high") == before["age"] + 1
    )
    age = _value("dyad_worker_job_age_at_claim_seconds_sum", priority="high") - before["age_sum"]
    assert 0.3 <= age < 30
    assert _value("dyad_worker_job_end_to_end_seconds_count", outcome="succeeded") == (
        before["e2e"] + 1
    )
    assert seen_slots == [1.0]  # while it ran
    assert _value("dyad_worker_slots", kind="generate") == 0
    assert _value("dyad_worker_busy_slots", kind="generate") == 0
    # Every outcome and priority is exported from the start (a first failure is a rate).
    assert REGISTRY.get_sample_value("dyad_worker_jobs_total", {"outcome": "failed"}) is not None
    assert (
        REGISTRY.get_sample_value("dyad_worker_job_age_at_claim_seconds_count", {"priority": "low"})
        is not None
    )


def _wait_for_slots(kind: str = "generate") -> float:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (v := _value("dyad_worker_slots", kind=kind)) > 0:
            return v
        time.sleep(0.01)
    return 0.0


def _wait_for_busy(kind: str) -> dict[str, float]:
    """Every kind's slot gauges once a slot of ``kind`` runs a job."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _value("dyad_worker_busy_slots", kind=kind) > 0:
            return {
                f"{name}/{k}": _value(name, kind=k)
                for name in ("dyad_worker_slots", "dyad_worker_busy_slots")
                for k in ("generate", "fit_avatar")
            }
        time.sleep(0.01)
    return {}


def test_the_queue_collector_labels_each_kind(redis_server: RedisServer) -> None:
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    gen, fit = JobQueue(r, QueueConfig(prefix="qk")), JobQueue(r, QueueConfig(prefix="qk:fit"))
    gen.submit({}, priority="low")
    for _ in range(2):
        fit.submit({}, priority="normal")
    registry = CollectorRegistry()
    registry.register(QueueCollector({"generate": gen, "fit_avatar": fit}))
    lag = {
        (kind, prio): registry.get_sample_value(
            "dyad_queue_lag_jobs", {"kind": kind, "priority": prio}
        )
        for kind in ("generate", "fit_avatar")
        for prio in ("high", "normal", "low")
    }
    assert lag == {
        ("generate", "high"): 0,
        ("generate", "normal"): 0,
        ("generate", "low"): 1,
        ("fit_avatar", "high"): 0,
        ("fit_avatar", "normal"): 2,
        ("fit_avatar", "low"): 0,
    }
    for kind in ("generate", "fit_avatar"):
        assert registry.get_sample_value("dyad_queue_dead_letter_jobs", {"kind": kind}) == 0
    with pytest.raises(TypeError):
        QueueCollector(gen)  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_fit_only_worker_exports_the_fit_kind_alone(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """``dyad worker`` with ``DYAD_WORKER_JOB_KINDS=fit_avatar``: its ``/metrics`` show the fit
    queue only, and its slots under ``kind="fit_avatar"`` (the generate series untouched)."""
    from dyad.services.gateway.fitjobs import kind_queue
    from dyad.services.worker.cli import queue_collector
    from dyad.services.worker.settings import WorkerSettings
    from dyad.services.worker.tests.toy_runner import ToyRunner
    from dyad.services.worker.worker import Worker

    q = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True),
        QueueConfig(prefix="obs-fit", max_deliveries=1),
    )
    spec = {"input": "prompt", "prompt": "Two friends plan a trip", "n": 1, "options": {}}
    kind_queue(q, "fit_avatar").submit(spec, priority="normal")
    q.submit(spec, priority="normal")  # a generate job this worker must not take or show
    settings = WorkerSettings(
        job_kinds="fit_avatar", heartbeat_interval_s=0.5, claim_block_s=0.1, max_jobs=1
    )
    worker = Worker(q, LocalStore(tmp_path), ToyRunner(0.2), settings)
    registry = CollectorRegistry()
    registry.register(queue_collector(worker))
    samples = [s for f in registry.collect() for s in f.samples]
    assert {s.labels["kind"] for s in samples} == {"fit_avatar"}
    assert (
        registry.get_sample_value(
            "dyad_queue_lag_jobs", {"kind": "fit_avatar", "priority": "normal"}
        )
        == 1
    )
    before = {k: _value("dyad_worker_slots", kind=k) for k in ("generate", "fit_avatar")}
    seen: list[dict[str, float]] = []
    watcher = threading.Thread(target=lambda: seen.append(_wait_for_busy("fit_avatar")))
    watcher.start()
    assert worker.run() == 1
    watcher.join()
    assert seen == [
        {
            "dyad_worker_slots/generate": before["generate"],
            "dyad_worker_slots/fit_avatar": before["fit_avatar"] + 1,
            "dyad_worker_busy_slots/generate": 0,
            "dyad_worker_busy_slots/fit_avatar": 1,
        }
    ]
    assert _value("dyad_worker_slots", kind="fit_avatar") == before["fit_avatar"]
    assert q.stats()["normal"]["lag"] == 1  # the generate job still waits


class _TinyStages:
    """The smallest ``Stages`` the orchestrator's stage cache needs (one real store)."""

    mode = "served"

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    def versions(self) -> dict[str, str]:
        return {"test": "1"}


def test_the_orchestrator_times_each_stage_and_labels_cache_hits(tmp_path: Path) -> None:
    from dyad.services.worker.pipeline.orchestrator import Orchestrator

    orch = Orchestrator(_TinyStages(LocalStore(tmp_path)))
    count = "dyad_stage_duration_seconds_count"
    exported = {"stage": "render", "backend": "default", "mode": "served"}
    assert REGISTRY.get_sample_value(count, exported) is not None  # at 0 before any job
    neural = {"stage": "motion", "backend": "neural"}
    assert REGISTRY.get_sample_value(count, {**neural, "mode": "served"}) is not None
    before = {m: _value(count, **neural, mode=m) for m in ("served", "cached")}

    def compute() -> int:
        time.sleep(0.05)
        return 7

    for _ in range(2):  # computed, then read from the cache
        assert orch._cached("motion", {"x": 1, "backend": "neural"}, compute, int, int) == 7
    assert _value(count, **neural, mode="served") == before["served"] + 1
    assert _value(count, **neural, mode="cached") == before["cached"] + 1


def test_the_renderer_counts_the_frames_it_renders() -> None:
    from dyad.services.renderer.core import RendererCore, backend_label
    from dyad.services.renderer.settings import RendererSettings

    core = RendererCore(None, RendererSettings(head_px=64, stream_chunk_frames=4))
    label = backend_label("auto")
    assert label in ("cpu", "gsplat")
    before = _value("dyad_render_frames_total", backend=label)
    motion = np.zeros((10, 55), np.float32)
    chunks = list(core.stream_frames(motion, motion, "arkit55", layout="side", head_px=64))
    assert sum(len(c) for _start, c in chunks) == 10
    assert _value("dyad_render_frames_total", backend=label) == before + 10


def test_promql_strings_in_the_generated_json_use_single_quotes() -> None:
    """Readable in Grafana's editor: no escaped double quotes inside the JSON strings."""
    for text in outputs().values():
        assert not re.search(r'\\"', text), "use single-quoted PromQL strings"
