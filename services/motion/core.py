"""The motion service's entry points over the artefact store (no grpc or ray).

``MotionCore.animate`` takes both speakers' audio artefacts and the conversation's timeline
and returns both speakers' motion as DESIGN.md §2 motion files in the store.

The timeline types come from the dialogue service's domain model (a core may import another
service's core, DESIGN.md §3): the timeline is the contract between the two stages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.media import load_audio
from dyad.motion_io import motion_bytes
from dyad.rigs import get_rig
from dyad.services.motion.settings import BACKENDS, RIGS, MotionSettings
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import SAMPLE_RATE

NPZ = "application/x-npz"


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
        from dyad.services.motion.neural import NeuralMotion
        from dyad.services.motion.procedural import ProceduralAnimator

        self.procedural = ProceduralAnimator()
        self.neural = NeuralMotion(settings)

    def warm_up(self) -> None:
        """Animate one second of silence; load the default neural checkpoint when there is one
        (a configured ``DYAD_MOTION_MODEL_DIR`` that does not load fails here, loudly)."""
        from dyad.domain import Identity, Relation
        from dyad.services.motion.neural import BUNDLED

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
        backend: str = "",
        rig: str = "",
        seed: int = 0,
        model_id: str = "",
    ) -> AnimatedPair:
        backend = check_choice(backend or self.settings.backend, BACKENDS, "backend")
        if model_id and backend != "neural":
            raise InvalidInput("model_id", "only the neural backend takes a model_id")
        rig = check_choice(rig or self.settings.rig, RIGS, "rig")
        a, b = pair_tracks(track_a, track_b, self.settings.max_duration_s)
        if timeline.duration_s > a.size / SAMPLE_RATE + 1.0:
            raise InvalidInput("timeline.duration_s", "longer than the audio")
        motion_a, motion_b = self.procedural.animate(a, b, timeline, seed=seed, rig=rig)
        if backend == "neural":
            relation = (timeline.relation.blood, timeline.relation.equal)
            motion_a, motion_b = self.neural.generate(
                a, b, motion_a, motion_b, relation, rig=rig, model_id=model_id, seed=seed
            )
        get_rig(rig).validate(motion_a, field_name="motion_a")
        get_rig(rig).validate(motion_b, field_name="motion_b")
        return AnimatedPair(motion_a, motion_b, rig)

    def animate(
        self,
        track_a: ArtifactRef,
        track_b: ArtifactRef,
        timeline: Timeline,
        *,
        backend: str = "",
        rig: str = "",
        seed: int = 0,
        model_id: str = "",
    ) -> AnimatedPair:
        """Artefacts in, motion files out (stored content-addressed)."""
        if self.store is None:
            raise InvalidInput("store", "no artefact store configured")
        a = read_track(self.store.get_bytes(track_a if track_a.sha256 else track_a.uri), "track_a")
        b = read_track(self.store.get_bytes(track_b if track_b.sha256 else track_b.uri), "track_b")
        pair = self.animate_arrays(
            a, b, timeline, backend=backend, rig=rig, seed=seed, model_id=model_id
        )
        ref_a = self.store.put_bytes(motion_bytes(pair.motion_a, pair.rig), NPZ)
        ref_b = self.store.put_bytes(motion_bytes(pair.motion_b, pair.rig), NPZ)
        return AnimatedPair(pair.motion_a, pair.motion_b, pair.rig, ref_a, ref_b)
