"""``python -m dyad.services.audio_encoder``: the service as a standalone gRPC server."""

from __future__ import annotations

import asyncio

import torch

from dyad.config import PlatformSettings, load
from dyad.logs import configure
from dyad.rpc import DyadServer, ServerOptions
from dyad.services.audio_encoder.core import FeatureService
from dyad.services.audio_encoder.servicer import AudioEncoderServicer
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.storage import open_store
from dyad.v1 import audio_encoder_service_pb2, audio_encoder_service_pb2_grpc


def build_server(platform: PlatformSettings, settings: AudioEncoderSettings) -> DyadServer:
    """The server; health turns SERVING once the backends are loaded and warmed up."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    service = FeatureService(open_store(platform), settings)
    server = DyadServer(
        "audio_encoder",
        ServerOptions.from_settings(platform),
        warmup=lambda: asyncio.to_thread(service.warm_up),
    )
    server.add_service(
        audio_encoder_service_pb2_grpc.add_AudioEncoderServiceServicer_to_server,
        AudioEncoderServicer(service),
        audio_encoder_service_pb2.DESCRIPTOR,
        "AudioEncoderService",
    )
    return server


def main() -> None:
    platform = load(PlatformSettings)
    configure(platform.log_level, json_format=platform.log_json)
    server = build_server(platform, AudioEncoderSettings.from_env())
    asyncio.run(server.serve())


if __name__ == "__main__":
    main()
