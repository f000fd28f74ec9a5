"""The DualTalk motion model: manifest, variants, social fusion, persistence, generate_pair."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dyad.errors import ConfigError, InvalidInput
from dyad.rigs import get_rig
from dyad.services.audio_encoder.wav2vec2 import tiny_config
from dyad.services.motion.model import (
    DualTalkModel,
    MotionModelConfig,
    generate_pair,
    load_pretrained,
    save_pretrained,
    state_dict_table,
)
from dyad.services.motion.model_parts import alignment_mask

# --- the release's head (flame56, d = 256, wav2vec2-large 1024-d features) -------------------
_ENC_LAYER = {
    "self_attn.in_proj_weight": [1536, 512],
    "self_attn.in_proj_bias": [1536],
    "self_attn.out_proj.weight": [512, 512],
    "self_attn.out_proj.bias": [512],
    "linear1.weight": [2048, 512],
    "linear1.bias": [2048],
    "linear2.weight": [512, 2048],
    "linear2.bias": [512],
    "norm1.weight": [512],
    "norm1.bias": [512],
    "norm2.weight": [512],
    "norm2.bias": [512],
}
_LSTM = {
    "weight_ih_l0": [512, 256],
    "weight_hh_l0": [512, 128],
    "bias_ih_l0": [512],
    "bias_hh_l0": [512],
    "weight_ih_l1": [512, 256],
    "weight_hh_l1": [512, 128],
    "bias_ih_l1": [512],
    "bias_hh_l1": [512],
}
EXPECTED_HEAD: dict[str, list[int]] = {
    "joint_encoder.audio_projection.weight": [256, 1024],
    "joint_encoder.audio_projection.bias": [256],
    "joint_encoder.blendshape_encoder.0.weight": [128, 56],
    "joint_encoder.blendshape_encoder.0.bias": [128],
    "joint_encoder.blendshape_encoder.2.weight": [256, 128],
    "joint_encoder.blendshape_encoder.2.bias": [256],
    "temporal_enhancer.cross_attention.in_proj_weight": [768, 256],
    "temporal_enhancer.cross_attention.in_proj_bias": [768],
    "temporal_enhancer.cross_attention.out_proj.weight": [256, 256],
    "temporal_enhancer.cross_attention.out_proj.bias": [256],
    **{f"temporal_enhancer.temporal_lstm.{k}": v for k, v in _LSTM.items()},
    **{f"temporal_enhancer.temporal_lstm.{k}_reverse": v for k, v in _LSTM.items()},
    **{
        f"interaction_module.interaction_encoder.layers.{i}.{k}": v
        for i in range(3)
        for k, v in _ENC_LAYER.items()
    },
    "interaction_module.self_attention.in_proj_weight": [1536, 512],
    "interaction_module.self_attention.in_proj_bias": [1536],
    "interaction_module.self_attention.out_proj.weight": [512, 512],
    "interaction_module.self_attention.out_proj.bias": [512],
    **{f"synthesis_module.synthesis_decoder.layers.0.{k}": v for k, v in _ENC_LAYER.items()},
    "synthesis_module.synthesis_decoder.layers.0.multihead_attn.in_proj_weight": [1536, 512],
    "synthesis_module.synthesis_decoder.layers.0.multihead_attn.in_proj_bias": [1536],
    "synthesis_module.synthesis_decoder.layers.0.multihead_attn.out_proj.weight": [512, 512],
    "synthesis_module.synthesis_decoder.layers.0.multihead_attn.out_proj.bias": [512],
    "synthesis_module.synthesis_decoder.layers.0.norm3.weight": [512],
    "synthesis_module.synthesis_decoder.layers.0.norm3.bias": [512],
    "synthesis_module.blendshape_predictor.weight": [56, 512],
    "synthesis_module.blendshape_predictor.bias": [56],
    "synthesis_module.modulation_layer.weight": [512, 512],
    "synthesis_module.modulation_layer.bias": [512],
}
HEAD_PARAMS = 16_359_608  # sum of the table (models.md §1.1: "≈16.4 M in the head")
WAV2VEC2_LARGE_PARAMS = 315_438_720


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """These models are tiny: one intra-op thread is as fast, and immune to OpenMP spin-waits
    when another process holds a core (measured 0.3 s vs 43 s for the training test)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _head(model: torch.nn.Module) -> dict[str, list[int]]:
    return {k: v for k, v in state_dict_table(model).items() if ".audio_encoder" not in k}


