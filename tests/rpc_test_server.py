"""A tiny JobService built with the bootstrap, for the gRPC tests (in-process or as a script).

``GetJob`` behaves by job id: ``bad`` → InvalidInput, ``missing`` → NotFound, ``boom`` → an
unexpected exception, ``slow:<s>`` sleeps, ``abort`` sets a status by hand (what handlers must
not do, but which must still pass through), anything else succeeds.
"""

from __future__ import annotations

import asyncio
import sys
import time

from dyad.errors import InvalidInput, NotFound
from dyad.rpc import DyadServer, ServerOptions
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

cancelled_calls: list[str] = []


class TestJobServicer(pb_grpc.JobServiceServicer):
    async def GetJob(self, request: pb.GetJobRequest, context: object) -> pb.GetJobResponse:
        jid = request.job_id
        if jid == "bad":
            raise InvalidInput("job_id", "must not be 'bad'")
        if jid == "missing":
            raise NotFound("no job 'missing'")
        if jid == "boom":
            raise ZeroDivisionError("secret internal detail")
        if jid.startswith("slow:"):
            try:
                await asyncio.sleep(float(jid.split(":", 1)[1]))
            except asyncio.CancelledError:
                cancelled_calls.append(jid)
                raise
        return pb.GetJobResponse(job=pb.Job(job_id=jid, status=pb.JOB_STATUS_QUEUED))

    async def WatchJob(self, request: pb.WatchJobRequest, context: object):  # type: ignore[no-untyped-def]
        for i in range(3):
            yield pb.JobEvent(job_id=request.job_id, progress=i / 2)
        if request.job_id == "boom":
            raise RuntimeError("stream broke")


def build(warmup_s: float = 0.0, **options: object) -> DyadServer:
    async def warmup() -> None:
        await asyncio.sleep(warmup_s)

    server = DyadServer("test-jobs", ServerOptions(**options), warmup=warmup)  # type: ignore[arg-type]
    server.add_service(
        pb_grpc.add_JobServiceServicer_to_server, TestJobServicer(), pb.DESCRIPTOR, "JobService"
    )
    return server


async def _main(warmup_s: float, grace_s: float) -> None:
    from dyad.logs import configure

    configure("INFO")
    server = build(warmup_s, grace_s=grace_s)

    def ready(port: int) -> None:
        print(f"PORT {port} {time.time()}", flush=True)

    await server.serve(ready=ready)


if __name__ == "__main__":
    asyncio.run(_main(float(sys.argv[1]), float(sys.argv[2])))
