"""The ``neural`` motion backend: DualTalk (+ RSATalker social fusion) checkpoints.

Checkpoints are local directories (``config.json`` + ``model.safetensors``). The default is
the bundled one trained by ``dyad train motion`` on our synthetic corpus; ``model_id`` picks
another directory under ``DYAD_MOTION_MODELS_ROOT`` (``@serve.multiplexed`` in the Ray
deployment keeps a few loaded per replica). Nothing is downloaded.

Conversation-level path (what the pipeline uses): both speakers' mel features (25 fps, computed
once by the audio encoder stage and passed in — this service never encodes audio) → the
procedural animator gives each speaker a first motion → the model predicts each speaker given
the other's motion, both in one batched pass (``generate_pair``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dyad import checkpoint
from dyad.errors import InvalidInput
from dyad.features_io import FeatureShape, check_feature_shapes
from dyad.services.motion.settings import PREFIX, MotionSettings

BUNDLED = Path(__file__).resolve().parents[1] / "checkpoints" / "dualtalk-social-arkit55-synth"
_WANTS = "the neural motion model"


def resolve_model_dir(settings: MotionSettings, model_id: str = "") -> tuple[Path, str]:
    """The directory for ``model_id`` ("" → the default) and the setting that names it."""
    return checkpoint.resolve_model_dir(
        model_id,
        default=BUNDLED,
        configured=settings.model_dir,
        models_root=settings.models_root,
        prefix=PREFIX,
    )


class NeuralMotion:
    """Loaded checkpoints (a small LRU) and the conversation-level generation."""

    def __init__(self, settings: MotionSettings, *, max_models: int = 3) -> None:
        self.settings = settings
        self._models: checkpoint.ModelCache[Any] = checkpoint.ModelCache(max_models)

    def model(self, model_id: str = "") -> Any:
        # torch and transformers load with the first neural request, not with the service.
        from dyad.services.motion.neural.model import load_pretrained

        directory, setting = resolve_model_dir(self.settings, model_id)
        return self._models.get(str(directory), lambda: load_pretrained(directory, setting=setting))

    def check_inputs(
        self,
        model_id: str,
        rig: str,
        frames: int,
        features: tuple[FeatureShape, FeatureShape] | None,
    ) -> Any:
        """The model for ``model_id`` if it can animate ``rig`` from these inputs; checked
        before any motion is computed. Feature models need both speakers' features with the
        model's ``audio_dim`` columns (the audio encoder's ``mel``)."""
        model = self.model(model_id)
        if model.config.rig != rig:
            raise InvalidInput(
                "rig", f"model {model_id or 'default'} is for {model.config.rig}, not {rig}"
            )
        if model.config.audio_input == "features":
            if features is None:
                raise InvalidInput(
                    "features_a",
                    "required by the neural backend: encode both tracks with the audio encoder "
                    f"(backend mel, {model.config.audio_dim} dims) and pass features_a/b",
                )
            check_feature_shapes(
                features, frames, model.config.audio_dim, field="features", wants=_WANTS
            )
        return model

    def generate(
        self,
        model: Any,
        track_a: np.ndarray,
        track_b: np.ndarray,
        first_a: np.ndarray,
        first_b: np.ndarray,
        relation: tuple[bool, bool] | None,
        *,
        features: tuple[np.ndarray, np.ndarray] | None = None,
        seed: int = 0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Both speakers' motion; ``first_*`` is each speaker's given motion (``[T, C]``).
        Feature models get ``features`` (``[T, audio_dim]`` each, as ``check_inputs`` accepted
        them); waveform models (the authors' release converted by ``dyad motion
        convert-released``) the tracks normalised as the release did. ``seed`` draws a
        variation-latent model's prior sequence."""
        # Both import torch: like ``model``'s, these imports wait for the first neural request.
        from dyad.services.motion.neural.generate import generate_pair

        if model.config.audio_input == "waveform":
            from dyad.services.motion.neural.released import normalise_waveform

            inputs = normalise_waveform(track_a), normalise_waveform(track_b)
        else:
            assert features is not None  # check_inputs refused a feature model without them
            inputs = features
        return generate_pair(model, *inputs, first_a, first_b, relation, seed=seed)
