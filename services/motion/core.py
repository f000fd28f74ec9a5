"""The motion service's entry points over the artefact store (no grpc or ray).

``MotionCore.animate`` takes both speakers' audio artefacts, the conversation's timeline and,
for the neural backend, both speakers' audio features (computed once by the audio encoder
stage), and returns both speakers' motion as DESIGN.md §2 motion files in the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dyad.domain import Identity, Relation, StoredFeatures, Timeline
from dyad.errors import InvalidInput
from dyad.features_io import FeatureShape, fit_frames, load_feature_pair
from dyad.media import load_audio
from dyad.motion_io import motion_bytes
from dyad.rigs import get_rig
from dyad.services.motion.neural.backend import BUNDLED, NeuralMotion
from dyad.services.motion.procedural.animator import ProceduralAnimator
from dyad.services.motion.settings import BACKENDS, RIGS, MotionSettings
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import SAMPLE_RATE, SAMPLES_PER_FRAME

NPZ = "application/x-npz"
_WANTS = "the neural motion model"


@dataclass(frozen=True)
class AnimatedPair:
    motion_a: np.ndarray  # [T, C]
    motion_b: np.ndarray  # [T, C]
    rig: str
    ref_a: ArtifactRef | None = None
    ref_b: ArtifactRef | None = None


def check_choice(value: str, choices: tuple[str, ...], field: str) -> str:
    if value not in choices:
        raise InvalidInput(field, f"unknown {field} {value!r}; available: {list(choices)}")
    return value


def read_track(data: bytes, field: str) -> np.ndarray:
    try:
        return load_audio(data)
    except InvalidInput as e:
        raise InvalidInput(field, e.reason) from None


def pair_tracks(
    a: np.ndarray, b: np.ndarray, max_duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Both tracks at one length: the shorter is zero-padded (up to 1 s difference allowed)."""
    for x, field in ((a, "track_a"), (b, "track_b")):
        if x.size == 0:
            raise InvalidInput(field, "empty audio")
        if not np.isfinite(x).all():
            raise InvalidInput(field, "NaN or Inf samples")
        if x.size / SAMPLE_RATE > max_duration_s:
            raise InvalidInput(
                field, f"longer than {max_duration_s:g} s (DYAD_MOTION_MAX_DURATION_S)"
            )
    if abs(a.size - b.size) > SAMPLE_RATE:
        raise InvalidInput(
            "track_b", f"lengths differ by {abs(a.size - b.size) / SAMPLE_RATE:.2f} s"
        )
    n = max(a.size, b.size)
    return np.pad(a, (0, n - a.size)), np.pad(b, (0, n - b.size))