def _tiny_waveform(**kw: Any) -> MotionModelConfig:
    w2v = tiny_config().to_dict()
    return MotionModelConfig(
        rig="flame56", variant="released", audio_input="waveform", audio_dim=32,
        wav2vec2_config=w2v, **kw,
    )  # fmt: skip


def small(**kw: Any) -> MotionModelConfig:
    base: dict[str, Any] = dict(
        rig="flame56", audio_dim=20, feature_dim=32, lstm_hidden=16, num_heads=2,
        encoder_layers=1, max_len=64,
    )  # fmt: skip
    return MotionModelConfig(**{**base, **kw})


def make(config: MotionModelConfig, seed: int = 0) -> DualTalkModel:
    torch.manual_seed(seed)
    return DualTalkModel(config).eval()


def inputs(cfg: MotionModelConfig, b: int = 2, t: int = 30, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(b, t, cfg.audio_dim, generator=g),
        torch.randn(b, t, cfg.audio_dim, generator=g),
        0.3 * torch.randn(b, t, cfg.motion_dim, generator=g),
    ]


# --- manifest ---------------------------------------------------------------------------------


def test_released_manifest_with_tiny_wav2vec2() -> None:
    model = make(_tiny_waveform())
    expected = {**EXPECTED_HEAD, "joint_encoder.audio_projection.weight": [256, 32]}
    assert _head(model) == expected
    table = state_dict_table(model)
    for enc in ("audio_encoder1", "audio_encoder2"):
        assert table[f"joint_encoder.{enc}.feature_projection.projection.weight"] == [32, 32]
        cnn = getattr(model.joint_encoder, enc).feature_extractor
        assert not any(p.requires_grad for p in cnn.parameters())  # frozen, as released
        assert (
            getattr(model.joint_encoder, enc)
            .encoder.layers[0]
            .attention.q_proj.weight.requires_grad
        )
    # T = ceil(N / 16000 · 25) from audio_self; both encoders interpolated to it.
    n = 16_001
    out = model(torch.randn(2, n), torch.randn(2, n - 50), torch.zeros(2, 26, 56))
    assert out.shape == (2, 26, 56)


def test_released_manifest_wav2vec2_large_on_meta() -> None:
    cfg = MotionModelConfig(
        rig="flame56", variant="released", audio_input="waveform", audio_dim=1024
    )
    with torch.device("meta"):
        model = DualTalkModel(cfg)
    assert _head(model) == EXPECTED_HEAD
    assert sum(int(np.prod(v)) for v in EXPECTED_HEAD.values()) == HEAD_PARAMS
    table = state_dict_table(model)
    for enc in ("audio_encoder1", "audio_encoder2"):
        p = f"joint_encoder.{enc}."
        assert table[p + "feature_extractor.conv_layers.0.conv.weight"] == [512, 1, 10]
        assert table[p + "feature_projection.projection.weight"] == [1024, 512]
        assert table[p + "encoder.layers.23.attention.q_proj.weight"] == [1024, 1024]
        assert table[p + "encoder.layers.23.feed_forward.intermediate_dense.weight"] == [4096, 1024]
        assert p + "encoder.layers.24.attention.q_proj.weight" not in table
        assert table[p + "masked_spec_embed"] == [1024]
        n = sum(int(np.prod(v)) for k, v in table.items() if k.startswith(p))
        assert n == WAV2VEC2_LARGE_PARAMS
    assert sum(p.numel() for p in model.parameters()) == HEAD_PARAMS + 2 * WAV2VEC2_LARGE_PARAMS


