"""``python -m dyad.services.refiner``: the service as a standalone gRPC server."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer, serve_main, single_service_server
from dyad.services.refiner.core import RefinerCore
from dyad.services.refiner.servicer import RefinerServicer
from dyad.services.refiner.settings import RefinerSettings
from dyad.storage import open_store
from dyad.v1 import refiner_service_pb2, refiner_service_pb2_grpc


def build_server(platform: PlatformSettings, settings: RefinerSettings) -> DyadServer:
    core = RefinerCore(open_store(platform), settings)
    return single_service_server(
        "refiner",
        platform,
        refiner_service_pb2_grpc.add_RefinerServiceServicer_to_server,
        RefinerServicer(core),
        refiner_service_pb2.DESCRIPTOR,
        "RefinerService",
        warmup=core.warm_up,
    )


if __name__ == "__main__":
    serve_main(lambda platform: build_server(platform, RefinerSettings.from_env()))
