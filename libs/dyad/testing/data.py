"""Small, deterministic domain data for tests: a hand-made conversation timeline and smooth,
in-range motion clips (no service is needed to make them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dyad.domain import Emotion, Identity, Relation, Segment, Timeline
from dyad.rigs import get_rig
from dyad.timebase import FPS, SAMPLE_RATE

#: (speaker, start_s, end_s, emotion) of the default timeline's sentences.
TURNS = [("a", 0.2, 2.8, "happy"), ("b", 3.1, 5.6, "sad"), ("a", 5.9, 7.6, "neutral")]


def make_timeline(duration: float = 8.0, turns: list | None = None) -> Timeline:
    """Three turns (A, B, A) with emotions and one backchannel of B inside A's first turn."""
    segs = [
        Segment(s, "sentence", "words", a, b, Emotion(e, 0.5), i)
        for i, (s, a, b, e) in enumerate(TURNS if turns is None else turns)
    ]
    segs.append(Segment("b", "backchannel", "uh-huh", 1.0, 1.4))
    segs.sort(key=lambda s: s.start_s)
    return Timeline(
        SAMPLE_RATE,
        duration,
        {"a": Identity("Ana", "adult"), "b": Identity("Ben", "teen")},
        Relation(True, False),
        "studio",
        tuple(segs),
    )


def smooth_motion(frames: int, seed: int, rig: str = "arkit55") -> np.ndarray:
    """A smooth, in-range clip ``[T, C]`` (sums of slow sines)."""
    r = get_rig(rig)
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / FPS
    freq = rng.uniform(0.1, 1.0, (1, r.num_channels))
    phase = rng.uniform(0, 2 * np.pi, (1, r.num_channels))
    x = 0.5 + 0.3 * np.sin(2 * np.pi * freq * t + phase)
    if rig == "arkit55":
        x[:, -3:] = 0.2 * np.sin(2 * np.pi * freq[:, -3:] * t + phase[:, -3:])
    else:
        x = x - 0.5
    return r.clip(x.astype(np.float32))


def tiny_wav2vec2_config(
    *, hidden_size: int = 32, num_layers: int = 2, norm: str = "layer", **extra: Any
) -> Any:
    """A tiny wav2vec2 config with the standard 320× CNN downsampling (tests, benchmarks):
    the audio encoder's backend and the motion model's released variant both build on it."""
    from transformers import Wav2Vec2Config  # only the tests that build a wav2vec2 pay for it

    if norm not in ("layer", "group"):
        raise ValueError(f"norm must be 'layer' or 'group', not {norm!r}")
    return Wav2Vec2Config(
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        # Positional conv width: the default (real models) is 128; keep it >= 2.
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        feat_extract_norm=norm,
        do_stable_layer_norm=norm == "layer",
        **extra,
    )


def dualtalk_demo_clip(root: Path, split: str = "test", clip: str = "clip") -> None:
    """One clip laid out like DualTalk's public demo files under ``root/split``: 29.95 s of
    float audio per speaker with 750 motion frames (one more than ``ceil(samples / 640)``) and
    the DECA/EMOCA keys (``shape``, ``tex``, ``exp``, ``pose``, ``cam``, ``light``)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    (root / split).mkdir(parents=True, exist_ok=True)
    n = int(29.95 * SAMPLE_RATE)
    shapes = {
        "shape": (750, 100),
        "tex": (750, 50),
        "exp": (750, 50),
        "pose": (750, 6),
        "cam": (750, 3),
        "light": (750, 9, 3),
    }
    for s in ("1", "2"):
        audio = (rng.standard_normal(n) * 0.1).astype(np.float32)
        sf.write(root / split / f"{clip}_speaker{s}.wav", audio, SAMPLE_RATE, subtype="FLOAT")
        arrays: dict[str, Any] = {
            k: (rng.standard_normal(v) * 0.1).astype(np.float32) for k, v in shapes.items()
        }
        np.savez(root / split / f"{clip}_speaker{s}.npz", **arrays)