def test_paper_and_released_share_the_state_dict_layout() -> None:
    tables = [
        state_dict_table(make(MotionModelConfig(rig="flame56", variant=v, audio_dim=1024)))
        for v in ("paper", "released")
    ]
    assert tables[0] == tables[1] == EXPECTED_HEAD  # mask and PPE carry no state
    social = state_dict_table(make(small(social=True)))
    assert social["social_module.blood_embedding"] == [2, 64]
    assert social["social_module.equal_embedding"] == [2, 64]
    assert social["social_module.motion_socialnet.0.weight"] == [64, 128]
    assert social["social_module.motion_socialnet.2.weight"] == [64, 64]


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
        both = model(*(x.repeat(2, 1, 1) for x in (audio_self, audio_partner, motion)),
                     torch.tensor([[1, 0], [1, 0]]))  # fmt: skip
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
    wave = make(_tiny_waveform())
    with pytest.raises(InvalidInput) as e:
        wave(torch.zeros(1, 100), torch.zeros(1, 100), torch.zeros(1, 1, 56))
    assert e.value.field == "audio_self"
    with pytest.raises(InvalidInput) as e:
        wave(torch.zeros(1, 16000), torch.zeros(1, 16000), torch.zeros(1, 24, 56))
    assert e.value.field == "motion_partner"


# --- config -----------------------------------------------------------------------------------


def test_config_round_trip_and_validation() -> None:
    cfg = _tiny_waveform()
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
    ]  # fmt: skip
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
    model = make(_tiny_waveform())
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


# --- generate_pair ----------------------------------------------------------------------------


def _conversation(cfg: MotionModelConfig, t: int, seed: int = 0) -> list[np.ndarray]:
    """Slowly varying features and motion, so that the output is smooth within a window."""
    rng = np.random.default_rng(seed)
    time = np.arange(t)[:, None] / 25.0

    def smooth(dim: int, scale: float) -> np.ndarray:
        freq, phase = rng.uniform(0.1, 0.6, dim), rng.uniform(0, 6.3, dim)
        return (scale * np.sin(2 * np.pi * freq * time + phase)).astype(np.float32)

    c = cfg.motion_dim
    return [smooth(cfg.audio_dim, 1.0), smooth(cfg.audio_dim, 1.0), smooth(c, 0.2), smooth(c, 0.2)]


@pytest.mark.parametrize("t", [120, 200, 460])
def test_generate_pair_lengths(t: int) -> None:
    cfg = small(social=True, rig="arkit55")
    model = make(cfg)
    fa, fb, pa, pb = _conversation(cfg, t)
    out_a, out_b = generate_pair(model, fa, fb, pa, pb, (True, False), window=200, overlap=50)
    rig = get_rig("arkit55")
    for out in (out_a, out_b):
        assert out.shape == (t, 55) and out.dtype == np.float32
        assert np.array_equal(out, rig.clip(out))
    if t <= 200:  # one window: exactly the model's two roles in one batch
        with torch.no_grad():
            ref = model(
                torch.from_numpy(np.stack([fa, fb])), torch.from_numpy(np.stack([fb, fa])),
                torch.from_numpy(np.stack([pb, pa])), torch.tensor([[1.0, 0.0]] * 2),
            ).numpy()  # fmt: skip
        np.testing.assert_allclose(out_a, rig.clip(ref[0]), atol=1e-5)
        np.testing.assert_allclose(out_b, rig.clip(ref[1]), atol=1e-5)
    # Swapping the speakers swaps the outputs; repeated calls are identical.
    swapped = generate_pair(model, fb, fa, pb, pa, (True, False), window=200, overlap=50)
    np.testing.assert_allclose(swapped[0], out_b, atol=1e-5)
    np.testing.assert_allclose(swapped[1], out_a, atol=1e-5)
    again = generate_pair(model, fa, fb, pa, pb, (True, False), window=200, overlap=50)
    assert np.array_equal(again[0], out_a) and np.array_equal(again[1], out_b)


