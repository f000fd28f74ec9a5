"""The ``neural`` motion backend: DualTalk (+ RSATalker social fusion) checkpoints.

Checkpoints are local directories (``config.json`` + ``model.safetensors``). The default is
the bundled one trained by ``dyad train motion`` on our synthetic corpus; ``model_id`` picks
another directory under ``DYAD_MOTION_MODELS_ROOT`` (``@serve.multiplexed`` in the Ray
deployment keeps a few loaded per replica). Nothing is downloaded.

Conversation-level path (what the pipeline uses): both tracks → mel features (25 fps, the
audio encoder's core) → the procedural animator gives each speaker a first motion → the model
predicts each speaker given the other's motion, both in one batched pass (``generate_pair``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import ConfigError, InvalidInput
from dyad.services.motion.settings import PREFIX, MotionSettings

BUNDLED = Path(__file__).resolve().parent / "checkpoints" / "dualtalk-social-arkit55-synth"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def resolve_model_dir(settings: MotionSettings, model_id: str = "") -> tuple[Path, str]:
    """The directory for ``model_id`` ("" → the default) and the setting that names it."""
    if not model_id:
        if settings.model_dir is not None:
            return settings.model_dir, f"{PREFIX}MODEL_DIR"
        return BUNDLED, f"{PREFIX}MODEL_DIR"
    if not _MODEL_ID.match(model_id):
        raise InvalidInput("model_id", "1–128 of [A-Za-z0-9_.-], starting with a letter or digit")
    if settings.models_root is None:
        raise ConfigError(f"{PREFIX}MODELS_ROOT", f"not set: cannot resolve model_id {model_id!r}")
    return settings.models_root / model_id, f"{PREFIX}MODELS_ROOT"


class NeuralMotion:
    """Loaded checkpoints (a small LRU) and the conversation-level generation."""

    def __init__(self, settings: MotionSettings, *, max_models: int = 3) -> None:
        self.settings = settings
        self.max_models = max_models
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._mel: Any = None

    def model(self, model_id: str = "") -> Any:
        from dyad.services.motion.model import load_pretrained

        directory, setting = resolve_model_dir(self.settings, model_id)
        key = str(directory)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            model = load_pretrained(directory, setting=setting)
            self._models[key] = model
            while len(self._models) > self.max_models:
                self._models.popitem(last=False)
            return model

    def features(self, wave: np.ndarray, num_frames: int) -> np.ndarray:
        """Mel features ``[T, 160]`` at 25 fps, trimmed or edge-padded to ``num_frames``."""
        if self._mel is None:
            from dyad.services.audio_encoder.core import AudioEncoder, load_backend
            from dyad.services.audio_encoder.settings import AudioEncoderSettings

            s = AudioEncoderSettings()
            self._mel = AudioEncoder(load_backend("mel", s), s)
        f = self._mel.encode([wave])[0]
        if f.shape[0] >= num_frames:
            return f[:num_frames]
        return np.pad(f, ((0, num_frames - f.shape[0]), (0, 0)), mode="edge")

    def generate(
        self,
        track_a: np.ndarray,
        track_b: np.ndarray,
        first_a: np.ndarray,
        first_b: np.ndarray,
        relation: tuple[bool, bool] | None,
        *,
        rig: str,
        model_id: str = "",
        seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both speakers' motion; ``first_*`` is each speaker's given motion (``[T, C]``).
        Feature models get mel features; waveform models (the authors' release converted by
        ``dyad motion convert-released``) the tracks normalised as the release did. ``seed``
        draws a variation-latent model's prior sequence."""
        from dyad.services.motion.model import generate_pair

        model = self.model(model_id)
        if model.config.rig != rig:
            raise InvalidInput(
                "rig", f"model {model_id or 'default'} is for {model.config.rig}, not {rig}"
            )
        t = first_a.shape[0]
        if model.config.audio_input == "waveform":
            from dyad.services.motion.released import normalise_waveform

            inputs = normalise_waveform(track_a), normalise_waveform(track_b)
        else:
            inputs = self.features(track_a, t), self.features(track_b, t)
        return generate_pair(model, *inputs, first_a, first_b, relation, seed=seed)
