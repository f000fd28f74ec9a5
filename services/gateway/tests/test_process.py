"""The standalone gateway as Kubernetes runs it (``python -m dyad.services.gateway``): it serves,
reports SERVING, exports the queue's depth on ``/metrics`` (so waiting jobs are seen with no
worker running) and drains on SIGTERM (in-flight calls finish, watches end resumably, new
calls are UNAVAILABLE, exit 0)."""

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
from prometheus_client.parser import text_string_to_metric_families

from dyad.queue import JobQueue, Priority, QueueConfig
from dyad.services.gateway.fitjobs import JOB_KINDS, kind_queue
from dyad.testing import RedisServer, free_port
from dyad.testing.grpc import wait_serving
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


def _scrape(port: int) -> dict[tuple[str, str, str], float]:
    """(name, kind, priority) → value of every sample on ``/metrics``."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, s.labels.get("kind", ""), s.labels.get("priority", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _start_gateway(redis_url: str, store: Path, **env: str) -> tuple[subprocess.Popen[str], int]:
    """``python -m dyad.services.gateway`` on a free port, once it reports SERVING."""
    grpc_port = free_port()
    full_env = {
        **os.environ,
        "DYAD_REDIS_URL": redis_url,
        "DYAD_STORE_URI": f"file://{store}",
        "DYAD_GRPC_PORT": str(grpc_port),
        "DYAD_GATEWAY_TOKENS": "ops:" + "t" * 40,
        "DYAD_LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "dyad.services.gateway"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_serving(grpc_port, proc, "the gateway", 60)
    except (RuntimeError, TimeoutError) as e:
        proc.kill()
        raise AssertionError(f"{e}\n{proc.communicate()[0]}") from None
    return proc, grpc_port


def test_standalone_gateway_serves_and_exports_queue_depth(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    prefix = f"gw-{uuid.uuid4().hex[:8]}"
    queue = JobQueue(
        redis.Redis.from_url(redis_server.url, decode_responses=True), QueueConfig(prefix=prefix)
    )
    metrics_port = free_port()
    proc, _ = _start_gateway(
        redis_server.url,
        tmp_path / "store",
        DYAD_QUEUE_PREFIX=prefix,
        DYAD_METRICS_PORT=str(metrics_port),
    )
    try:
        for _ in range(3):
            queue.submit({}, priority=Priority.LOW)  # no worker anywhere: they wait
        # Fit jobs wait on their own queue (<prefix>:fit): seen apart, under their kind.
        fit_queue = kind_queue(queue, "fit_avatar")
        assert fit_queue.cfg.prefix == f"{prefix}:fit"
        for prio in (Priority.NORMAL, Priority.NORMAL, Priority.HIGH):
            fit_queue.submit({}, priority=prio)
        samples = _scrape(metrics_port)
        lag = {k[1:]: v for k, v in samples.items() if k[0] == "dyad_queue_lag_jobs"}
        assert lag == {
            ("generate", "high"): 0,
            ("generate", "normal"): 0,
            ("generate", "low"): 3,
            ("fit_avatar", "high"): 1,
            ("fit_avatar", "normal"): 2,
            ("fit_avatar", "low"): 0,
        }
        for kind in JOB_KINDS:  # every kind, each labelled
            assert samples[("dyad_queue_dead_letter_jobs", kind, "")] == 0
            assert samples[("dyad_queue_delayed_jobs", kind, "")] == 0
            assert samples[("dyad_queue_pending_jobs", kind, "normal")] == 0
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "Traceback" not in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_finishes_in_flight_calls_ends_watches_and_refuses_new_ones(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """A SubmitJob held up in Redis when SIGTERM arrives still succeeds (and its job exists);
    an open WatchJob ends at once with UNAVAILABLE (resumable), not at the end of the grace
    period; calls after SIGTERM are UNAVAILABLE; the process exits 0 well within its grace."""
    grace, prefix = 20.0, f"gw-{uuid.uuid4().hex[:8]}"
    proc, port = _start_gateway(
        redis_server.url,
        tmp_path / "store",
        DYAD_QUEUE_PREFIX=prefix,
        DYAD_GRPC_GRACE_S=str(grace),
        DYAD_GATEWAY_WATCH_POLL_S="0.2",
        DYAD_LOG_LEVEL="INFO",
    )
    md = (("authorization", "Bearer " + "t" * 40),)
    admin = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.JobServiceStub(channel)
            job = stub.SubmitJob(pb.SubmitJobRequest(prompt="hi"), metadata=md, timeout=10).job
            watch = stub.WatchJob(pb.WatchJobRequest(job_id=job.job_id), metadata=md, timeout=60)
            first = next(watch)
            assert first.status == pb.JOB_STATUS_QUEUED

            admin.execute_command("CLIENT", "PAUSE", "2500", "ALL")  # the next submit waits
            in_flight = stub.SubmitJob.future(
                pb.SubmitJobRequest(prompt="in flight", idempotency_key="f1"),
                metadata=md,
                timeout=30,
            )
            time.sleep(0.5)
            assert not in_flight.done()
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)

            with pytest.raises(grpc.RpcError) as ended:
                next(watch)
            assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "resume with after_event_id" in ended.value.details()
            assert time.monotonic() - t0 < 5

            with grpc.insecure_channel(f"127.0.0.1:{port}") as fresh:
                with pytest.raises(grpc.RpcError) as refused:
                    pb_grpc.JobServiceStub(fresh).GetJob(
                        pb.GetJobRequest(job_id=job.job_id), metadata=md, timeout=5
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

            done = in_flight.result(timeout=30)  # finished after the pause, within the grace
            assert done.created and done.job.status == pb.JOB_STATUS_QUEUED
        out, _ = proc.communicate(timeout=grace + 10)
        assert proc.returncode == 0, out
        assert time.monotonic() - t0 < grace / 2, "waited out the grace period"
        assert "Traceback" not in out and "ERROR" not in out, out
        assert admin.hget(f"{prefix}:job:{done.job.job_id}", "status") == "queued"
    finally:
        admin.close()
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
