"""The denoiser: config validation, checkpoint round trip, the bundled checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dyad.errors import ConfigError, InvalidInput
from dyad.services.refiner.core import BUNDLED
from dyad.services.refiner.denoiser import (
    DenoiserConfig,
    RefinerDenoiser,
    load_pretrained,
    save_pretrained,
)
from dyad.services.refiner.sampler import SampleOptions, run_windows

from .conftest import tiny_model
from .test_sampler import job


def test_config_validation() -> None:
    for kw, field in (
        ({"rig": "mixamo"}, "config.rig"),
        ({"d_model": 30}, "config.d_model"),
        ({"scale_factors": (8, 1)}, "config.scale_factors"),
        ({"num_layers": 0}, "config.num_layers"),
        ({"dropout": 1.0}, "config.dropout"),
    ):
        with pytest.raises(InvalidInput) as e:
            DenoiserConfig(**kw)
        assert e.value.field == field
    with pytest.raises(InvalidInput) as e:
        DenoiserConfig.from_dict({"rig": "arkit55", "width": 3})
    assert e.value.field == "config.width"
    cfg = DenoiserConfig(rig="flame56", scale_factors=(1, 2))
    assert DenoiserConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.motion_dim == 56 and cfg.num_scales == 2


def test_fresh_model_is_the_identity_on_known_frames() -> None:
    model = RefinerDenoiser(DenoiserConfig(d_model=32, num_layers=1, num_heads=2, ff_dim=64))
    j = job(30, 1)
    res = run_windows(model, [j], SampleOptions(steps=2))[0]  # zero head: x̂0 = hint
    np.testing.assert_allclose(res.motion, j.hint, atol=1e-5)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = tiny_model(4)
    save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    loaded = load_pretrained(tmp_path / "m")
    assert loaded.config == model.config and not loaded.training
    for (k, v), (k2, v2) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert k == k2 and torch.equal(v, v2)
    assert float(loaded.motion_std[0]) == pytest.approx(0.37)  # statistics travel with weights
    opts = SampleOptions(steps=3, sampler="ancestral")
    a = run_windows(model, [job(40, 2, known=True)], opts)[0]
    b = run_windows(loaded, [job(40, 2, known=True)], opts)[0]
    assert np.array_equal(a.motion, b.motion)


def test_bad_checkpoints_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"DYAD_REFINER_MODEL_DIR: .*does not exist"):
        load_pretrained(tmp_path / "nope")
    d = save_pretrained(tiny_model(), tmp_path / "m")
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "d_model": 64}))
    with pytest.raises(ConfigError, match="does not fit its config"):
        load_pretrained(d, setting="X")
    (d / "config.json").write_text("{")
    with pytest.raises(ConfigError, match="X: bad"):
        load_pretrained(d, setting="X")
    (d / "model.safetensors").write_bytes(b"junk")
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="unreadable"):
        load_pretrained(d)


def test_bundled_checkpoint() -> None:
    files = {p.name for p in BUNDLED.iterdir()}
    assert {"config.json", "model.safetensors", "TRAINING.md", "train_log.jsonl"} <= files
    assert (BUNDLED / "model.safetensors").stat().st_size <= 10 * 2**20
    model = load_pretrained(BUNDLED)
    assert model.config.rig == "arkit55" and model.config.scale_factors == (1, 4, 8)
    assert bool((model.motion_std > 0).all()) and float(model.head.weight.detach().abs().sum()) > 0
