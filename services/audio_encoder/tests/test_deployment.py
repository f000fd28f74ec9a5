"""The audio encoder on a real local Ray Serve, called through Serve's gRPC proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.errors import InvalidInput
from dyad.media import wav_bytes
from dyad.rpc import error_from_rpc, insecure_channel
from dyad.storage import LocalStore
from dyad.testing import RayServe
from dyad.timebase import SAMPLE_RATE as SR
from dyad.v1 import audio_encoder_service_pb2 as pb
from dyad.v1 import audio_encoder_service_pb2_grpc as pb_grpc
from dyad.v1 import common_pb2

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def serve_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, LocalStore]]:
    from dyad.services.audio_encoder.deployment import build_app

    store = LocalStore(tmp_path_factory.mktemp("store"))
    env = {
        "DYAD_STORE_URI": f"file://{store.root}",
        "DYAD_AUDIO_MAX_DURATION_S": "5",
        "DYAD_AUDIO_NUM_CPUS": "0.5",
        "DYAD_AUDIO_BATCH_WAIT_S": "0.2",
        "DYAD_LOG_LEVEL": "WARNING",
    }
    add = "dyad.v1.audio_encoder_service_pb2_grpc.add_AudioEncoderServiceServicer_to_server"
    with RayServe([add], env) as rs:
        rs.run(build_app(), "audio_encoder")
        yield rs.grpc_port, store


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def _req(store: LocalStore, *seconds: float, **kw: Any) -> pb.EncodeAudioRequest:
    refs = [store.put_bytes(wav_bytes(_tone(s), SR), "audio/wav") for s in seconds]
    return pb.EncodeAudioRequest(
        tracks=[common_pb2.AudioTrack(artifact=r.to_proto()) for r in refs], **kw
    )


def test_concurrent_calls_through_the_proxy(serve_app: tuple[int, LocalStore]) -> None:
    port, store = serve_app

    async def main() -> None:
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.AudioEncoderServiceStub(ch)
            results: tuple[Any, ...] = await asyncio.gather(
                stub.EncodeAudio(_req(store, 1.0, 0.5), timeout=60),
                stub.EncodeAudio(_req(store, 2.0), timeout=60),
                stub.EncodeAudio(_req(store, 6.0), timeout=60),  # too long: fails alone
                return_exceptions=True,
            )
            a, b, bad = results
            assert [f.clip.num_frames for f in a.features] == [25, 13]
            assert [f.clip.num_frames for f in b.features] == [50]
            assert isinstance(bad, grpc.aio.AioRpcError)
            assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "tracks[0]" in (bad.details() or "") and "Traceback" not in (bad.details() or "")
            again = await stub.EncodeAudio(_req(store, 2.0), timeout=60)
            assert again.features[0].cache_hit
            feats = np.load(store.root / store.key_of(b.features[0].clip.artifact.uri))
            assert feats.shape == (50, 160) and np.isfinite(feats).all()
            health = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.EncodeAudio(_req(store, 1.0, backend="hubert"), timeout=60)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            # Ray's proxy drops trailing metadata on errors; the field leads the message.
            assert (e.value.details() or "").startswith("backend: unknown backend 'hubert'")
            back = error_from_rpc(e.value)
            assert isinstance(back, InvalidInput) and back.field == "backend"

    asyncio.run(main())
