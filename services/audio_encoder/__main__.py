"""``python -m dyad.services.audio_encoder``: the service as a standalone gRPC server."""

from __future__ import annotations

import torch

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer, serve_main, single_service_server
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
    return single_service_server(
        "audio_encoder",
        platform,
        audio_encoder_service_pb2_grpc.add_AudioEncoderServiceServicer_to_server,
        AudioEncoderServicer(service),
        audio_encoder_service_pb2.DESCRIPTOR,
        "AudioEncoderService",
        warmup=service.warm_up,
    )


if __name__ == "__main__":
    serve_main(lambda platform: build_server(platform, AudioEncoderSettings.from_env()))
