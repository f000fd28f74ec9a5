"""The service contract (``dyad.testing.contract``) on the gateway (JobService) server."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dyad.config import PlatformSettings
from dyad.services.gateway.__main__ import build_server
from dyad.services.gateway.settings import GatewaySettings
from dyad.testing import RedisServer
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

from .stack import RED, TOKENS, auth


class TestServiceContract(ServiceContract):
    stub = pb_grpc.JobServiceStub
    service_name = "dyad.v1.JobService"
    call_metadata = auth(RED)

    @pytest.fixture(autouse=True)
    def _redis(self, redis_server: RedisServer) -> None:
        self.redis_url = redis_server.url

    build_server = staticmethod(build_server)
    settings = GatewaySettings(tokens=TOKENS)

    def platform(self, tmp_path: Path) -> PlatformSettings:
        return dataclasses.replace(super().platform(tmp_path), redis_url=self.redis_url)

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "SubmitJob", pb.SubmitJobRequest(prompt="x" * 10_000), "prompt"

    def bad_stream(self, tmp_path: Path) -> BadCall:
        return "WatchJob", pb.WatchJobRequest(), "job_id"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.gateway, "get", monkeypatch)
        return "GetJob", pb.GetJobRequest(job_id="0123456789abcdef0123456789abcdef")
