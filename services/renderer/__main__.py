"""``python -m dyad.services.renderer``: the service as a standalone gRPC server."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer, serve_main, single_service_server
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.servicer import RendererServicer
from dyad.services.renderer.settings import RendererSettings
from dyad.storage import open_store
from dyad.v1 import renderer_service_pb2, renderer_service_pb2_grpc


def build_server(platform: PlatformSettings, settings: RendererSettings) -> DyadServer:
    core = RendererCore(open_store(platform), settings)
    return single_service_server(
        "renderer",
        platform,
        renderer_service_pb2_grpc.add_RendererServiceServicer_to_server,
        RendererServicer(core),
        renderer_service_pb2.DESCRIPTOR,
        "RendererService",
        warmup=core.warm_up,
    )


if __name__ == "__main__":
    serve_main(lambda platform: build_server(platform, RendererSettings.from_env()))
