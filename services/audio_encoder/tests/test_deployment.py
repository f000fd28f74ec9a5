"""The audio encoder on Ray Serve (the session's served stack), through Serve's gRPC proxy:
concurrent calls share batches, one caller's bad file fails only that caller, and the service
contract holds through the proxy."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.errors import InvalidInput
from dyad.media import wav_bytes
from dyad.rpc import error_from_rpc, insecure_channel
from dyad.storage import LocalStore
from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.timebase import SAMPLE_RATE as SR
from dyad.v1 import audio_encoder_service_pb2 as pb
from dyad.v1 import audio_encoder_service_pb2_grpc as pb_grpc
from dyad.v1 import common_pb2

pytestmark = pytest.mark.integration
APP = (("application", "audio_encoder"),)


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def _req(store: LocalStore, *seconds: float, **kw: Any) -> pb.EncodeAudioRequest:
    refs = [store.put_bytes(wav_bytes(_tone(s), SR), "audio/wav") for s in seconds]
    return pb.EncodeAudioRequest(
        tracks=[common_pb2.AudioTrack(artifact=r.to_proto()) for r in refs], **kw
    )


def test_concurrent_calls_through_the_proxy(served: ServedStack) -> None:
    store = served.store
    garbage = store.put_bytes(b"not audio at all", "audio/wav")
    bad_request = pb.EncodeAudioRequest(tracks=[common_pb2.AudioTrack(artifact=garbage.to_proto())])

    async def main() -> None:
        async with insecure_channel(served.endpoint) as ch:
            stub = pb_grpc.AudioEncoderServiceStub(ch)
            results: tuple[Any, ...] = await asyncio.gather(
                stub.EncodeAudio(_req(store, 1.0, 0.5), metadata=APP, timeout=60),
                stub.EncodeAudio(_req(store, 2.0), metadata=APP, timeout=60),
                stub.EncodeAudio(bad_request, metadata=APP, timeout=60),  # fails alone
                return_exceptions=True,
            )
            a, b, bad = results
            assert [f.clip.num_frames for f in a.features] == [25, 13]
            assert [f.clip.num_frames for f in b.features] == [50]
            assert isinstance(bad, grpc.aio.AioRpcError)
            assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "tracks[0]" in (bad.details() or "") and "Traceback" not in (bad.details() or "")
            again = await stub.EncodeAudio(_req(store, 2.0), metadata=APP, timeout=60)
            assert again.features[0].cache_hit
            feats = np.load(store.root / store.key_of(b.features[0].clip.artifact.uri))
            assert feats.shape == (50, 160) and np.isfinite(feats).all()
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.EncodeAudio(_req(store, 1.0, backend="hubert"), metadata=APP, timeout=60)
            back = error_from_rpc(e.value)
            assert isinstance(back, InvalidInput) and back.field == "backend"

    asyncio.run(main())


def test_service_contract_through_the_proxy(served: ServedStack) -> None:
    bad = ("EncodeAudio", pb.EncodeAudioRequest(), "tracks")
    check_served(
        served.grpc_port,
        "audio_encoder",
        pb_grpc.AudioEncoderServiceStub,
        "dyad.v1.AudioEncoderService",
        [bad],
    )
