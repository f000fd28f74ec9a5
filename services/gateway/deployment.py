"""Ray Serve deployment of the gateway (JobService), behind Serve's gRPC proxy (wiring only).

The bearer token reaches the replica as call metadata. Replicas are stateless (jobs live in
Redis, artefacts in the store), so any number of them can serve the same queue. Serve config:
``grpc_servicer_functions`` must include
``dyad.v1.job_service_pb2_grpc.add_JobServiceServicer_to_server``.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from dyad.config import PlatformSettings, load
from dyad.queue import JobQueue, QueueConfig
from dyad.rpc.serve import ServedService, app_builder, grpc_methods
from dyad.services.gateway.auth import Authenticator
from dyad.services.gateway.core import JobGateway
from dyad.services.gateway.servicer import JobServiceServicer
from dyad.services.gateway.settings import GatewaySettings


@serve.deployment(name="JobGateway")
@grpc_methods(
    unary=(
        *("SubmitJob", "GetJob", "CancelJob", "ListJobs"),
        *("UploadAvatar", "ListAvatars", "UploadVideo"),
    ),
    streaming=("WatchJob",),
)
class GatewayDeployment(ServedService):
    def build(self, store: Any) -> JobServiceServicer:
        platform = load(PlatformSettings)
        settings = GatewaySettings.from_env()
        queue = JobQueue.from_url(platform.redis_url, QueueConfig.from_settings(platform))
        gateway = JobGateway(queue, store, settings)
        gateway.ensure_groups()  # fail the replica's start, not its first call, without Redis
        return JobServiceServicer(gateway, Authenticator(settings))


build_app = app_builder(GatewayDeployment)
