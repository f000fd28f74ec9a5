"""Ray Serve deployment of the audio encoder, behind Serve's gRPC proxy.

Method names equal the rpc names (Serve routes by them). Concurrent ``EncodeAudio`` calls
are merged by ``@serve.batch`` so that the windows of all their tracks share forward passes;
when a merged batch fails, its calls are retried one by one so that one caller's bad file
never fails another caller's request. The replica's constructor loads and warms up the
backends, so Serve reports it healthy only when it can serve.

Serve config (see deploy/): ``grpc_servicer_functions`` must include
``dyad.v1.audio_encoder_service_pb2_grpc.add_AudioEncoderServiceServicer_to_server``.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from grpc_health.v1 import health_pb2
from ray import serve
from ray.serve import Application

from dyad.errors import DyadError
from dyad.rpc.serve import mapped, replica_store
from dyad.services.audio_encoder.core import FeatureService
from dyad.services.audio_encoder.servicer import parse_request, to_response
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.v1 import audio_encoder_service_pb2 as pb

Call = tuple[list[Any], str, int, list[str]]  # (refs, backend, fps, fields)


@serve.deployment(name="AudioEncoder")
class AudioEncoderDeployment:
    def __init__(self) -> None:
        store = replica_store()
        self.settings = AudioEncoderSettings.from_env()
        if self.settings.torch_threads:
            import torch

            torch.set_num_threads(self.settings.torch_threads)
        self.service = FeatureService(store, self.settings)
        self.service.warm_up()
        batcher = cast(Any, self._encode)  # @serve.batch adds the setters at run time
        batcher.set_max_batch_size(self.settings.max_batch)
        batcher.set_batch_wait_timeout_s(self.settings.batch_wait_s)

    @mapped
    async def EncodeAudio(self, request: pb.EncodeAudioRequest, grpc_context: Any = None) -> Any:
        call = parse_request(request)
        result = await self._encode(call)
        if isinstance(result, BaseException):
            raise result
        return to_response(request, result)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def _encode(self, calls: list[Call]) -> list[Any]:
        return await asyncio.to_thread(self._encode_calls, calls)

    def _encode_calls(self, calls: list[Call]) -> list[Any]:
        """Encode calls that share (backend, fps) together; isolate failures per call."""
        results: list[Any] = [None] * len(calls)
        groups: dict[tuple[str, int], list[int]] = {}
        for i, (_refs, backend, fps, _fields) in enumerate(calls):
            groups.setdefault((backend, fps), []).append(i)
        for (backend, fps), idx in groups.items():
            refs = [r for i in idx for r in calls[i][0]]
            fields = [f"{f}" for i in idx for f in calls[i][3]]
            try:
                merged = self.service.encode_artifacts(
                    refs, backend=backend, fps=fps, fields=fields
                )
            except DyadError:
                for i in idx:
                    results[i] = self._encode_one(calls[i])
                continue
            pos = 0
            for i in idx:
                n = len(calls[i][0])
                results[i] = merged[pos : pos + n]
                pos += n
        return results

    def _encode_one(self, call: Call) -> Any:
        refs, backend, fps, fields = call
        try:
            return self.service.encode_artifacts(refs, backend=backend, fps=fps, fields=fields)
        except Exception as exc:
            return exc

    async def Check(self, request: health_pb2.HealthCheckRequest, grpc_context: Any = None) -> Any:
        """``grpc.health.v1`` through the proxy: a constructed replica has warmed up."""
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


def build_app(args: dict[str, Any] | None = None) -> Application:
    """``import_path`` target for Serve configs; resources come from ``DYAD_AUDIO_*``."""
    s = AudioEncoderSettings.from_env()
    deployment = cast(Any, AudioEncoderDeployment)  # @serve.deployment made it a Deployment
    return deployment.options(
        ray_actor_options={"num_cpus": s.num_cpus, "num_gpus": s.num_gpus},
        max_ongoing_requests=s.max_ongoing_requests,
    ).bind()
