"""The wav2vec2 backend on tiny random models saved to local directories (no hub, no network)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import Wav2Vec2ForCTC, Wav2Vec2Model

from dyad.errors import ConfigError
from dyad.services.audio_encoder import alignment
from dyad.services.audio_encoder.backend import FeatureBackend
from dyad.services.audio_encoder.wav2vec2 import (
    Wav2Vec2Backend,
    interpolate_cnn_features,
    load_wav2vec2,
    normalise,
    save_tiny_random_model,
)
from dyad.testing.data import tiny_wav2vec2_config as tiny_config
from dyad.timebase import SAMPLE_RATE as SR

os.environ["HF_HUB_OFFLINE"] = "1"


def _wave(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _encode(backend: Wav2Vec2Backend, waves: list[np.ndarray]) -> list[np.ndarray]:
    return backend.encode_batch(waves, [alignment.frame_count(w.size) for w in waves])


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("w2v")
    return {
        norm: save_tiny_random_model(root / norm, norm=norm, seed=1) for norm in ("layer", "group")
    }


@pytest.fixture(scope="module", params=["layer", "group"])
def backend(request: pytest.FixtureRequest, model_dirs: dict[str, Path]) -> Wav2Vec2Backend:
    return Wav2Vec2Backend(model_dirs[request.param], max_batch=2)


def test_round_trip_and_hash(tmp_path: Path) -> None:
    d = save_tiny_random_model(tmp_path / "m", hidden_size=32)
    assert (d / "config.json").is_file() and (d / "model.safetensors").is_file()
    a, b = Wav2Vec2Backend(d), Wav2Vec2Backend(d)
    assert isinstance(a, FeatureBackend)
    assert a.name == "wav2vec2" and a.dim == 32
    a.warm_up()
    w = [_wave(1.0)]
    np.testing.assert_array_equal(_encode(a, w)[0], _encode(b, w)[0])
    assert a.config_hash() == b.config_hash()
    assert len(a.config_hash()) == 64

    model = load_wav2vec2(d)
    assert not model.training
    with torch.no_grad():
        model.encoder.layers[0].feed_forward.output_dense.bias[0] += 0.5
    model.save_pretrained(d)
    c = Wav2Vec2Backend(d)
    assert c.config_hash() != a.config_hash()
    assert np.abs(_encode(c, w)[0] - _encode(a, w)[0]).max() > 1e-3


@pytest.mark.parametrize("n", [640, 16_000, 479_200, 100])
def test_frame_counts(model_dirs: dict[str, Path], n: int) -> None:
    backend = Wav2Vec2Backend(model_dirs["layer"])
    want = -(-n * 25 // SR)
    (out,) = backend.encode_batch([_wave(n / SR)], [alignment.frame_count(n)])
    assert out.shape == (want, 32) and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_zero_frames_and_mismatched_counts(backend: Wav2Vec2Backend) -> None:
    out = backend.encode_batch([np.zeros(0, np.float32), _wave(0.2)], [0, 5])
    assert out[0].shape == (0, 32) and out[1].shape == (5, 32)
    with pytest.raises(Exception, match="num_frames"):
        backend.encode_batch([_wave(0.2)], [5, 5])


@pytest.mark.parametrize(
    ("length", "frames"),
    [(49, 25), (49, 1), (1, 7), (3, 10), (10, 10), (2, 0), (74, 749), (1497, 749)],
)
def test_interpolation_matches_alignment(length: int, frames: int) -> None:
    feats = np.random.default_rng(length).standard_normal((length, 6)).astype(np.float32)
    ours = interpolate_cnn_features(torch.from_numpy(feats), frames).numpy()
    ref = alignment.interpolate_frames(feats, frames)
    assert ours.shape == ref.shape == (frames, 6)
    # torch computes source positions in float32, alignment in float64: the weights may differ
    # by about one float32 ulp of the position (~6e-8 · L), times the step between features.
    step = np.abs(np.diff(feats, axis=0)).max() if length > 1 else 0.0
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 + 1.2e-7 * length * step)


def test_matches_transformers_forward_without_resampling(backend: Wav2Vec2Backend) -> None:
    # With T == the CNN frame count the interpolation is the identity, so the pipeline must equal
    # the stock Wav2Vec2Model forward on the normalised waveform.
    wave = _wave(1.0, seed=3)
    n_cnn = int(backend.model._get_feat_extract_output_lengths(wave.size))
    (ours,) = backend.encode_batch([wave], [n_cnn])
    with torch.inference_mode():
        ref = backend.model(torch.from_numpy(normalise(wave))[None]).last_hidden_state[0]
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-5)


def test_normalisation_is_per_utterance(backend: Wav2Vec2Backend) -> None:
    w = _wave(1.3, seed=4)
    a, b = _encode(backend, [w, w * 10.0])
    assert np.abs(a - b).max() < 1e-4
    (c,) = _encode(backend, [w + 0.2])  # a DC offset is removed too
    assert np.abs(a - c).max() < 1e-4


def test_batch_equals_one_by_one(backend: Wav2Vec2Backend) -> None:
    waves = [_wave(0.5, 5), _wave(1.3, 6), _wave(2.0, 7), _wave(100 / SR, 8), _wave(0.9, 9)]
    batched = _encode(backend, waves)  # max_batch=2: three chunks, sorted by length
    for wave, got in zip(waves, batched, strict=True):
        (alone,) = _encode(backend, [wave])
        assert got.shape == alone.shape
        assert np.abs(got - alone).max() < 1e-4
    big = Wav2Vec2Backend.from_model(backend.model, backend.config_hash(), max_batch=8)
    for got, ref in zip(_encode(big, waves[:3]), batched[:3], strict=True):
        assert np.abs(got - ref).max() < 1e-4


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def _bad_dirs(tmp: Path, good: Path) -> list[Path]:
    missing = tmp / "nope"
    empty = tmp / "empty"
    empty.mkdir()
    no_weights = tmp / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_bytes((good / "config.json").read_bytes())
    bad_json = tmp / "bad_json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    (bad_json / "model.safetensors").write_bytes((good / "model.safetensors").read_bytes())
    truncated = tmp / "truncated"
    truncated.mkdir()
    (truncated / "config.json").write_bytes((good / "config.json").read_bytes())
    (truncated / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    return [missing, empty, no_weights, bad_json, truncated]


@pytest.mark.parametrize("make", [load_wav2vec2, Wav2Vec2Backend])
def test_bad_model_dirs(
    tmp_path: Path, model_dirs: dict[str, Path], no_network: list[object], make: object
) -> None:
    assert callable(make)
    for bad in _bad_dirs(tmp_path, model_dirs["layer"]):
        with pytest.raises(ConfigError) as info:
            make(bad)
        assert info.value.setting == "DYAD_AUDIO_MODEL_DIR"
        assert str(bad) in info.value.message
        assert "Traceback" not in info.value.message and "\n" not in info.value.message
    with pytest.raises(ConfigError) as info:
        load_wav2vec2(tmp_path / "nope", setting="OTHER_DIR")
    assert info.value.setting == "OTHER_DIR"
    assert no_network == []


def test_ctc_checkpoint_loads_as_base_model(tmp_path: Path) -> None:
    torch.manual_seed(2)
    ctc = Wav2Vec2ForCTC(tiny_config(vocab_size=12)).eval()
    ctc.save_pretrained(tmp_path / "ctc")
    keys = load_file(tmp_path / "ctc" / "model.safetensors").keys()
    assert "lm_head.weight" in keys and all(k.startswith(("wav2vec2.", "lm_head.")) for k in keys)
    model = load_wav2vec2(tmp_path / "ctc")
    assert type(model) is Wav2Vec2Model
    want = ctc.wav2vec2.state_dict()
    got = model.state_dict()
    assert got.keys() == want.keys()
    for k, v in want.items():
        assert torch.equal(got[k], v), k
    wave = torch.from_numpy(normalise(_wave(0.7)))[None]
    with torch.inference_mode():
        np.testing.assert_array_equal(
            model(wave).last_hidden_state.numpy(), ctc.wav2vec2(wave).last_hidden_state.numpy()
        )


def test_legacy_bin_checkpoint_with_weight_norm_g_v(tmp_path: Path) -> None:
    # The lv60-self release ships pytorch_model.bin with ``wav2vec2.`` prefixes and the old
    # weight_norm names (weight_g / weight_v); a silent random positional conv would be wrong.
    torch.manual_seed(3)
    ref = Wav2Vec2Model(tiny_config()).eval()
    legacy = {
        "wav2vec2."
        + k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v.clone()
        for k, v in ref.state_dict().items()
    }
    assert any(k.endswith("pos_conv_embed.conv.weight_g") for k in legacy)
    d = tmp_path / "legacy"
    ref.config.save_pretrained(d)
    torch.save(legacy, d / "pytorch_model.bin")
    model = load_wav2vec2(d)
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def test_checkpoint_missing_weights_is_config_error(
    tmp_path: Path, model_dirs: dict[str, Path]
) -> None:
    d = tmp_path / "partial"
    d.mkdir()
    (d / "config.json").write_bytes((model_dirs["layer"] / "config.json").read_bytes())
    weights = load_file(model_dirs["layer"] / "model.safetensors")
    save_file(
        {k: v for k, v in weights.items() if "pos_conv_embed" not in k},
        d / "model.safetensors",
        metadata={"format": "pt"},
    )
    with pytest.raises(ConfigError, match="pos_conv_embed"):
        load_wav2vec2(d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "hubert"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="not a wav2vec2 config"):
        load_wav2vec2(d)
