"""Ray Serve deployment of the dialogue service, behind Serve's gRPC proxy.

The deployment delegates each rpc to ``DialogueServicer`` (the same validation and
conversions as the standalone server); ``mapped`` gives it the same error contract. The
constructor warms the speech engine up, so a replica is healthy only when it can speak.
Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.dialogue_service_pb2_grpc.add_DialogueServiceServicer_to_server``.
"""

from __future__ import annotations

from typing import Any, cast

from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad.rpc.serve import mapped, replica_store
from dyad.services.dialogue.core import DialogueCore
from dyad.services.dialogue.servicer import DialogueServicer
from dyad.services.dialogue.settings import DialogueSettings


@serve.deployment(name="Dialogue")
class DialogueDeployment:
    def __init__(self) -> None:
        store = replica_store()
        core = DialogueCore(store, DialogueSettings.from_env())
        core.warm_up()
        self.servicer = DialogueServicer(core)

    @mapped
    async def WriteDialogues(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.WriteDialogues(request, grpc_context)

    @mapped
    async def SynthesizeConversation(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.SynthesizeConversation(request, grpc_context)

    @mapped
    async def SegmentConversation(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.SegmentConversation(request, grpc_context)

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    s = DialogueSettings.from_env()
    deployment = cast(Any, DialogueDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus}, max_ongoing_requests=s.max_ongoing_requests
    ).bind()
