"""The neural backend through the service and the CLI (`generate`, `inspect`)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.config import PlatformSettings
from dyad.errors import ConfigError, InvalidInput
from dyad.features_io import features_bytes
from dyad.motion_io import load_motion, save_motion
from dyad.rpc import insecure_channel
from dyad.services.motion.__main__ import build_server
from dyad.services.motion.core import shapes_of
from dyad.services.motion.neural.backend import NeuralMotion, resolve_model_dir
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel, save_pretrained
from dyad.services.motion.neural.released import released_config
from dyad.services.motion.settings import MotionSettings
from dyad.storage import LocalStore
from dyad.testing import CliResult, run_cli
from dyad.testing.data import tiny_wav2vec2_config as tiny_config
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2_grpc as pb_grpc

from .conftest import request
from .spoken import Spoken

TINY = {"feature_dim": 32, "lstm_hidden": 16, "encoder_layers": 1, "num_heads": 2}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.manual_seed(0)
    model = DualTalkModel(MotionModelConfig(rig="arkit55", social=True, **TINY))
    return save_pretrained(model, tmp_path_factory.mktemp("ckpt") / "tiny")


def features(store: LocalStore, conv: Spoken, dim: int = 160) -> dict[str, c.FeatureClip]:
    """Both speakers' feature clips in the store, as the audio encoder hands them over
    (random values: the model only needs their shape here)."""
    frames = -(-conv.track_a.size // 640)
    rng = np.random.default_rng(dim)
    out = {}
    for name in ("features_a", "features_b"):
        arr = rng.standard_normal((frames, dim)).astype(np.float32)
        ref = store.put_bytes(features_bytes(arr), "application/x-npy")
        out[name] = c.FeatureClip(
            backend="mel", fps=25, num_frames=frames, dim=dim, artifact=ref.to_proto()
        )
    return out


def test_neural_backend_over_grpc(conv: Spoken, ckpt: Path, tmp_path: Path) -> None:
    platform = PlatformSettings(store_uri=f"file://{tmp_path / 'store'}", grpc_port=0)
    settings = MotionSettings(model_dir=ckpt, models_root=ckpt.parent)
    server = build_server(platform, settings)

    async def main() -> None:
        port = await server.start()
        await server.warm_up_and_serve()
        try:
            async with insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = pb_grpc.MotionServiceStub(ch)
                store = LocalStore(tmp_path / "store")
                feats = features(store, conv)
                neural = await stub.GenerateMotion(
                    request(conv, store, backend="neural", seed=1, **feats), timeout=120
                )
                proc = await stub.GenerateMotion(request(conv, store, seed=1), timeout=120)
                mn = load_motion(store.get_bytes(neural.motion_a.artifact.uri)).motion
                mp = load_motion(store.get_bytes(proc.motion_a.artifact.uri)).motion
                assert mn.shape == mp.shape and not np.allclose(mn, mp)
                named = await stub.GenerateMotion(
                    request(conv, store, backend="neural", model_id="tiny", seed=1, **feats),
                    timeout=120,
                )
                assert named.motion_a.artifact.sha256 == neural.motion_a.artifact.sha256
                for model_id, code in (
                    ("../etc", grpc.StatusCode.INVALID_ARGUMENT),
                    ("missing", grpc.StatusCode.FAILED_PRECONDITION),
                ):
                    with pytest.raises(grpc.aio.AioRpcError) as e:
                        await stub.GenerateMotion(
                            request(conv, store, backend="neural", model_id=model_id, **feats),
                            timeout=60,
                        )
                    assert e.value.code() == code, e.value.details()
                # Refused before any motion is computed, each naming its field: another rig,
                # no features (the service never encodes audio), features of another encoder.
                bad = {
                    "rig": request(conv, store, backend="neural", rig="flame56", **feats),
                    "features_a": request(conv, store, backend="neural"),
                    "features_a.dim": request(
                        conv, store, backend="neural", **features(store, conv, dim=768)
                    ),
                }
                for field, req in bad.items():
                    with pytest.raises(grpc.aio.AioRpcError) as e:
                        await stub.GenerateMotion(req, timeout=60)
                    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                    assert dict(e.value.trailing_metadata())["dyad-error-field"] == field
        finally:
            await server.stop(0.5)

    asyncio.run(main())


def test_model_resolution(tmp_path: Path) -> None:
    s = MotionSettings(models_root=tmp_path)
    assert resolve_model_dir(s, "m1") == (tmp_path / "m1", "DYAD_MOTION_MODELS_ROOT")
    with pytest.raises(InvalidInput):
        resolve_model_dir(s, "a/b")
    with pytest.raises(ConfigError) as e:
        resolve_model_dir(MotionSettings(), "m1")
    assert e.value.setting == "DYAD_MOTION_MODELS_ROOT"


def cli(*args: str) -> CliResult:
    return run_cli(*args)


def test_cli_inspect_released() -> None:
    r = cli("motion", "inspect", "--variant", "released", "--json")
    assert r.returncode == 0, r.stderr
    table: dict[str, Any] = json.loads(r.stdout)
    enc = [k for k in table if k.startswith("joint_encoder.audio_encoder1.")]
    assert enc and len([k for k in table if "audio_encoder2.encoder.layers." in k]) > 0
    layers = {
        int(k.split("encoder.layers.")[1].split(".")[0])
        for k in table
        if "audio_encoder1.encoder.layers." in k
    }
    assert layers == set(range(24))
    assert table["joint_encoder.audio_projection.weight"] == [256, 1024]
    assert table["synthesis_module.blendshape_predictor.weight"][0] == 56


def test_cli_generate(ckpt: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    fa, fb = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(fa, rng.standard_normal((260, 160)).astype(np.float32))
    np.save(fb, rng.standard_normal((260, 160)).astype(np.float32))
    r = cli(
        "motion",
        "generate",
        "--features-a",
        str(fa),
        "--features-b",
        str(fb),
        "--relation",
        "1,0",
        "--model-dir",
        str(ckpt),
        "--out",
        str(tmp_path / "both"),
    )
    assert r.returncode == 0, r.stderr
    assert load_motion(tmp_path / "both" / "motion_b.npz").motion.shape == (260, 55)
    partner = save_motion(tmp_path / "p.npz", np.zeros((260, 55), np.float32), "arkit55")
    r = cli(
        "motion",
        "generate",
        "--features-a",
        str(fa),
        "--features-b",
        str(fb),
        "--motion-partner",
        str(partner),
        "--relation",
        "1,0",
        "--model-dir",
        str(ckpt),
        "--out",
        str(tmp_path / "one"),
    )
    assert r.returncode == 0, r.stderr
    assert load_motion(tmp_path / "one" / "motion.npz").motion.shape == (260, 55)
    r = cli(
        "motion",
        "generate",
        "--features-a",
        str(fa),
        "--features-b",
        str(fb),
        "--relation",
        "yes",
        "--model-dir",
        str(ckpt),
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode == 2 and r.stderr.startswith("dyad: --relation")
    r = cli(
        "motion",
        "generate",
        "--features-a",
        str(fa),
        "--features-b",
        str(fb),
        "--model-dir",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "x"),
    )
    assert r.returncode == 2 and "--model-dir" in r.stderr and "Traceback" not in r.stderr


def test_cli_convert_released_rejects_a_bad_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "DualTalk.pth"
    junk.write_bytes(b"not a checkpoint")
    r = cli("motion", "convert-released", "--checkpoint", str(junk), "--out", str(tmp_path / "m"))
    assert r.returncode == 2
    assert r.stderr.startswith("dyad: --checkpoint:") and r.stderr.count("\n") == 1, r.stderr
    assert not (tmp_path / "m").exists()  # no partial output


def test_backend_seeds_the_latent_and_runs_waveform_models(tmp_path: Path) -> None:
    """A variation-latent checkpoint answers the request's seed; a waveform (release-shaped)
    checkpoint gets both tracks as normalised waveforms instead of mel features."""
    import torch

    torch.manual_seed(0)
    latent = MotionModelConfig(
        rig="arkit55", social=True, latent_dim=4, latent_group="face", **TINY
    )
    save_pretrained(DualTalkModel(latent), tmp_path / "latent")
    w2v = tiny_config().to_dict()
    wave_cfg = released_config(audio_dim=w2v["hidden_size"], wav2vec2_config=w2v, **TINY)
    save_pretrained(DualTalkModel(wave_cfg), tmp_path / "wave")
    neural = NeuralMotion(MotionSettings(models_root=tmp_path))
    rng = np.random.default_rng(0)
    ta, tb = (0.1 * rng.standard_normal(32_000).astype(np.float32) for _ in range(2))

    mel = tuple(rng.standard_normal((50, 160)).astype(np.float32) for _ in range(2))

    def run(model_id: str, rig: str, seed: int) -> np.ndarray:
        c = 55 if rig == "arkit55" else 56
        rest = np.zeros((50, c), np.float32)
        feats = mel if model_id == "latent" else None
        model = neural.check_inputs(model_id, rig, 50, shapes_of(feats))
        a, _ = neural.generate(model, ta, tb, rest, rest, (True, False), features=feats, seed=seed)
        assert a.shape == (50, c)
        return a

    s0 = run("latent", "arkit55", 0)
    assert np.array_equal(s0, run("latent", "arkit55", 0))
    assert not np.array_equal(s0, run("latent", "arkit55", 1))
    w = run("wave", "flame56", 0)
    assert np.isfinite(w).all() and np.array_equal(w, run("wave", "flame56", 5))  # no latent
    # the release normalised its input: a track's loudness does not change the result
    wave = neural.check_inputs("wave", "flame56", 50, None)
    louder, _ = neural.generate(wave, 4 * ta, 4 * tb, *(np.zeros((50, 56), np.float32),) * 2, None)
    np.testing.assert_allclose(louder, w, atol=1e-4)
