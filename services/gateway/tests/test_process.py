"""The standalone gateway as Kubernetes runs it (``python -m dyad.services.gateway``): it serves,
reports SERVING, exports the queue's depth on ``/metrics`` (so waiting jobs are seen with no
worker running) and drains on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from dyad.queue import JobQueue, Priority, QueueConfig
from dyad.testing import RedisServer, free_port

pytestmark = pytest.mark.integration


def _scrape(port: int) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, s.labels.get("priority", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_standalone_gateway_serves_and_exports_queue_depth(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    prefix = f"gw-{uuid.uuid4().hex[:8]}"
    queue = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True), QueueConfig(prefix=prefix)
    )
    grpc_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "DYAD_REDIS_URL": redis_server.url,
        "DYAD_QUEUE_PREFIX": prefix,
        "DYAD_STORE_URI": f"file://{tmp_path / 'store'}",
        "DYAD_GRPC_PORT": str(grpc_port),
        "DYAD_METRICS_PORT": str(metrics_port),
        "DYAD_GATEWAY_TOKENS": "ops:" + "t" * 40,
        "DYAD_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dyad.services.gateway"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while True:
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                    if status.status == health_pb2.HealthCheckResponse.SERVING:
                        break
                except grpc.RpcError:
                    pass
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "gateway never became SERVING"
                time.sleep(0.2)
        for _ in range(3):
            queue.submit({}, priority=Priority.LOW)  # no worker anywhere: they wait
        samples = _scrape(metrics_port)
        assert samples[("dyad_queue_lag_jobs", "low")] == 3
        assert samples[("dyad_queue_lag_jobs", "high")] == 0
        assert samples[("dyad_queue_dead_letter_jobs", "")] == 0
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_bad_setting_stops_the_gateway_with_one_line(redis_server: RedisServer) -> None:
    """What a crash-looping pod's logs show: the setting and what is wrong, no stack trace."""
    env = {
        **os.environ,
        "DYAD_REDIS_URL": redis_server.url,
        "DYAD_GRPC_PORT": str(free_port()),
        "DYAD_GATEWAY_TOKENS": "ops:short",
    }
    done = subprocess.run(
        [sys.executable, "-m", "dyad.services.gateway"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("dyad: DYAD_GATEWAY_TOKENS") and "characters" in line, line
