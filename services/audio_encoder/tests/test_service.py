"""The audio encoder over gRPC (our bootstrap), from the CLI, and on Ray Serve."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.config import PlatformSettings
from dyad.media import wav_bytes
from dyad.rpc import insecure_channel
from dyad.services.audio_encoder.__main__ import build_server
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.storage import LocalStore
from dyad.testing import run_cli
from dyad.timebase import SAMPLE_RATE as SR
from dyad.v1 import audio_encoder_service_pb2 as pb
from dyad.v1 import audio_encoder_service_pb2_grpc as pb_grpc
from dyad.v1 import common_pb2


def tone(seconds: float, rate: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def track(ref: Any, speaker: Any = common_pb2.SPEAKER_A) -> common_pb2.AudioTrack:
    return common_pb2.AudioTrack(speaker=speaker, artifact=ref.to_proto())


def run_with_server(tmp_path: Path, test: Any, **settings: Any) -> None:
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    server = build_server(platform, AudioEncoderSettings(max_duration_s=5.0, **settings))

    async def main() -> None:
        port = await server.start()
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            before = await health_pb2_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(service="dyad.v1.AudioEncoderService")
            )
            assert before.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await server.warm_up_and_serve()
        try:
            async with insecure_channel(f"127.0.0.1:{port}") as ch:
                await test(pb_grpc.AudioEncoderServiceStub(ch), LocalStore(tmp_path / "store"), ch)
        finally:
            await server.stop(0.5)

    asyncio.run(main())


def test_encode_two_speakers_then_cache_hit(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore, ch: Any) -> None:
        a = store.put_bytes(wav_bytes(tone(1.0), SR), "audio/wav")
        b = store.put_bytes(wav_bytes(tone(2.0, 22_050), 22_050), "audio/wav")
        req = pb.EncodeAudioRequest(tracks=[track(a), track(b, common_pb2.SPEAKER_B)])
        resp = await stub.EncodeAudio(req, timeout=60)
        clips = [f.clip for f in resp.features]
        assert [(c.num_frames, c.dim, c.fps, c.backend) for c in clips] == [
            (25, 160, 25, "mel"),
            (50, 160, 25, "mel"),
        ]
        assert [c.speaker for c in clips] == [common_pb2.SPEAKER_A, common_pb2.SPEAKER_B]
        assert not any(f.cache_hit for f in resp.features)
        feats = np.load(store.root / store.key_of(clips[1].artifact.uri))
        assert feats.shape == (50, 160)
        again = await stub.EncodeAudio(req, timeout=60)
        assert all(f.cache_hit for f in again.features)
        assert [f.clip.artifact.uri for f in again.features] == [c.artifact.uri for c in clips]
        health = health_pb2_grpc.HealthStub(ch)
        status = await health.Check(
            health_pb2.HealthCheckRequest(service="dyad.v1.AudioEncoderService")
        )
        assert status.status == health_pb2.HealthCheckResponse.SERVING

    run_with_server(tmp_path, t)


def test_bad_requests_get_clear_status(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore, _ch: Any) -> None:
        good = store.put_bytes(wav_bytes(tone(0.5), SR), "audio/wav")
        nan = tone(0.5)
        nan[3] = np.nan
        import io

        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, nan, SR, format="WAV", subtype="FLOAT")
        cases = {
            "tracks": pb.EncodeAudioRequest(),
            "backend": pb.EncodeAudioRequest(tracks=[track(good)], backend="hubert"),
            "fps": pb.EncodeAudioRequest(tracks=[track(good)], fps=30),
            "model_id": pb.EncodeAudioRequest(tracks=[track(good)], model_id="large"),
            "tracks[0].artifact.uri": pb.EncodeAudioRequest(tracks=[common_pb2.AudioTrack()]),
            "tracks[1]": pb.EncodeAudioRequest(
                tracks=[track(good), track(store.put_bytes(wav_bytes(tone(6.0), SR)))]
            ),
            "tracks[0].artifact": pb.EncodeAudioRequest(
                tracks=[track(store.put_bytes(b"junk" * 50))]
            ),
            "tracks[0].artifact ": pb.EncodeAudioRequest(
                tracks=[track(store.put_bytes(buf.getvalue()))]
            ),
        }
        for field, req in cases.items():
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.EncodeAudio(req, timeout=30)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, e.value.details())
            assert dict(e.value.trailing_metadata())["dyad-error-field"] == field.strip(), (
                e.value.details()
            )
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.EncodeAudio(pb.EncodeAudioRequest(tracks=[track(good)], backend="wav2vec2"))
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "DYAD_AUDIO_MODEL_DIR" in (e.value.details() or "")
        missing = common_pb2.ArtifactRef(uri=store.uri("cas/sha256/aa/" + "a" * 64))
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.EncodeAudio(
                pb.EncodeAudioRequest(tracks=[common_pb2.AudioTrack(artifact=missing)])
            )
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        # The server survived all of it.
        ok = await stub.EncodeAudio(pb.EncodeAudioRequest(tracks=[track(good)]), timeout=30)
        assert ok.features[0].clip.num_frames == 13

    run_with_server(tmp_path, t)


def test_cli_encode(tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    wav.write_bytes(wav_bytes(tone(1.0, 44_100), 44_100))
    out = tmp_path / "f.npy"
    r = run_cli("audio", "encode", "--audio", str(wav), "--backend", "mfcc", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"frames": 25, "dim": 39, "fps": 25}
    assert np.load(out).shape == (25, 39)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nope" * 100)
    r = run_cli("audio", "encode", "--audio", str(bad), "--out", str(out))
    assert r.returncode == 2 and r.stderr.startswith("dyad: --audio") and r.stderr.count("\n") == 1
    r = run_cli(
        "audio",
        "encode",
        "--audio",
        str(wav),
        "--backend",
        "wav2vec2",
        "--model-dir",
        str(tmp_path / "none"),
        "--out",
        str(out),
    )
    assert r.returncode == 2 and "DYAD_AUDIO_MODEL_DIR" in r.stderr and "Traceback" not in r.stderr
