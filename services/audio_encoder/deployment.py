"""Ray Serve deployment of the audio encoder, behind Serve's gRPC proxy (wiring only).

Concurrent ``EncodeAudio`` calls meet in ``_encode``, a ``@serve.batch`` method: calls that
share (backend, fps) are encoded together so the windows of all their tracks share forward
passes, and a failing merged batch is retried call by call so one caller's bad file never fails
another's request (``dyad.rpc.serve.run_batched``; ``merged_encode`` is the per-group call).
The replica loads and warms up its backends, so Serve reports it healthy only when it can
serve. Serve config: ``grpc_servicer_functions`` must include
``dyad.v1.audio_encoder_service_pb2_grpc.add_AudioEncoderServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from dyad.rpc.serve import ServedService, app_builder, raise_if_failed, run_batched, unary
from dyad.services.audio_encoder.core import FeatureService
from dyad.services.audio_encoder.servicer import (
    AudioEncoderServicer,
    Call,
    merged_encode,
    parse_request,
    to_response,
)
from dyad.services.audio_encoder.settings import AudioEncoderSettings


@serve.deployment(name="AudioEncoder")
class AudioEncoderDeployment(ServedService):
    batched_methods = ("_encode",)

    def build(self, store: Any) -> AudioEncoderServicer:
        settings = AudioEncoderSettings.from_env()
        if settings.torch_threads:
            import torch

            torch.set_num_threads(settings.torch_threads)
        self.service = FeatureService(store, settings)
        self.service.warm_up()
        return AudioEncoderServicer(self.service)

    @unary
    async def EncodeAudio(self, request: Any, grpc_context: Any = None) -> Any:
        results = raise_if_failed(await self._encode(parse_request(request)))
        return to_response(request, results)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _encode(self, calls: list[Call]) -> list[Any]:
        return await asyncio.to_thread(
            run_batched, calls, lambda c: (c[1], c[2]), lambda k, g: merged_encode(self.service, g)
        )


build_app = app_builder(AudioEncoderDeployment)
