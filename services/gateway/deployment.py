"""Ray Serve deployment of the gateway (JobService), behind Serve's gRPC proxy.

Delegates to ``JobServiceServicer`` (same authentication, limits and conversions as the
standalone server). The bearer token reaches the replica as call metadata. Serve config:
``grpc_servicer_functions`` must include
``dyad.v1.job_service_pb2_grpc.add_JobServiceServicer_to_server``. Replicas are stateless (jobs
live in Redis, artefacts in the store), so any number of them can serve the same queue.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad import logs
from dyad.rpc.interceptor import REQUEST_ID_KEY, describe_error
from dyad.rpc.serve import RpcFailed, mapped, replica_store
from dyad.services.gateway.settings import GatewaySettings


@serve.deployment(name="JobGateway")
class GatewayDeployment:
    def __init__(self) -> None:
        from dyad.config import PlatformSettings, load
        from dyad.queue import JobQueue, QueueConfig
        from dyad.services.gateway.auth import Authenticator
        from dyad.services.gateway.core import JobGateway
        from dyad.services.gateway.servicer import JobServiceServicer

        store = replica_store()
        platform = load(PlatformSettings)
        settings = GatewaySettings.from_env()
        queue = JobQueue.from_url(platform.redis_url, QueueConfig.from_settings(platform))
        queue.ensure_groups()  # fail the replica's start, not its first call, without Redis
        self.servicer = JobServiceServicer(
            JobGateway(queue, store, settings), Authenticator(settings)
        )

    @mapped
    async def SubmitJob(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.SubmitJob(request, grpc_context)

    @mapped
    async def GetJob(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.GetJob(request, grpc_context)

    @mapped
    async def CancelJob(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.CancelJob(request, grpc_context)

    @mapped
    async def ListJobs(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.ListJobs(request, grpc_context)

    async def WatchJob(self, request: Any, grpc_context: Any = None) -> AsyncIterator[Any]:
        # ``mapped`` wraps unary methods; a stream maps its errors the same way here.
        md = dict(grpc_context.invocation_metadata()) if grpc_context is not None else {}
        token = logs.request_id_var.set(str(md.get(REQUEST_ID_KEY) or uuid.uuid4().hex))
        try:
            async for event in self.servicer.WatchJob(request, grpc_context):
                yield event
        except Exception as exc:
            code, message, trailers = describe_error(exc, "GatewayDeployment/WatchJob")
            if grpc_context is None:
                raise
            grpc_context.set_code(grpc.StatusCode[code])
            grpc_context.set_details(message)
            grpc_context.set_trailing_metadata(trailers)
            raise RpcFailed(code, message) from None
        finally:
            logs.request_id_var.reset(token)

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    s = GatewaySettings.from_env()
    deployment = cast(Any, GatewayDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus}, max_ongoing_requests=s.max_ongoing_requests
    ).bind()
