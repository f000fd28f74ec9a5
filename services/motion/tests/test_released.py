"""Loading the authors' DualTalk.pth: old weight-norm names, wrappers, strict key checks.

The real file (0.65 B parameters) is not here; a checkpoint written the way the release
wrote it — ``torch.save(model.state_dict())`` under transformers 4.26, whose wav2vec2
positional convolution used ``weight_g``/``weight_v`` — is made from a model with tiny
wav2vec2 encoders and the release's head at reduced width.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dyad.errors import InvalidInput
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import DualTalkModel
from dyad.services.motion.neural.released import (
    convert_state_dict,
    load_released,
    normalise_waveform,
    released_config,
)
from dyad.testing.data import tiny_wav2vec2_config as tiny_config

from .model_helpers import one_thread  # noqa: F401 (the fixture)

pytestmark = pytest.mark.usefixtures("one_thread")
POS_CONV = "joint_encoder.audio_encoder{}.encoder.pos_conv_embed.conv"


def _config() -> Any:
    w2v = tiny_config().to_dict()
    return released_config(
        audio_dim=w2v["hidden_size"],
        wav2vec2_config=w2v,
        feature_dim=32,
        lstm_hidden=16,
        encoder_layers=1,
    )


def _as_release_saved_it(model: DualTalkModel) -> dict[str, torch.Tensor]:
    """Our state dict with transformers-4.26 weight-norm names (what DualTalk.pth holds)."""
    out = {}
    for key, value in model.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g")
        out[key.replace("parametrizations.weight.original1", "weight_v")] = value.clone()
    return out


@pytest.fixture(scope="module")
def source() -> DualTalkModel:
    torch.manual_seed(3)
    return DualTalkModel(_config()).eval()


def test_release_config_is_the_papers_head() -> None:
    c = released_config()
    want = ("flame56", "released", "waveform", 1024)
    assert (c.rig, c.variant, c.audio_input, c.audio_dim) == want
    assert (c.feature_dim, c.lstm_hidden, c.encoder_layers, c.interaction_dim) == (256, 128, 3, 512)
    assert c.wav2vec2()["num_hidden_layers"] == 24


@pytest.mark.parametrize("wrap", ["plain", "dataparallel", "nested"])
def test_old_checkpoint_loads_strictly_and_predicts_the_same(
    source: DualTalkModel, tmp_path: Path, wrap: str
) -> None:
    old = _as_release_saved_it(source)
    assert f"{POS_CONV.format(1)}.weight_g" in old  # the file really has the old names
    assert not any("parametrizations" in k for k in old)
    if wrap == "dataparallel":
        old = {f"module.{k}": v for k, v in old.items()}
    payload: dict[str, Any] = {"state_dict": old} if wrap == "nested" else old
    path = tmp_path / "DualTalk.pth"
    torch.save(payload, path)

    model = load_released(path, _config())
    assert not model.training
    want, got = source.state_dict(), model.state_dict()
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want)
    rng = np.random.default_rng(0)
    wa, wb = (normalise_waveform(rng.standard_normal(16_000)) for _ in range(2))
    motion = 0.1 * rng.standard_normal((25, 56)).astype(np.float32)
    expect = generate_pair(source, wa, wb, motion, motion, None)
    for a, b in zip(generate_pair(model, wa, wb, motion, motion, None), expect, strict=True):
        np.testing.assert_array_equal(a, b)


def test_old_names_are_renamed_and_torch_accepts_them_too(source: DualTalkModel) -> None:
    old = _as_release_saved_it(source)
    renamed = convert_state_dict(old)
    assert f"{POS_CONV.format(2)}.parametrizations.weight.original1" in renamed
    assert renamed.keys() == source.state_dict().keys()
    # torch's parametrized weight norm registers a compatibility hook that maps weight_g /
    # weight_v itself: so even a plain strict load_state_dict of the old names works.
    plain = DualTalkModel(_config())
    plain.load_state_dict(old, strict=True)
    key = f"{POS_CONV.format(1)}.parametrizations.weight.original0"
    assert torch.equal(plain.state_dict()[key], source.state_dict()[key])


def test_mismatches_are_listed(source: DualTalkModel, tmp_path: Path) -> None:
    old = _as_release_saved_it(source)
    del old["synthesis_module.modulation_layer.bias"]
    old["extra.weight"] = torch.zeros(2)
    old["joint_encoder.blendshape_encoder.0.weight"] = torch.zeros(3, 3)
    path = tmp_path / "bad.pth"
    torch.save(old, path)
    with pytest.raises(InvalidInput) as err:
        load_released(path, _config())
    msg = str(err.value)
    assert err.value.field == "checkpoint"
    for part in (
        "missing 1 (synthesis_module.modulation_layer.bias)",
        "unexpected 1 (extra.weight)",
        "mis-shaped 1 (joint_encoder.blendshape_encoder.0.weight)",
    ):
        assert part in msg


def test_not_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is not a file"):
        load_released(tmp_path / "missing.pth", _config())
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InvalidInput, match="not a loadable torch state dict"):
        load_released(junk, _config())
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(InvalidInput, match="not a state dict"):
        load_released(listed, _config())
    with pytest.raises(InvalidInput, match="'epoch' is a int"):
        convert_state_dict({"a.weight": torch.zeros(1), "epoch": 3})


def test_normalise_waveform() -> None:
    x = normalise_waveform(3.0 + 2.0 * np.sin(np.linspace(0, 40, 8000)))
    assert x.dtype == np.float32
    assert abs(float(x.mean())) < 1e-5 and float(x.std()) == pytest.approx(1.0, abs=1e-4)
