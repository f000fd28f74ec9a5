"""``python -m dyad.services.motion``: the service as a standalone gRPC server."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer, serve_main, single_service_server
from dyad.services.motion.core import MotionCore
from dyad.services.motion.servicer import MotionServicer
from dyad.services.motion.settings import MotionSettings
from dyad.storage import open_store
from dyad.v1 import motion_service_pb2, motion_service_pb2_grpc


def build_server(platform: PlatformSettings, settings: MotionSettings) -> DyadServer:
    core = MotionCore(open_store(platform), settings)
    return single_service_server(
        "motion",
        platform,
        motion_service_pb2_grpc.add_MotionServiceServicer_to_server,
        MotionServicer(core),
        motion_service_pb2.DESCRIPTOR,
        "MotionService",
        warmup=core.warm_up,
    )


if __name__ == "__main__":
    serve_main(lambda platform: build_server(platform, MotionSettings.from_env()))
