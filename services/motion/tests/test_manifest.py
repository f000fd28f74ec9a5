"""The ``released`` variant's state-dict manifest: the release's module structure, names and
shapes (written from reading the release's model definition), wav2vec2-large on meta."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel, state_dict_table

from .model_helpers import (
    HEAD_PARAMS,
    make,
    one_thread,  # noqa: F401 (the fixture)
    small,
    tiny_waveform,
)

pytestmark = pytest.mark.usefixtures("one_thread")

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
WAV2VEC2_LARGE_PARAMS = 315_438_720


def _head(model: torch.nn.Module) -> dict[str, list[int]]:
    return {k: v for k, v in state_dict_table(model).items() if ".audio_encoder" not in k}


def test_released_manifest_with_tiny_wav2vec2() -> None:
    model = make(tiny_waveform())
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
