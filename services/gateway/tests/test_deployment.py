"""The gateway on Ray Serve (the session's served stack): the service contract through the
proxy, unary and streaming (WatchJob), with a team's bearer token."""

from __future__ import annotations

import pytest

from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

from .stack import RED, auth

pytestmark = pytest.mark.integration


def test_service_contract_through_the_proxy(served: ServedStack) -> None:
    calls = [
        ("SubmitJob", pb.SubmitJobRequest(prompt="x" * 10_000), "prompt"),
        ("WatchJob", pb.WatchJobRequest(), "job_id"),
    ]
    check_served(
        served.grpc_port,
        "gateway",
        pb_grpc.JobServiceStub,
        "dyad.v1.JobService",
        calls,
        metadata=auth(RED),
    )
