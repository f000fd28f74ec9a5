"""The client SDK against a gateway that goes away mid-watch and comes back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dyad import errors
from dyad.client import DyadClient
from dyad.services.gateway.tests.stack import RED, GatewayThread, start_stack
from dyad.services.worker.settings import WorkerSettings
from dyad.services.worker.tests.test_worker import all_events
from dyad.services.worker.tests.toy_runner import ToyRunner
from dyad.services.worker.worker import Worker
from dyad.testing import RedisServer, free_port

pytestmark = pytest.mark.integration


def test_watch_resumes_once_after_the_gateway_restarts(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    stack, first = start_stack(redis_server.url, tmp_path / "store", port=free_port())
    worker = Worker(
        stack.queue,
        stack.store,
        ToyRunner(0.4),
        WorkerSettings(heartbeat_interval_s=0.2, claim_block_s=0.1),
    )
    thread = threading.Thread(target=worker.run)
    thread.start()
    second = None
    try:
        with DyadClient(stack.endpoint, RED, timeout=10) as client:
            job = client.submit("a restart in the middle")
            stream = client.events(job.job_id, timeout=60)
            seen = []
            for ev in stream:
                seen.append(ev)
                if ev.stage:  # the job is running: take the gateway away
                    break
            first.__exit__()
            # Back half a second later: the resumed call waits for it instead of failing.
            restarted: list[GatewayThread] = []
            timer = threading.Timer(
                0.5,
                lambda: restarted.append(GatewayThread(stack.platform, stack.settings).__enter__()),
            )
            timer.start()
            seen += list(stream)
            timer.join()
            second = restarted[0]
            ids = [e.event_id for e in seen]
            assert ids == [e.event_id for e in all_events(stack.queue, job.job_id)], "all, once"
            assert seen[-1].status == "succeeded"
            # One resumption only: a gateway that stays away is an error.
            second.__exit__()
            second = None
            with pytest.raises(errors.Unavailable):
                client.get(job.job_id)
    finally:
        worker.stop(0)
        thread.join(10)
        if second is not None:
            second.__exit__()


def test_client_spreads_calls_over_every_address_a_name_resolves_to() -> None:
    """A gateway behind a headless Service resolves to every pod; the SDK's channel uses
    round_robin, so calls reach all of them, not the first one only (pick_first's habit)."""
    from concurrent import futures

    import grpc

    from dyad.v1 import job_service_pb2 as pb

    seen: list[str] = []

    def handler(host: str) -> grpc.GenericRpcHandler:
        def get_job(request: pb.GetJobRequest, context: grpc.ServicerContext) -> pb.GetJobResponse:
            seen.append(host)
            return pb.GetJobResponse(job=pb.Job(job_id=request.job_id, status=pb.JOB_STATUS_QUEUED))

        method = grpc.unary_unary_rpc_method_handler(
            get_job,
            request_deserializer=pb.GetJobRequest.FromString,
            response_serializer=pb.GetJobResponse.SerializeToString,
        )
        return grpc.method_handlers_generic_handler("dyad.v1.JobService", {"GetJob": method})

    port = free_port()
    servers = []
    for host in ("127.0.0.1", "127.0.0.2"):  # two "pods" on one port, as a headless name gives
        server = grpc.server(futures.ThreadPoolExecutor(2), handlers=[handler(host)])
        assert server.add_insecure_port(f"{host}:{port}") == port
        server.start()
        servers.append(server)
    try:
        target = f"ipv4:127.0.0.1:{port},127.0.0.2:{port}"
        with DyadClient(target, "token", timeout=10) as client:
            # round_robin picks among the connected addresses: until the second connects, all
            # calls go to the first (pick_first would never leave it).
            for i in range(200):
                assert client.get(f"job-{i}").job_id == f"job-{i}"
                if len(set(seen)) == 2:
                    break
                time.sleep(0.01)
            seen.clear()
            for i in range(8):  # both connected: calls are spread
                client.get(f"job-{i}")
    finally:
        for server in servers:
            server.stop(0)
    assert min(seen.count("127.0.0.1"), seen.count("127.0.0.2")) >= 3, seen  # pick_first: 0
