"""Ray Serve deployment of the renderer, behind Serve's gRPC proxy (wiring only).

Avatars named by URI are loaded through ``@serve.multiplexed`` (the avatar URI is the model
id), so Serve routes a conversation to a replica that already holds its avatar. Serve config:
``grpc_servicer_functions`` must include
``dyad.v1.renderer_service_pb2_grpc.add_RendererServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve
from ray.serve import metrics as serve_metrics

from dyad.errors import InvalidInput
from dyad.metrics import check_name
from dyad.observability.catalogue import RenderMetrics
from dyad.rpc.serve import ServedService, app_builder, grpc_methods
from dyad.services.renderer.core import RendererCore, backend_label
from dyad.services.renderer.servicer import RendererServicer
from dyad.services.renderer.settings import RendererSettings


@serve.deployment(name="Renderer")
@grpc_methods(unary=("RenderVideo", "CreateAvatar"), streaming=("StreamFrames",))
class RendererDeployment(ServedService):
    def build(self, store: Any) -> RendererServicer:
        settings = RendererSettings.from_env()
        self.core = RendererCore(store, settings, frames_counter(settings.backend))
        self.core.warm_up()
        return RendererServicer(self.core)

    @serve.multiplexed(max_num_models_per_replica=8)
    async def load_avatar(self, avatar_uri: str) -> Any:
        return await asyncio.to_thread(self.core.stored_avatar, avatar_uri)

    async def before_call(self, method: str, request: Any) -> None:
        if method == "CreateAvatar":
            return
        for field in ("avatar_a_uri", "avatar_b_uri"):
            uri = getattr(request, field)
            if not uri:
                continue
            self.core.avatar_key(uri, field)  # only the store's keys, before any routing
            try:
                await self.load_avatar(uri)
            except InvalidInput as e:  # the loader knows no field names
                raise InvalidInput(field, e.reason) from None


def frames_counter(backend: str) -> Any:
    """Frames counted in a replica reach Prometheus through Ray's metrics agent, as
    ``ray_dyad_render_frames_total`` with the replica's ``application``/``deployment`` labels
    (a replica serves no ``/metrics`` of its own)."""
    check_name(RenderMetrics.FRAMES, counter=True)
    frames = serve_metrics.Counter(
        RenderMetrics.FRAMES, description=RenderMetrics.FRAMES_DOC, tag_keys=("backend",)
    )
    frames.set_default_tags({"backend": backend_label(backend)})
    return frames


build_app = app_builder(RendererDeployment)