def test_generate_pair_has_no_jumps_at_window_seams() -> None:
    # released: no PPE, whose period-25 signal would dominate a random model's frame steps;
    # flame56: a wide valid range, so nothing is clipped.
    cfg = small(rig="flame56", variant="released")
    model = make(cfg, seed=4)
    window, overlap, t = 100, 30, 230  # windows [0, 100) [70, 170) [130, 230)
    fa, fb, pa, pb = _conversation(cfg, t, seed=2)
    zone = np.zeros(t - 1, dtype=bool)  # steps i → i + 1 inside or touching an overlap
    for a, b in ((70, 100), (130, 170)):
        zone[a - 1 : b] = True
    for out in generate_pair(model, fa, fb, pa, pb, None, window=window, overlap=overlap):
        step = np.abs(np.diff(out, axis=0)).max(axis=1)
        # Hard cuts at the overlap midpoints would jump by ~35× the in-window step here.
        assert step[zone].max() <= 2.0 * step[~zone].max(), (step[zone].max(), step[~zone].max())


def test_generate_pair_waveform_model() -> None:
    model = make(_tiny_waveform())
    rng = np.random.default_rng(0)
    n = 46 * 640 - 100  # T = 46 frames, the last one partial
    wa, wb = rng.standard_normal((2, n)).astype(np.float32)
    zeros = np.zeros((46, 56), np.float32)
    out_a, out_b = generate_pair(model, wa, wb, zeros, zeros, None, window=20, overlap=5)
    assert out_a.shape == out_b.shape == (46, 56)
    assert np.isfinite(out_a).all() and not np.allclose(out_a, out_b)


def test_generate_pair_rejects_bad_inputs() -> None:
    cfg = small(social=True)
    model = make(cfg).train()
    fa, fb, pa, pb = _conversation(cfg, 30)
    nan = fb.copy()
    nan[3, 2] = np.nan
    rel = (False, True)
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("feats_a", (fa[:, :5], fb, pa, pb, rel), {}),
        ("feats_a", (fa.astype(str), fb, pa, pb, rel), {}),
        ("feats_b", (fa, nan, pa, pb, rel), {}),
        ("feats_b", (fa, fb[:29], pa, pb, rel), {}),
        ("partner_a", (fa, fb, pa[:29], pb, rel), {}),
        ("partner_b", (fa, fb, pa, pb[:, :55], rel), {}),
        ("partner_b", (fa, fb, pa, np.where(pb > 0, np.inf, pb), rel), {}),
        ("relation", (fa, fb, pa, pb, None), {}),
        ("relation", (fa, fb, pa, pb, (True,)), {}),
        ("relation", (fa, fb, pa, pb, (2, 0)), {}),
        ("window", (fa, fb, pa, pb, rel), {"window": 0}),
        ("overlap", (fa, fb, pa, pb, rel), {"window": 10, "overlap": 10}),
    ]
    for field, args, kw in cases:
        with pytest.raises(InvalidInput) as e:
            generate_pair(model, *args, **kw)
        assert e.value.field == field, (field, e.value)
    assert model.training  # the caller's mode is restored
    out_a, _ = generate_pair(model, fa[:0], fb[:0], pa[:0], pb[:0], rel)
    assert out_a.shape == (0, 56) and model.training


# --- the variation latent (model_parts.MotionVariation) ------------------------------------------


def _latent_model(seed: int = 0) -> DualTalkModel:
    cfg = small(rig="arkit55", social=True, latent_dim=4, latent_group="face", latent_stride=2)
    return make(cfg, seed)


def test_latent_config_validation() -> None:
    assert small(rig="arkit55", latent_group="face").latent_channels == [
        i for i, n in enumerate(get_rig("arkit55").channels)
        if n.startswith(("eye", "brow", "cheekSquint", "noseSneer"))
    ]  # fmt: skip
    assert small(rig="flame56").latent_channels == list(range(56))  # "": every channel
    for kw, field in (
        ({"latent_dim": -1}, "latent_dim"),
        ({"latent_stride": 0}, "latent_stride"),
        ({"latent_group": "face"}, "latent_group"),
    ):  # flame56 has no "face"
        with pytest.raises(InvalidInput, match=f"config.{field}"):
            small(rig="flame56", **kw)


