"""Secrets never reach the logs: a realistic run — the gateway with team tokens, a worker
process, redis-server with a password, an S3 store with its keys — with failed logins and an
S3 outage, every log line at DEBUG captured, then grepped for every configured secret."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import redis

from dyad import errors
from dyad.client import DyadClient
from dyad.config import PlatformSettings
from dyad.logs import JsonFormatter
from dyad.queue import JobQueue, QueueConfig
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.gateway.settings import GatewaySettings
from dyad.services.gateway.tests.stack import GatewayThread, platform_env
from dyad.storage import open_store
from dyad.testing import RedisServer, S3Server
from dyad.v1 import job_service_pb2 as jpb
from dyad.v1 import job_service_pb2_grpc as jpb_grpc

pytestmark = pytest.mark.integration

RED = "red-team-token-5f0c9a7e1b3d"
BLUE = "blue-team-token-8e2d4c6a0f1b"
REDIS_PASSWORD = "redis-pw-3c7e9a1f5b2d"
S3_ACCESS = "AKIADYADLOGTEST7Q2W"
S3_SECRET = "s3-secret-9b8a7c6d5e4f3a2b1c0d"
LLM_KEY = "sk-llm-4a5b6c7d8e9f"
TTS_KEY = "sk-tts-0e1f2a3b4c5d"
SECRETS = {
    "red token": RED,
    "blue token": BLUE,
    "redis password": REDIS_PASSWORD,
    "S3 access key": S3_ACCESS,
    "S3 secret key": S3_SECRET,
    "LLM key": LLM_KEY,
    "TTS key": TTS_KEY,
}


def _leaks(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


def test_settings_reprs_leave_secrets_out() -> None:
    platform = PlatformSettings(
        s3_access_key=S3_ACCESS,
        s3_secret_key=S3_SECRET,
        redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
    )
    dialogue = DialogueSettings(llm_api_key=LLM_KEY, tts_api_key=TTS_KEY)
    for s in (platform, dialogue):
        assert _leaks(repr(s)) == [] and _leaks(str(s)) == [], repr(s)
    assert "s3_endpoint" in repr(platform)  # the rest is still there to debug with


def test_gateway_settings_repr_leaves_tokens_out() -> None:
    assert _leaks(repr(GatewaySettings(tokens=f"red:{RED},blue:{BLUE}"))) == []


class Capture(logging.Handler):
    """Every record of this process, formatted as the services log them (JSON, with
    tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    handler, level = Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _wait(check: object, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_run_with_failures_logs_no_secret(capture: Capture, tmp_path: Path) -> None:
    with RedisServer() as rs:
        redis.Redis(port=rs.port).config_set("requirepass", REDIS_PASSWORD)
        redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{rs.port}/0"
        s3 = S3Server()
        s3.start()
        try:
            _run(capture, tmp_path, redis_url, s3)
        finally:
            s3.stop()
    lines = capture.lines + [
        line for log in tmp_path.glob("*.log") for line in log.read_text().splitlines()
    ]
    assert len(lines) > 20, "the run logged (at DEBUG) what it did"
    leaked = {
        name: [x for x in lines if SECRETS[name] in x][:2] for name in _leaks("\n".join(lines))
    }
    assert leaked == {}


def _run(capture: Capture, tmp_path: Path, redis_url: str, s3: S3Server) -> None:
    platform = PlatformSettings(
        redis_url=redis_url,
        store_uri="s3://secrets-test/dyad",
        s3_endpoint=s3.endpoint,
        s3_access_key=S3_ACCESS,
        s3_secret_key=S3_SECRET,
        queue_prefix="t",
        queue_visibility_timeout_s=30.0,
        queue_backoff_base_s=0.05,
        queue_max_deliveries=2,
        grpc_port=0,
        log_level="DEBUG",
    )
    settings = GatewaySettings(tokens=f"red:{RED},blue:{BLUE}", watch_poll_s=0.2)
    gateway = GatewayThread(platform, settings).__enter__()
    worker = None
    try:
        env = {
            **os.environ,
            **platform_env(platform),
            "DYAD_LOG_LEVEL": "DEBUG",
            "DYAD_WORKER_RUNNER": "dyad.services.worker.tests.toy_runner:build_runner",
            "DYAD_WORKER_CONSUMER": "w1",
            "DYAD_WORKER_HEARTBEAT_INTERVAL_S": "0.5",
            "DYAD_WORKER_CLAIM_BLOCK_S": "0.2",
            "DYAD_TOY_STAGE_S": "0.1",
            "DYAD_DIALOGUE_LLM_API_KEY": LLM_KEY,
            "DYAD_DIALOGUE_TTS_API_KEY": TTS_KEY,
        }
        log = tmp_path / "worker.log"
        with open(log, "wb") as err:
            worker = subprocess.Popen(
                [sys.executable, "-m", "dyad.services.worker"],
                env=env,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        _wait(lambda: "worker w1 started" in log.read_text(), "the worker did not start")
        endpoint = f"127.0.0.1:{gateway.port}"

        # A job that succeeds, its results presigned (S3 access key in the URL, not the logs).
        with DyadClient(endpoint, RED, timeout=10) as client:
            job = client.submit("two friends plan a trip")
            done = client.watch(job.job_id, timeout=60)
            assert done.status == "succeeded", done
            assert done.download_urls

        # Failed logins: a wrong token, a near miss, the other team, malformed metadata.
        for token in ("wrong-token-0123456789abcdef", RED[:-1] + "x"):
            with (
                DyadClient(endpoint, token, timeout=10) as bad,
                pytest.raises(errors.Unauthenticated),
            ):
                bad.submit("hello")
        with DyadClient(endpoint, BLUE, timeout=10) as blue, pytest.raises(errors.DyadError):
            blue.get(job.job_id)
        with grpc.insecure_channel(endpoint) as ch:
            stub = jpb_grpc.JobServiceStub(ch)
            for md in (
                (("authorization", f"bearer  {RED}"),),
                (("authorization", RED),),
                (("authorization", f"Bearer {RED}"), ("authorization", f"Bearer {BLUE}")),
            ):
                with pytest.raises(grpc.RpcError) as e:
                    stub.GetJob(jpb.GetJobRequest(job_id=job.job_id), metadata=md, timeout=10)
                assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
                assert _leaks(e.value.details()) == []

        # The S3 endpoint goes away: the worker's job fails, the gateway cannot presign.
        s3.stop()
        with DyadClient(endpoint, RED, timeout=10) as client:
            failing = client.submit("the store is down")
            queue = JobQueue(
                redis.Redis.from_url(redis_url, decode_responses=True),
                QueueConfig.from_settings(platform),
            )
            _wait(
                lambda: queue.get(failing.job_id).status.value in ("failed", "retrying"),
                "the job did not fail on the S3 outage",
            )
            with contextlib.suppress(errors.DyadError):
                client.get(job.job_id)  # presigning needs the endpoint
        with pytest.raises(errors.DyadError):
            open_store(platform).get_bytes("jobs/x/manifest.json")
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        gateway.__exit__()
    logged = [*capture.lines, log.read_text()]
    assert any("unreachable" in line for line in logged), "the outage was logged"


def test_refused_s3_credentials_name_the_setting_not_the_value(
    capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")  # moto checks credentials
    s3 = S3Server()
    s3.start()
    try:
        platform = PlatformSettings(
            store_uri="s3://refused-bucket/dyad",
            s3_endpoint=s3.endpoint,
            s3_access_key=S3_ACCESS,
            s3_secret_key=S3_SECRET,
        )
        with pytest.raises(errors.ConfigError) as e:
            open_store(platform)
        assert e.value.setting == "DYAD_S3_ACCESS_KEY" and _leaks(e.value.message) == []
        logging.getLogger("dyad.test").exception("store refused", exc_info=e.value)
    finally:
        s3.stop()
    assert _leaks("\n".join(capture.lines)) == []
