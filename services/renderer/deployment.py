"""Ray Serve deployment of the renderer, behind Serve's gRPC proxy.

Delegates to ``RendererServicer``. Avatars named by URI are loaded per request through
``@serve.multiplexed`` (the request's ``multiplexed_model_id`` is the avatar URI), so Serve
routes a conversation to a replica that already holds its avatar. GPUs per replica come from
``DYAD_RENDER_NUM_GPUS`` (fractional is fine: gsplat needs little memory per head).
Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.renderer_service_pb2_grpc.add_RendererServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad.rpc.serve import mapped, replica_store
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.servicer import RendererServicer
from dyad.services.renderer.settings import RendererSettings


@serve.deployment(name="Renderer")
class RendererDeployment:
    def __init__(self) -> None:
        self.core = RendererCore(replica_store(), RendererSettings.from_env())
        self.core.warm_up()
        self.servicer = RendererServicer(self.core)

    @serve.multiplexed(max_num_models_per_replica=8)
    async def load_avatar(self, avatar_uri: str) -> Any:
        return await asyncio.to_thread(self.core.avatar, "", avatar_uri=avatar_uri)

    async def _preload(self, request: Any) -> None:
        for uri in (request.avatar_a_uri, request.avatar_b_uri):
            if uri:
                await self.load_avatar(uri)

    @mapped
    async def RenderVideo(self, request: Any, grpc_context: Any = None) -> Any:
        await self._preload(request)
        return await self.servicer.RenderVideo(request, grpc_context)

    async def StreamFrames(self, request: Any, grpc_context: Any = None) -> AsyncIterator[Any]:
        await self._preload(request)
        async for chunk in self.servicer.StreamFrames(request, grpc_context):
            yield chunk

    @mapped
    async def CreateAvatar(self, request: Any, grpc_context: Any = None) -> Any:
        return await self.servicer.CreateAvatar(request, grpc_context)

    async def Check(self, request: Any, grpc_context: Any = None) -> Any:
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    s = RendererSettings.from_env()
    deployment = cast(Any, RendererDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus, "num_gpus": s.num_gpus},
        max_ongoing_requests=s.max_ongoing_requests,
    ).bind()