class MotionCore:
    def __init__(self, store: ArtifactStore | None, settings: MotionSettings) -> None:
        self.store = store
        self.settings = settings
        self.procedural = ProceduralAnimator()
        self.neural = NeuralMotion(settings)

    def warm_up(self) -> None:
        """Animate one second of silence; load the default neural checkpoint when there is one
        (a configured ``DYAD_MOTION_MODEL_DIR`` that does not load fails here, loudly)."""
        tl = Timeline(
            SAMPLE_RATE, 1.0, {"a": Identity("A"), "b": Identity("B")}, Relation(), "studio", ()
        )
        silence = np.zeros(SAMPLE_RATE, np.float32)
        self.procedural.animate(silence, silence, tl, seed=0)
        if self.settings.model_dir is not None or (BUNDLED / "config.json").exists():
            self.neural.model()

    def animate_arrays(
        self,
        track_a: np.ndarray,
        track_b: np.ndarray,
        timeline: Timeline,
        *,
        features: tuple[np.ndarray, np.ndarray] | None = None,
        backend: str = "",
        rig: str = "",
        seed: int = 0,
        model_id: str = "",
    ) -> AnimatedPair:
        """Both speakers' motion from arrays; ``features`` (``[T, D]`` each) for the neural
        backend's feature models."""
        backend, rig = self._check_choices(backend, rig, model_id)
        a, b = pair_tracks(track_a, track_b, self.settings.max_duration_s)
        frames = num_frames_of(a)
        model = None
        if backend == "neural":
            model = self.neural.check_inputs(model_id, rig, frames, shapes_of(features))
            if features is not None:
                features = (fit_frames(features[0], frames), fit_frames(features[1], frames))
        return self._animate(a, b, timeline, model, features, rig=rig, seed=seed)

    def animate(
        self,
        track_a: ArtifactRef,
        track_b: ArtifactRef,
        timeline: Timeline,
        *,
        features: tuple[StoredFeatures, StoredFeatures] | None = None,
        backend: str = "",
        rig: str = "",
        seed: int = 0,
        model_id: str = "",
    ) -> AnimatedPair:
        """Artefacts in, motion files out (stored content-addressed). Everything a request
        claims is checked before the tracks are downloaded."""
        if self.store is None:
            raise InvalidInput("store", "no artefact store configured")
        backend, rig = self._check_choices(backend, rig, model_id)
        a = read_track(self.store.get_bytes(track_a if track_a.sha256 else track_a.uri), "track_a")
        b = read_track(self.store.get_bytes(track_b if track_b.sha256 else track_b.uri), "track_b")
        a, b = pair_tracks(a, b, self.settings.max_duration_s)
        frames = num_frames_of(a)
        model, arrays = None, None
        if backend == "neural":
            model = self.neural.check_inputs(model_id, rig, frames, shapes_of(features))
            if features is not None and model.config.audio_input == "features":
                arrays = load_feature_pair(
                    self.store, features, frames, model.config.audio_dim, wants=_WANTS
                )
        pair = self._animate(a, b, timeline, model, arrays, rig=rig, seed=seed)
        ref_a = self.store.put_bytes(motion_bytes(pair.motion_a, pair.rig), NPZ)
        ref_b = self.store.put_bytes(motion_bytes(pair.motion_b, pair.rig), NPZ)
        return AnimatedPair(pair.motion_a, pair.motion_b, pair.rig, ref_a, ref_b)

    def _check_choices(self, backend: str, rig: str, model_id: str) -> tuple[str, str]:
        backend = check_choice(backend or self.settings.backend, BACKENDS, "backend")
        if model_id and backend != "neural":
            raise InvalidInput("model_id", "only the neural backend takes a model_id")
        return backend, check_choice(rig or self.settings.rig, RIGS, "rig")

    def _animate(
        self,
        a: np.ndarray,
        b: np.ndarray,
        timeline: Timeline,
        model: Any,
        features: tuple[np.ndarray, np.ndarray] | None,
        *,
        rig: str,
        seed: int,
    ) -> AnimatedPair:
        """The procedural first motion, then the neural model when one is given."""
        if timeline.duration_s > a.size / SAMPLE_RATE + 1.0:
            raise InvalidInput("timeline.duration_s", "longer than the audio")
        motion_a, motion_b = self.procedural.animate(a, b, timeline, seed=seed, rig=rig)
        if model is not None:
            relation = (timeline.relation.blood, timeline.relation.equal)
            motion_a, motion_b = self.neural.generate(
                model, a, b, motion_a, motion_b, relation, features=features, seed=seed
            )
        get_rig(rig).validate(motion_a, field_name="motion_a")
        get_rig(rig).validate(motion_b, field_name="motion_b")
        return AnimatedPair(motion_a, motion_b, rig)


def num_frames_of(track: np.ndarray) -> int:
    """Motion frames of a 16 kHz track: ``ceil(N · 25 / 16000)`` (DESIGN.md §2)."""
    return -(-track.size // SAMPLES_PER_FRAME)


def shapes_of(
    features: tuple[StoredFeatures, StoredFeatures] | tuple[np.ndarray, np.ndarray] | None,
) -> tuple[FeatureShape, FeatureShape] | None:
    return (
        None if features is None else (FeatureShape.of(features[0]), FeatureShape.of(features[1]))
    )
