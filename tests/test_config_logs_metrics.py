"""Typed settings, JSON logs with ids, metric naming rules."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dyad import metrics
from dyad.config import PlatformSettings, load, setting, settings_table
from dyad.errors import ConfigError
from dyad.logs import configure, log_context


@dataclass(frozen=True)
class DemoSettings:
    workers: int = setting(2, "worker count")
    ratio: float = setting(0.5, "a ratio")
    enabled: bool = setting(False, "a switch")
    model_dir: Path | None = setting(None, "where weights live")
    tags: list[str] = setting([], "comma-separated tags")
    backend: str = setting("mel", "feature backend", choices=("mel", "mfcc", "wav2vec2"))


def test_load_reads_typed_env() -> None:
    env = {
        "DYAD_T_WORKERS": "8",
        "DYAD_T_RATIO": "0.25",
        "DYAD_T_ENABLED": "yes",
        "DYAD_T_MODEL_DIR": "/models/w2v",
        "DYAD_T_TAGS": "a, b,,c",
        "DYAD_T_BACKEND": "mfcc",
    }
    s = load(DemoSettings, prefix="DYAD_T_", environ=env)
    assert s == DemoSettings(8, 0.25, True, Path("/models/w2v"), ["a", "b", "c"], "mfcc")
    assert load(DemoSettings, prefix="DYAD_T_", environ={}) == DemoSettings()


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("DYAD_T_WORKERS", "many", "expected int"),
        ("DYAD_T_ENABLED", "maybe", "boolean"),
        ("DYAD_T_BACKEND", "hubert", "expected one of"),
    ],
)
def test_bad_values_name_the_variable(var: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        load(DemoSettings, prefix="DYAD_T_", environ={var: value})
    assert e.value.setting == var and needle in str(e.value) and str(e.value).startswith(var)


def test_platform_settings_validation() -> None:
    with pytest.raises(ConfigError) as e:
        load(PlatformSettings, environ={"DYAD_STORE_URI": "ftp://x"})
    assert e.value.setting == "DYAD_STORE_URI"
    with pytest.raises(ConfigError) as e:
        load(PlatformSettings, environ={"DYAD_S3_PART_SIZE_BYTES": "1024"})
    assert e.value.setting == "DYAD_S3_PART_SIZE_BYTES"


def test_metrics_listen_address_defaults_to_the_grpc_one() -> None:
    """A worker serves no gRPC: its /metrics address is its own setting, falling back to the
    gRPC one so a standalone server needs only DYAD_GRPC_HOST."""
    from dyad.rpc.server import ServerOptions

    only_grpc = load(PlatformSettings, environ={"DYAD_GRPC_HOST": "0.0.0.0"})
    assert only_grpc.metrics_address == "0.0.0.0"
    both = load(PlatformSettings, environ={"DYAD_METRICS_HOST": "10.0.0.5"})
    assert (both.grpc_host, both.metrics_address) == ("127.0.0.1", "10.0.0.5")
    assert ServerOptions.from_settings(both).metrics_host == "10.0.0.5"


def test_settings_table_lists_every_field() -> None:
    table = settings_table(DemoSettings, prefix="DYAD_T_")
    assert "| `DYAD_T_WORKERS` | `2` | worker count |" in table
    assert "(one of mel, mfcc, wav2vec2)" in table
    assert table.count("\n") == 2 + 5


def test_json_logs_carry_request_and_job_ids() -> None:
    buf = io.StringIO()
    configure("DEBUG", stream=buf)
    try:
        log = logging.getLogger("dyad.test")
        with log_context(request_id="r-1"), log_context(job_id="j-9"):
            log.info("working on %s", "stage", extra={"stage": "motion", "frames": 250})
        log.warning("outside")
        try:
            raise ValueError("kaput")
        except ValueError:
            log.exception("failed")
    finally:
        configure("WARNING")
    first, second, third = (json.loads(line) for line in buf.getvalue().splitlines())
    assert first["msg"] == "working on stage" and first["level"] == "INFO"
    assert (first["request_id"], first["job_id"]) == ("r-1", "j-9")
    assert (first["stage"], first["frames"]) == ("motion", 250)
    assert "request_id" not in second and "job_id" not in second
    assert "ValueError: kaput" in third["exc"]


def test_logs_follow_stderr_after_the_stream_they_started_on_is_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CLI configured while stderr was a stream that later closed (a test's capture) must
    not leave every later record failing with "--- Logging error ---"."""
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    try:
        configure("INFO", json_format=False)
        first.close()
        monkeypatch.setattr("sys.stderr", later)
        logging.getLogger("dyad.test").info("still heard")
    finally:
        configure("WARNING")
    assert "still heard" in later.getvalue() and "Logging error" not in later.getvalue()


@pytest.mark.parametrize(
    "name",
    [
        "render_seconds",
        "dyad_RenderTime",
        "dyad_render_ms",
        "dyad_size_mb",
        "dyad_render_seconds_total",
    ],
)
def test_metric_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError):
        metrics.histogram(name, "x", registry=CollectorRegistry())


def test_counter_needs_total_and_histograms_use_base_units() -> None:
    reg = CollectorRegistry()
    with pytest.raises(ValueError):
        metrics.counter("dyad_jobs", "x", registry=reg)
    c = metrics.counter("dyad_jobs_total", "jobs", ("outcome",), registry=reg)
    c.labels("ok").inc(3)
    h = metrics.histogram("dyad_stage_duration_seconds", "stage time", ("stage",), registry=reg)
    with metrics.timed(h, stage="render"):
        pass
    text = generate_latest(reg).decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    assert fams["dyad_jobs"].samples[0].value == 3  # exposed as dyad_jobs_total
    assert 'dyad_jobs_total{outcome="ok"} 3.0' in text
    buckets = [s for s in fams["dyad_stage_duration_seconds"].samples if s.name.endswith("_bucket")]
    assert float(buckets[0].labels["le"]) == metrics.LATENCY_BUCKETS_S[0]
    assert fams["dyad_stage_duration_seconds"].samples[-1].value >= 0


def test_rpc_metrics_are_recorded_once_per_registry() -> None:
    reg = CollectorRegistry()
    m = metrics.rpc_metrics(reg)
    assert metrics.rpc_metrics(reg) is m
    m.observe("dyad.v1.JobService", "GetJob", "OK", 0.02)
    m.observe("dyad.v1.JobService", "GetJob", "INVALID_ARGUMENT", 0.001)
    text = generate_latest(reg).decode()
    labels = 'code="INVALID_ARGUMENT",method="GetJob",service="dyad.v1.JobService"'
    assert f"dyad_rpc_requests_total{{{labels}}} 1.0" in text
    assert (
        'dyad_rpc_duration_seconds_count{method="GetJob",service="dyad.v1.JobService"} 2.0' in text
    )


def test_metrics_http_endpoint() -> None:
    import urllib.request

    port = metrics.start_metrics_server(0)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        assert r.status == 200 and b"python_info" in r.read()
