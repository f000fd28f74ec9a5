"""Ray Serve deployment of the motion service, behind Serve's gRPC proxy.

Delegates to ``MotionServicer`` (same validation and conversions as the standalone server).
Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.motion_service_pb2_grpc.add_MotionServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad.rpc.serve import mapped, replica_store
from dyad.services.motion.core import MotionCore
from dyad.services.motion.servicer import MotionServicer
from dyad.services.motion.settings import MotionSettings


@serve.deployment(name="Motion")
class MotionDeployment:
    def __init__(self) -> None:
        store = replica_store()
        self.core = MotionCore(store, MotionSettings.from_env())
        self.core.warm_up()
        self.servicer = MotionServicer(self.core)

    @serve.multiplexed(max_num_models_per_replica=3)
    async def load_checkpoint(self, model_id: str) -> Any:
        """Per-request checkpoints: Serve routes a model id to replicas that hold it."""
        return await asyncio.to_thread(self.core.neural.model, model_id)

    @mapped
    async def GenerateMotion(self, request: Any, grpc_context: Any = None) -> Any:
        if request.backend == "neural" and request.model_id:
            await self.load_checkpoint(request.model_id)
        return await self.servicer.GenerateMotion(request, grpc_context)

    async def StreamMotion(self, request: Any, grpc_context: Any = None) -> AsyncIterator[Any]:
        # Serve streams a generator method; errors surface before the first chunk.
        if request.backend == "neural" and request.model_id:
            await self.load_checkpoint(request.model_id)
        async for chunk in self.servicer.StreamMotion(request, grpc_context):
            yield chunk

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    s = MotionSettings.from_env()
    deployment = cast(Any, MotionDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus}, max_ongoing_requests=s.max_ongoing_requests
    ).bind()
