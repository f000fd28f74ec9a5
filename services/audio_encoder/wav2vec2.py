"""wav2vec 2.0 features, computed the way the released DualTalk code computes them.

The release runs ``Wav2Vec2Model`` with a custom forward: the 50 Hz CNN features are linearly
interpolated (``align_corners=True``) to the ``T`` motion frames *before* the feature projection
and the transformer encoder, and the encoder's last hidden state ``[T, hidden]`` is the audio
feature. Audio is normalised per utterance like ``Wav2Vec2Processor``
(``(x - mean) / sqrt(var + 1e-7)``). This module reproduces that for batches of tracks, with
results equal (within float tolerance) to encoding each track alone.

Models load only from a local directory in Hugging Face layout; nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2Config, Wav2Vec2Model
from transformers.utils import logging as transformers_logging

from dyad.errors import ConfigError, InvalidInput
from dyad.services.audio_encoder.alignment import Span, window_positions
from dyad.testing.data import tiny_wav2vec2_config

#: Smallest input the standard CNN turns into one frame (its receptive field).
MIN_SAMPLES = 400
#: Hashed with the files: bump when the pipeline below changes its output.
PIPELINE_VERSION = "wav2vec2-interp-before-encoder/1"
_CHUNK = 1 << 20
_SAFE, _SAFE_INDEX = "model.safetensors", "model.safetensors.index.json"
_BIN, _BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"


def _weight_files(model_dir: Path) -> list[Path]:
    """The weight files ``from_pretrained`` would read, in its order of preference."""
    for single, index in ((_SAFE, _SAFE_INDEX), (_BIN, _BIN_INDEX)):
        if (model_dir / single).is_file():
            return [model_dir / single]
        if (model_dir / index).is_file():
            shards = sorted(set(json.loads((model_dir / index).read_text())["weight_map"].values()))
            return [model_dir / index, *(model_dir / s for s in shards)]
    return []


def _check_dir(model_dir: Path, setting: str) -> list[Path]:
    """Validate the layout before transformers sees it; return the weight files."""
    if not model_dir.is_dir():
        raise ConfigError(setting, f"wav2vec2 model directory {model_dir} does not exist")
    config = model_dir / "config.json"
    if not config.is_file():
        raise ConfigError(setting, f"no config.json in wav2vec2 model directory {model_dir}")
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(setting, f"unreadable {config}: {exc}") from exc
    if not isinstance(cfg, dict) or cfg.get("model_type", "wav2vec2") != "wav2vec2":
        raise ConfigError(setting, f"{config} is not a wav2vec2 config")
    try:
        files = _weight_files(model_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(setting, f"unreadable weight index in {model_dir}: {exc}") from exc
    if not files:
        raise ConfigError(
            setting, f"no weights ({_SAFE} or {_BIN}) in wav2vec2 model directory {model_dir}"
        )
    if missing := [f for f in files if not f.is_file()]:
        raise ConfigError(setting, f"missing weight shard {missing[0]}")
    return [config, *files]


def _hash_files(files: list[Path], setting: str) -> str:
    h = hashlib.sha256(f"wav2vec2\0{PIPELINE_VERSION}\0".encode())
    try:
        for f in files:
            h.update(f"{f.name}\0".encode())
            with f.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {exc.filename}: {exc.strerror}") from exc
    return h.hexdigest()


def load_wav2vec2(
    model_dir: str | Path, *, setting: str = "DYAD_AUDIO_MODEL_DIR", device: str = "cpu"
) -> Wav2Vec2Model:
    """Load a ``Wav2Vec2Model`` (float32, eval mode) from a local Hugging Face directory.

    Full ``Wav2Vec2ForCTC`` checkpoints (weights under ``wav2vec2.``, plus ``lm_head``) load
    too: transformers strips the base-model prefix and ignores the head. Legacy ``.bin``
    checkpoints with ``weight_g``/``weight_v`` are renamed by transformers' legacy mapping.
    Any problem is a ``ConfigError`` naming ``setting``; weights missing from the checkpoint
    (which transformers would silently initialise at random) are one too.
    """
    transformers_logging.disable_progress_bar()  # service logs are JSON lines, not bars
    path = Path(model_dir).expanduser()
    _check_dir(path, setting)
    try:
        loaded = Wav2Vec2Model.from_pretrained(
            str(path), local_files_only=True, dtype=torch.float32, output_loading_info=True
        )
        model, info = cast(tuple[Wav2Vec2Model, dict[str, Any]], loaded)
    except Exception as exc:  # transformers raises OSError, ValueError, RuntimeError, ...
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(
            setting, f"cannot load wav2vec2 from {path}: {type(exc).__name__}: {first}"
        ) from exc
    missing = sorted(k for k in info["missing_keys"] if k != "masked_spec_embed")
    bad = missing + sorted(str(k) for k in info["mismatched_keys"])
    if bad:
        raise ConfigError(
            setting, f"checkpoint in {path} lacks or mismatches {len(bad)} weights, e.g. {bad[0]}"
        )
    model.to(device)  # type: ignore[arg-type]  # transformers' decorated ``to`` confuses mypy
    return model.eval()


def interpolate_cnn_features(features: torch.Tensor, num_frames: int) -> torch.Tensor:
    """``[L, C]`` CNN features → ``[num_frames, C]`` (linear, ``align_corners=True``).

    Same semantics as ``alignment.interpolate_frames`` (and the DualTalk release).
    """
    if num_frames == 0:
        return features.new_zeros((0, features.shape[1]))
    x = features.transpose(0, 1)[None]  # [1, C, L]
    y = F.interpolate(x, size=num_frames, mode="linear", align_corners=True)
    return y[0].transpose(0, 1)


def normalise(wave: np.ndarray, span: Span | None = None) -> np.ndarray:
    """Zero mean, unit variance over the track's own samples (over the whole clip's, for a
    window with a span); zero-padded to ``MIN_SAMPLES``."""
    x = np.asarray(wave, dtype=np.float64)
    if span is not None:
        x = (x - span.clip_mean) / np.sqrt(span.clip_var + 1e-7)
    elif x.size:
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    if x.size < MIN_SAMPLES:
        x = np.pad(x, (0, MIN_SAMPLES - x.size))
    return x.astype(np.float32)


class Wav2Vec2Backend:
    """``FeatureBackend`` over a local wav2vec2 checkpoint (DualTalk's feature)."""

    name = "wav2vec2"
    dim: int

    def __init__(
        self,
        model_dir: str | Path,
        *,
        setting: str = "DYAD_AUDIO_MODEL_DIR",
        device: str = "cpu",
        max_batch: int = 8,
    ) -> None:
        path = Path(model_dir).expanduser()
        digest = _hash_files(_check_dir(path, setting), setting)
        self._setup(load_wav2vec2(path, setting=setting, device=device), digest, max_batch)

    @classmethod
    def from_model(
        cls, model: Wav2Vec2Model, config_hash: str, *, max_batch: int = 8
    ) -> Wav2Vec2Backend:
        """Wrap an in-memory model (benchmarks); ``config_hash`` is the caller's."""
        self = cls.__new__(cls)
        self._setup(model.eval(), config_hash, max_batch)
        return self

    def _setup(self, model: Wav2Vec2Model, digest: str, max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.model = model
        self.dim = int(model.config.hidden_size)
        self.max_batch = max_batch
        self._hash = digest
        first = next(model.parameters())
        self._device, self._dtype = first.device, first.dtype
        # GroupNorm (``feat_extract_norm == "group"``, base models) normalises each channel over
        # *time* in the first conv layer, so zero padding a short track to the batch's longest
        # changes its statistics and hence every frame: such CNNs run one track at a time.
        # LayerNorm CNNs ("layer", large/lv60 models) normalise each frame over channels, and
        # the unpadded convolutions' valid frames never see the padding: batching is exact.
        self._batch_cnn = model.config.feat_extract_norm == "layer"
        #: Samples per CNN frame (320 for every published wav2vec2: 16 kHz → 50 Hz).
        self._hop = int(np.prod(model.config.conv_stride))

    def config_hash(self) -> str:
        return self._hash

    def warm_up(self) -> None:
        rng = np.random.default_rng(0)
        self.encode_batch([rng.standard_normal(16_000).astype(np.float32)], [25])

    def encode_batch(
        self,
        waves: list[np.ndarray],
        num_frames: list[int],
        spans: list[Span | None] | None = None,
    ) -> list[np.ndarray]:
        if len(waves) != len(num_frames):
            raise InvalidInput("num_frames", f"{len(num_frames)} counts for {len(waves)} tracks")
        if any(t < 0 for t in num_frames):
            raise InvalidInput("num_frames", "negative frame count")
        spans = spans or [None] * len(waves)
        out = [np.zeros((t, self.dim), dtype=np.float32) for t in num_frames]
        # Longest first, so each chunk pads little; results go back in the caller's order.
        todo = sorted((i for i, t in enumerate(num_frames) if t > 0), key=lambda i: -waves[i].size)
        with torch.inference_mode():
            for start in range(0, len(todo), self.max_batch):
                idx = todo[start : start + self.max_batch]
                feats = self._encode_chunk(
                    [normalise(waves[i], spans[i]) for i in idx],
                    [num_frames[i] for i in idx],
                    [spans[i] for i in idx],
                )
                for i, f in zip(idx, feats, strict=True):
                    out[i] = f
        return out

    def _cnn(self, waves: list[np.ndarray]) -> list[torch.Tensor]:
        """Per track ``[L_i, C]`` CNN features, ``L_i`` = the model's output length of ``N_i``."""
        cnn = self.model.feature_extractor
        lengths = [int(self.model._get_feat_extract_output_lengths(w.size)) for w in waves]
        if not self._batch_cnn:
            return [
                cnn(torch.from_numpy(w)[None].to(self._device, self._dtype))[0].T[:n]
                for w, n in zip(waves, lengths, strict=True)
            ]
        shape = (len(waves), max(w.size for w in waves))
        batch = torch.zeros(shape, device=self._device, dtype=self._dtype)
        for b, w in enumerate(waves):
            batch[b, : w.size] = torch.from_numpy(w)
        feats = cnn(batch).transpose(1, 2)  # [B, L, C]
        return [feats[b, :n] for b, n in enumerate(lengths)]

    def _align(self, feats: torch.Tensor, num_frames: int, span: Span | None) -> torch.Tensor:
        """``[L, C]`` CNN features → ``[num_frames, C]`` motion-frame features.

        A whole clip goes through ``F.interpolate`` exactly as the release does; a window
        samples the whole clip's positions (``alignment.window_positions``) so that windows
        line up with a one-shot encoding.
        """
        if span is None:
            return interpolate_cnn_features(feats, num_frames)
        pos = window_positions(
            span,
            num_frames,
            feats.shape[0],
            lambda n: int(self.model._get_feat_extract_output_lengths(n)),
            self._hop,
        )
        p = torch.from_numpy(np.clip(pos, 0, feats.shape[0] - 1)).to(feats.device)
        lo = p.long().clamp(max=feats.shape[0] - 1)
        hi = (lo + 1).clamp(max=feats.shape[0] - 1)
        w = (p - lo.to(p.dtype))[:, None].to(feats.dtype)
        return feats[lo] + w * (feats[hi] - feats[lo])

    def _encode_chunk(
        self, waves: list[np.ndarray], num_frames: list[int], spans: list[Span | None]
    ) -> list[np.ndarray]:
        cnn = self._cnn(waves)
        t_max = max(num_frames)
        hidden = cnn[0].new_zeros((len(waves), t_max, cnn[0].shape[1]))
        mask = torch.zeros((len(waves), t_max), dtype=torch.bool, device=self._device)
        for b, (f, t, span) in enumerate(zip(cnn, num_frames, spans, strict=True)):
            hidden[b, :t] = self._align(f, t, span)
            mask[b, :t] = True
        projected, _ = self.model.feature_projection(hidden)
        # The encoder zeroes masked frames before its positional convolution (whose own padding
        # is zeros) and masks them as attention keys, so padded rows never reach real ones.
        last = self.model.encoder(projected, attention_mask=mask).last_hidden_state
        return [last[b, :t].float().cpu().numpy() for b, t in enumerate(num_frames)]


def save_tiny_random_model(
    model_dir: str | Path,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    norm: str = "layer",
    seed: int = 0,
) -> Path:
    """Save a random-initialised tiny ``Wav2Vec2Model`` (safetensors) into ``model_dir``."""
    cfg = tiny_wav2vec2_config(hidden_size=hidden_size, num_layers=num_layers, norm=norm)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Wav2Vec2Model(cfg)
    path = Path(model_dir)
    model.save_pretrained(path)
    return path


def base_size_config() -> Wav2Vec2Config:
    """wav2vec2-base sizes (768-d, 12 layers, group-norm CNN), for the benchmark."""
    return Wav2Vec2Config(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        conv_dim=(512,) * 7,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
    )
