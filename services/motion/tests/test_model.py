"""The DualTalk motion model: shapes, variants, social fusion, validation, persistence (the
manifest, generate_pair and the variation latent have their own modules)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from dyad.errors import ConfigError, InvalidInput
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import load_pretrained, save_pretrained
from dyad.services.motion.neural.parts import alignment_mask

from .model_helpers import (
    HEAD_PARAMS,
    inputs,
    make,
    one_thread,  # noqa: F401 (the fixture)
    small,
    tiny_waveform,
)

pytestmark = pytest.mark.usefixtures("one_thread")

# --- shapes, determinism ----------------------------------------------------------------------


_GRID = list(itertools.product(["arkit55", "flame56"], ["paper", "released"], [False, True]))


@pytest.mark.parametrize(("rig", "variant", "social"), _GRID)
def test_shapes(rig: str, variant: str, social: bool) -> None:
    cfg = small(rig=rig, variant=variant, social=social)
    assert cfg.motion_dim == {"arkit55": 55, "flame56": 56}[rig]
    out = make(cfg)(*inputs(cfg, b=3, t=17), torch.tensor([[1, 0], [0, 1], [1, 1]]))
    assert out.shape == (3, 17, cfg.motion_dim)
    assert torch.isfinite(out).all()


def test_default_size_shapes_and_count() -> None:
    for rig, c in (("arkit55", 55), ("flame56", 56)):
        cfg = MotionModelConfig(rig=rig, social=True)
        with torch.no_grad():
            out = make(cfg)(*inputs(cfg, t=40), torch.tensor([[1, 1], [0, 0]]))
        assert out.shape == (2, 40, c)
    # The release's head with 160-d mel in (−864·256) and 55 channels (−128 − 513).
    expected = HEAD_PARAMS - (1024 - 160) * 256 - 128 - 513
    assert sum(p.numel() for p in make(MotionModelConfig()).parameters()) == expected


def test_determinism_in_eval_and_dropout_in_train() -> None:
    cfg = small(social=True)
    x = inputs(cfg)
    rel = torch.tensor([[1, 0], [0, 1]])
    a, b = make(cfg), make(cfg)
    with torch.no_grad():
        y = a(*x, rel)
        assert torch.equal(y, a(*x, rel))
        assert torch.equal(y, b(*x, rel))  # same seed, same weights
        a.train()
        assert not torch.allclose(a(*x, rel), a(*x, rel))


# --- social -----------------------------------------------------------------------------------


def test_relation_changes_output_and_equal_relations_match() -> None:
    cfg = small(social=True)
    model = make(cfg)
    audio_self, audio_partner, motion = inputs(cfg, b=1)
    rels = [(0, 0), (0, 1), (1, 0), (1, 1)]
    with torch.no_grad():
        outs = [
            model(audio_self, audio_partner, motion, torch.tensor([r], dtype=torch.float32))
            for r in rels
        ]
        for i, j in itertools.combinations(range(4), 2):
            assert (outs[i] - outs[j]).abs().max() > 1e-4, (rels[i], rels[j])
        # A batch with equal relations and equal inputs → equal rows; long dtype works too.
        both = model(
            *(x.repeat(2, 1, 1) for x in (audio_self, audio_partner, motion)),
            torch.tensor([[1, 0], [1, 0]]),
        )
        torch.testing.assert_close(both[0], both[1])
        torch.testing.assert_close(both[:1], outs[2], rtol=1e-5, atol=1e-5)


def test_relation_validation_and_non_social_ignores_it() -> None:
    cfg = small(social=True)
    model = make(cfg)
    x = inputs(cfg)
    for bad in (
        None,
        torch.tensor([[1, 0]]),
        torch.tensor([[2, 0], [0, 0]]),
        [[0.5, float("nan")]] * 2,
    ):
        with pytest.raises(InvalidInput) as e:
            model(*x, bad)
        assert e.value.field == "relation"
    plain = make(small())
    with torch.no_grad():
        torch.testing.assert_close(plain(*x), plain(*x, torch.tensor([[1, 1], [0, 0]])))


# --- paper variant: alignment mask and PPE ----------------------------------------------------


def test_alignment_mask_is_diagonal() -> None:
    mask = alignment_mask(6, 6)
    assert torch.equal(mask, ~torch.eye(6, dtype=torch.bool))  # True = blocked
    assert torch.equal(make(small()).memory_mask(6, torch.device("cpu")), mask)
    assert make(small(variant="released")).memory_mask(6, torch.device("cpu")) is None


def _decoder_sensitivity(variant: str, t: int = 24, frame: int = 9) -> torch.Tensor:
    """Run a real forward, capture what reaches the decoder, then perturb one memory frame
    and return which output frames of the decoder change."""
    model = make(small(variant=variant))
    seen: dict[str, Any] = {}

    def grab(_module: Any, args: tuple[Any, ...]) -> None:
        seen["args"] = args

    model.synthesis_module.register_forward_pre_hook(grab)
    with torch.no_grad():
        model(*inputs(model.config, b=1, t=t))
        tgt, memory, mask, offset = seen["args"]
        assert offset is None  # no variation latent
        ppe = model.ppe(t, memory) if variant == "paper" else torch.zeros(())
        torch.testing.assert_close(tgt, memory + ppe)  # tgt = memory (+ PPE in eval mode)
        other = memory.clone()
        other[:, frame] += torch.randn(memory.shape[-1])
        base = model.synthesis_module.decode(tgt, memory, mask)
        changed = model.synthesis_module.decode(tgt, other, mask)
    return (changed - base).abs().amax(dim=(0, 2)) > 1e-6


def test_paper_decoder_cross_attention_sees_only_its_own_frame() -> None:
    changed = _decoder_sensitivity("paper", frame=9)
    assert changed.nonzero().flatten().tolist() == [9]
    # Without the mask (released) one memory frame reaches every output frame.
    assert bool(_decoder_sensitivity("released", frame=9).all())


def test_periodic_positional_encoding_and_no_length_limit() -> None:
    cfg = small(period=5, max_len=16)
    model = make(cfg)
    ref = torch.zeros(1, 1, cfg.interaction_dim)
    ppe = model.ppe(40, ref)  # longer than max_len: extended, not an error
    assert ppe.shape == (40, cfg.interaction_dim)
    torch.testing.assert_close(ppe[:5], ppe[5:10])
    torch.testing.assert_close(ppe[3], ppe[38])
    assert all((ppe[i] - ppe[j]).abs().max() > 1e-3 for i, j in itertools.combinations(range(5), 2))
    assert make(cfg)(*inputs(cfg, b=1, t=40)).shape == (1, 40, 56)


# --- forward input validation -----------------------------------------------------------------


def test_forward_rejects_bad_shapes() -> None:
    cfg = small()
    model = make(cfg)
    a, p, m = inputs(cfg, t=10)
    cases = {
        "audio_self": (a[..., :5], p, m),
        "audio_partner": (a, p[:, :9], m),
        "motion_partner": (a, p, m[..., :55]),
    }
    for field, args in cases.items():
        with pytest.raises(InvalidInput) as e:
            model(*args)
        assert e.value.field == field
    wave = make(tiny_waveform())
    with pytest.raises(InvalidInput) as e:
        wave(torch.zeros(1, 100), torch.zeros(1, 100), torch.zeros(1, 1, 56))
    assert e.value.field == "audio_self"
    with pytest.raises(InvalidInput) as e:
        wave(torch.zeros(1, 16000), torch.zeros(1, 16000), torch.zeros(1, 24, 56))
    assert e.value.field == "motion_partner"


# --- config -----------------------------------------------------------------------------------


def test_config_round_trip_and_validation() -> None:
    cfg = tiny_waveform()
    again = MotionModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.to_dict() == json.loads(json.dumps(cfg.to_dict()))
    assert MotionModelConfig.from_dict(MotionModelConfig().to_dict()) == MotionModelConfig()
    W2V = "config.wav2vec2_config"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"bogus": 1}, "config.bogus"),
        ({"rig": "smplx"}, "config.rig"),
        ({"variant": "v2"}, "config.variant"),
        ({"audio_input": "mp3"}, "config.audio_input"),
        ({"social": "yes"}, "config.social"),
        ({"feature_dim": 0}, "config.feature_dim"),
        ({"feature_dim": 30}, "config.feature_dim"),  # not divisible by 4 heads
        ({"num_heads": True}, "config.num_heads"),
        ({"dropout": 1.0}, "config.dropout"),
        ({"period": -1}, "config.period"),
        ({"audio_input": "waveform"}, "config.audio_dim"),  # 160 ≠ large's 1024
        ({"wav2vec2_config": {"hidden_size": 32}}, W2V),  # with features input
        ({"audio_input": "waveform", "wav2vec2_config": {"conv_dim": [8]}}, W2V),
    ]
    for d, field in bad:
        with pytest.raises(InvalidInput) as e:
            MotionModelConfig.from_dict(d)
        assert e.value.field == field, d
    with pytest.raises(InvalidInput) as e:
        MotionModelConfig.from_dict([1, 2])
    assert e.value.field == "config"


# --- persistence ------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    cfg = small(social=True)
    model = make(cfg, seed=3)
    out = save_pretrained(model, tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_pretrained(out)
    assert loaded.config == cfg and not loaded.training
    x, rel = inputs(cfg), torch.tensor([[0, 1], [1, 0]])
    with torch.no_grad():
        assert torch.equal(model(*x, rel), loaded(*x, rel))
    assert not any(t.is_meta for t in [*loaded.parameters(), *loaded.buffers()])


def test_save_load_round_trip_waveform(tmp_path: Path) -> None:
    model = make(tiny_waveform())
    loaded = load_pretrained(save_pretrained(model, tmp_path))
    cnn = loaded.joint_encoder.audio_encoder1.feature_extractor
    assert not any(p.requires_grad for p in cnn.parameters())
    w, m = torch.randn(1, 8000), torch.zeros(1, 13, 56)
    with torch.no_grad():
        assert torch.equal(model(w, w, m), loaded(w, w, m))


def test_load_errors_name_the_setting(tmp_path: Path) -> None:
    good = save_pretrained(make(small()), tmp_path / "good")
    other = save_pretrained(make(small(feature_dim=16, lstm_hidden=8)), tmp_path / "other")

    def fails(directory: Path, needle: str) -> None:
        with pytest.raises(ConfigError) as e:
            load_pretrained(directory, setting="MY_SETTING")
        assert e.value.setting == "MY_SETTING" and needle in str(e.value), str(e.value)

    fails(tmp_path / "missing", "does not exist")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(empty, "config.json")
    no_weights = tmp_path / "no_weights"
    no_weights.mkdir()
    (no_weights / "config.json").write_bytes((good / "config.json").read_bytes())
    fails(no_weights, "model.safetensors")
    (good / "config.json").write_text("{not json")
    fails(good, "bad")
    (good / "config.json").write_text(json.dumps({**small().to_dict(), "variant": "v9"}))
    fails(good, "config.variant")
    # Weights of another size under this config: strict load refuses.
    (good / "config.json").write_text(json.dumps(small().to_dict()))
    (good / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    fails(good, "does not fit")
    (good / "model.safetensors").write_bytes(b"\x00" * 20)
    fails(good, "unreadable")


# --- training sanity --------------------------------------------------------------------------


def test_a_few_training_steps_reduce_the_loss() -> None:
    cfg = small(social=True, dropout=0.0)
    model = make(cfg)
    x = inputs(cfg, b=4, t=24, seed=5)
    rel = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    target = 0.5 * torch.sin(torch.linspace(0, 6, 24))[None, :, None] * torch.ones(4, 24, 56)

    def loss() -> torch.Tensor:
        return torch.nn.functional.mse_loss(model(*x, rel), target)

    with torch.no_grad():
        before = float(loss())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(25):
        opt.zero_grad()
        loss().backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.5 * before, (before, after)