def test_latent_drives_the_output_and_is_checked() -> None:
    model = _latent_model()
    cfg = model.config
    a, b, m = inputs(cfg, b=2, t=30)
    rel = torch.tensor([[1.0, 0.0]] * 2)
    z = torch.randn(2, 30, 4)
    with torch.no_grad():
        mode = model(a, b, m, rel)
        assert torch.equal(mode, model(a, b, m, rel, torch.zeros(2, 30, 4)))  # None = zeros
        assert not torch.allclose(model(a, b, m, rel, z), mode, atol=1e-4)
    with pytest.raises(InvalidInput, match=r"latent: expected \[2, 30, 4\]"):
        model(a, b, m, rel, torch.zeros(2, 29, 4))
    with pytest.raises(InvalidInput, match="latent"):
        make(small(rig="arkit55"))(a, b, m, None, z)  # a model without one


def test_latent_posterior_shapes_and_kl() -> None:
    var = _latent_model().variation
    assert var is not None
    target = torch.randn(3, 31, 23)
    mu, logvar = var.encode(target)
    assert mu.shape == logvar.shape == (3, 16, 4)  # ceil(31 / 2) steps
    z, kl = var.sample_posterior(target)
    assert z.shape == (3, 31, 4) and kl.shape == (4,)
    # steps sit at frames 0.5, 2.5, …: frames 1 and 2 interpolate between steps 0 and 1
    zs = mu + 0 * logvar  # (a posterior sample is random; check the interpolation on mu)
    up = var.upsample(zs, 31)
    torch.testing.assert_close(up[:, 1], 0.75 * zs[:, 0] + 0.25 * zs[:, 1])
    torch.testing.assert_close(up[:, 2], 0.25 * zs[:, 0] + 0.75 * zs[:, 1])
    torch.testing.assert_close(up[:, 0], zs[:, 0])  # held before the first centre
    want = 0.5 * (mu.square() + logvar.exp() - 1 - logvar).mean((0, 1))
    assert torch.allclose(kl, want) and bool((kl >= 0).all())
    prior = var.prior(31, np.random.default_rng(0))
    assert prior.shape == (31, 4) and np.isfinite(prior).all()
    raw = np.random.default_rng(0).standard_normal((16, 4))  # the draws behind it
    # no staircase: a frame moves at most half the way between two steps
    assert np.abs(np.diff(prior, axis=0)).max() <= 0.5 * np.abs(np.diff(raw, axis=0)).max() + 1e-5
    np.testing.assert_allclose(prior[0], raw[0], atol=1e-6)


def test_latent_generate_pair_is_seeded_and_seamless() -> None:
    model = _latent_model(seed=5)
    fa, fb, pa, pb = _conversation(model.config, 230, seed=3)
    rel = (True, False)

    def run(seed: int, window: int = 100, overlap: int = 30) -> tuple[np.ndarray, np.ndarray]:
        return generate_pair(model, fa, fb, pa, pb, rel, window=window, overlap=overlap, seed=seed)

    a0, b0 = run(0)
    assert all(np.array_equal(x, y) for x, y in zip(run(0), (a0, b0), strict=True))
    a1, _ = run(1)
    face = model.config.latent_channels
    assert np.abs(a1 - a0)[:, face].mean() > 1e-3  # another seed, another motion
    assert not np.allclose(a0, b0)  # each speaker has its own draw
    # One latent sequence per speaker for the whole clip, sliced by the windows (so overlaps
    # agree): what each window's rows receive is that sequence's slice.
    seen: list[torch.Tensor] = []
    hook = model.register_forward_pre_hook(lambda _m, args: seen.append(args[4].clone()))
    try:
        run(3)
    finally:
        hook.remove()
    assert model.variation is not None
    rng = np.random.default_rng(3)
    za, zb = (model.variation.prior(230, rng) for _ in range(2))
    rows = torch.cat(seen).numpy()  # [windows × 2, w, L]: A's row, then B's, per window
    for k, start in enumerate((0, 70, 130)):
        np.testing.assert_array_equal(rows[2 * k], za[start : start + 100])
        np.testing.assert_array_equal(rows[2 * k + 1], zb[start : start + 100])
    with pytest.raises(InvalidInput, match="seed"):
        run(-1)
