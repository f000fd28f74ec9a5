"""The gRPC bootstrap: status mapping, health, reflection, deadlines, graceful drain."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import rpc_test_server
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from dyad import errors
from dyad.logs import configure
from dyad.rpc import error_from_rpc, insecure_channel
from dyad.testing import with_server
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

SERVER_SCRIPT = Path(__file__).with_name("rpc_test_server.py")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def serve(test: Callable[[grpc.aio.Channel, Any], Awaitable[None]], **build: Any) -> None:
    """Run ``test(channel, server)`` against an in-process server on a free port."""
    server = rpc_test_server.build(**build)
    with_server(server, lambda channel: test(channel, server))


async def _code_of(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as e:
        await call
    return e.value


def test_success_carries_request_id() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        stub = pb_grpc.JobServiceStub(ch)
        call = stub.GetJob(pb.GetJobRequest(job_id="j1"), metadata=(("x-request-id", "req-42"),))
        resp = await call
        assert resp.job.job_id == "j1"
        assert dict(await call.trailing_metadata())["x-request-id"] == "req-42"

    serve(t)


def test_invalid_input_names_the_field() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="bad")))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert err.details() == "job_id: must not be 'bad'"
        assert dict(err.trailing_metadata())["dyad-error-field"] == "job_id"
        back = error_from_rpc(err)
        assert isinstance(back, errors.InvalidInput) and back.field == "job_id"

    serve(t)


def test_domain_errors_map_to_their_codes() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="missing")))
        assert err.code() == grpc.StatusCode.NOT_FOUND and "missing" in err.details()
        assert isinstance(error_from_rpc(err), errors.NotFound)

    serve(t)


def test_unexpected_error_is_internal_with_error_id_in_log() -> None:
    buf = io.StringIO()
    configure("INFO", stream=buf)

    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="boom")))
        assert err.code() == grpc.StatusCode.INTERNAL
        details = err.details() or ""
        assert "secret internal detail" not in details and "Traceback" not in details
        assert "ZeroDivisionError" not in details
        error_id = dict(err.trailing_metadata())["dyad-error-id"]
        assert details == f"internal error (error id {error_id})"
        records = [json.loads(line) for line in buf.getvalue().splitlines()]
        hit = [r for r in records if r.get("error_id") == error_id]
        assert hit and "ZeroDivisionError: secret internal detail" in hit[0]["exc"]
        assert hit[0]["request_id"]

    try:
        serve(t)
    finally:
        configure("WARNING")


def test_stream_error_after_items() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        call = pb_grpc.JobServiceStub(ch).WatchJob(pb.WatchJobRequest(job_id="boom"))
        got = []
        with pytest.raises(grpc.aio.AioRpcError) as e:
            async for ev in call:
                got.append(ev.progress)
        assert got == [0.0, 0.5, 1.0]
        assert (
            e.value.code() == grpc.StatusCode.INTERNAL and "stream broke" not in e.value.details()
        )

    serve(t)


def test_unimplemented_method() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(pb_grpc.JobServiceStub(ch).CancelJob(pb.CancelJobRequest(job_id="x")))
        assert err.code() == grpc.StatusCode.UNIMPLEMENTED

    serve(t)


def test_client_deadline_cancels_the_handler() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        rpc_test_server.cancelled_calls.clear()
        t0 = time.monotonic()
        err = await _code_of(
            pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="slow:5"), timeout=0.3)
        )
        assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 2
        for _ in range(50):  # the server stops working on it too
            if rpc_test_server.cancelled_calls:
                break
            await asyncio.sleep(0.02)
        assert rpc_test_server.cancelled_calls == ["slow:5"]

    serve(t)


def test_server_default_deadline_for_calls_without_one() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="slow:5")))
        assert err.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "server limit of 0.3 s" in (err.details() or "")

    serve(t, default_deadline_s=0.3)


def test_metrics_endpoint_counts_calls_by_code() -> None:
    import urllib.request

    async def t(ch: grpc.aio.Channel, server: Any) -> None:
        stub = pb_grpc.JobServiceStub(ch)
        await stub.GetJob(pb.GetJobRequest(job_id="ok"))
        await _code_of(stub.GetJob(pb.GetJobRequest(job_id="bad")))
        url = f"http://127.0.0.1:{server.metrics_port}/metrics"
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode()
        )
        labels = 'method="GetJob",service="dyad.v1.JobService"'
        assert f'dyad_rpc_requests_total{{code="INVALID_ARGUMENT",{labels}}}' in text
        assert f'dyad_rpc_requests_total{{code="OK",{labels}}}' in text
        assert f'dyad_rpc_duration_seconds_bucket{{le="0.005",{labels}}}' in text

    from dyad.testing import free_port

    serve(t, metrics_port=free_port())


def test_message_size_limit() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        err = await _code_of(
            pb_grpc.JobServiceStub(ch).GetJob(pb.GetJobRequest(job_id="x" * 300_000))
        )
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    serve(t, max_message_bytes=100_000)


def test_health_not_serving_until_warm_then_serving() -> None:
    async def main() -> None:
        server = rpc_test_server.build(warmup_s=0.5)
        port = await server.start()
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            health = health_pb2_grpc.HealthStub(ch)
            warm = asyncio.create_task(server.warm_up_and_serve())
            for svc in ("", "dyad.v1.JobService"):
                r = await health.Check(health_pb2.HealthCheckRequest(service=svc))
                assert r.status == NOT_SERVING, svc
            await warm
            for svc in ("", "dyad.v1.JobService"):
                r = await health.Check(health_pb2.HealthCheckRequest(service=svc))
                assert r.status == SERVING, svc
            err = await _code_of(health.Check(health_pb2.HealthCheckRequest(service="nope.Svc")))
            assert err.code() == grpc.StatusCode.NOT_FOUND
        await server.stop(0.1)

    asyncio.run(main())


def test_reflection_lists_services() -> None:
    async def t(ch: grpc.aio.Channel, _: Any) -> None:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)

        async def requests():  # type: ignore[no-untyped-def]
            yield reflection_pb2.ServerReflectionRequest(list_services="")
            yield reflection_pb2.ServerReflectionRequest(
                file_containing_symbol="dyad.v1.JobService"
            )

        replies = [r async for r in stub.ServerReflectionInfo(requests())]
        names = {s.name for s in replies[0].list_services_response.service}
        assert names == {
            "dyad.v1.JobService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        }
        assert replies[1].file_descriptor_response.file_descriptor_proto

    serve(t)


def test_sigterm_drains_in_flight_calls() -> None:
    """SIGTERM: health goes NOT_SERVING, new calls are refused, the in-flight call finishes."""
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), "0", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), (line, proc.stderr.read() if proc.stderr else "")
        port = int(line.split()[1])

        async def main() -> None:
            async with insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = pb_grpc.JobServiceStub(ch)
                health = health_pb2_grpc.HealthStub(ch)
                assert (await health.Check(health_pb2.HealthCheckRequest())).status == SERVING
                slow = asyncio.ensure_future(
                    stub.GetJob(pb.GetJobRequest(job_id="slow:1.5"), timeout=10)
                )
                await asyncio.sleep(0.4)
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                async with insecure_channel(f"127.0.0.1:{port}") as fresh:
                    err = await _code_of(
                        pb_grpc.JobServiceStub(fresh).GetJob(
                            pb.GetJobRequest(job_id="x"), timeout=2
                        )
                    )
                    assert err.code() == grpc.StatusCode.UNAVAILABLE
                resp = await slow
                assert resp.job.job_id == "slow:1.5"

        asyncio.run(main())
        assert proc.wait(10) == 0
        assert proc.stderr is not None
        log = proc.stderr.read()
        assert "draining" in log and "stopped" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
