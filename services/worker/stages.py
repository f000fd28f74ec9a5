"""The stage protocol the orchestrator composes, and its in-process implementation.

Every stage takes and returns artefacts (``ArtifactRef`` in one shared store) plus small
domain objects, so the same orchestrator runs against

- ``EmbeddedStages``: the services' cores in this process (the laptop default: no Ray, Redis or
  MinIO), and
- ``ServedStages`` (``stages_grpc.py``): the services over gRPC — standalone servers or the
  Ray Serve gRPC ingress — sharing the store (DESIGN §4: payloads never travel in messages).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dyad.domain import Dialogue, Identity, Relation, StoredConversation
from dyad.storage import ArtifactRef, ArtifactStore


@dataclass(frozen=True)
class RenderedVideos:
    conversation: ArtifactRef  # the composite (layout) with the stereo mix
    speaker_a: ArtifactRef  # single-head videos with each speaker's own track
    speaker_b: ArtifactRef
    num_frames: int


class Stages(Protocol):
    """One method per pipeline stage (DESIGN §1); names are the progress stage names."""

    store: ArtifactStore

    def versions(self) -> dict[str, str]: ...

    def write(
        self,
        prompt: str,
        n: int,
        *,
        seed: int,
        relation: Relation | None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]: ...

    def speak(self, dialogue: Dialogue, *, seed: int) -> StoredConversation: ...

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation: ...

    def encode(self, tracks: list[ArtifactRef]) -> list[ArtifactRef]: ...

    def animate(
        self, conv: StoredConversation, *, backend: str, rig: str, seed: int
    ) -> tuple[ArtifactRef, ArtifactRef]: ...

    def refine(
        self,
        motion: tuple[ArtifactRef, ArtifactRef],
        conv: StoredConversation,
        *,
        steps: int,
        seed: int,
    ) -> tuple[ArtifactRef, ArtifactRef]: ...

    def render(
        self,
        motion: tuple[ArtifactRef, ArtifactRef],
        conv: StoredConversation,
        identities: tuple[Identity, Identity],
        *,
        layout: str,
        head_px: int,
        progress: Callable[[float], None] | None = None,
    ) -> RenderedVideos: ...


class EmbeddedStages:
    """Every stage's core in this process; each core loads lazily on first use."""

    def __init__(self, store: ArtifactStore, settings: dict[str, Any] | None = None) -> None:
        self.store = store
        self._settings = settings or {}
        self._cores: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _core(self, name: str) -> Any:
        with self._lock:
            if name not in self._cores:
                self._cores[name] = _build_core(name, self.store)
            return self._cores[name]

    def versions(self) -> dict[str, str]:
        from dyad import __version__

        return {"dyad": __version__, **_model_versions()}

    def write(
        self,
        prompt: str,
        n: int,
        *,
        seed: int,
        relation: Relation | None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]:
        writer = self._core("dialogue").writer
        return writer.write(prompt, n, seed=seed, relation=relation, turns=turns)

    def speak(self, dialogue: Dialogue, *, seed: int) -> StoredConversation:
        return self._core("dialogue").speak(dialogue, seed=seed)[1]

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation:
        a = self.store.get_bytes(audio_a)
        b = self.store.get_bytes(audio_b) if audio_b is not None else None
        return self._core("dialogue").segment(a, b)

    def encode(self, tracks: list[ArtifactRef]) -> list[ArtifactRef]:
        encoded = self._core("audio").encode_artifacts(tracks)
        return [e.artifact for e in encoded]

    def animate(
        self, conv: StoredConversation, *, backend: str, rig: str, seed: int
    ) -> tuple[ArtifactRef, ArtifactRef]:
        pair = self._core("motion").animate(
            conv.track_a, conv.track_b, conv.timeline, backend=backend, rig=rig, seed=seed
        )
        assert pair.ref_a is not None and pair.ref_b is not None
        return pair.ref_a, pair.ref_b

    def refine(
        self,
        motion: tuple[ArtifactRef, ArtifactRef],
        conv: StoredConversation,
        *,
        steps: int,
        seed: int,
    ) -> tuple[ArtifactRef, ArtifactRef]:
        pair = self._core("refiner").refine(
            motion[0],
            motion[1],
            conv.timeline,
            track_a=conv.track_a,
            track_b=conv.track_b,
            steps=steps,
            seed=seed,
        )
        assert pair.ref_a is not None and pair.ref_b is not None
        return pair.ref_a, pair.ref_b

    def render(
        self,
        motion: tuple[ArtifactRef, ArtifactRef],
        conv: StoredConversation,
        identities: tuple[Identity, Identity],
        *,
        layout: str,
        head_px: int,
        progress: Callable[[float], None] | None = None,
    ) -> RenderedVideos:
        from dyad.services.renderer.core import RenderArgs

        relation = conv.timeline.relation
        out = self._core("renderer").render_request(
            RenderArgs(
                motion=motion, audio=conv.mix, tracks=(conv.track_a, conv.track_b),
                identities={"a": identities[0], "b": identities[1]}, avatar_uris={},
                layout=layout, head_px=head_px, per_speaker=True,
                relation=(relation.blood, relation.equal),
            ),
            progress=None if progress is None else (lambda done, total: progress(done / total)),
        )  # fmt: skip
        return RenderedVideos(out["conversation"], out["speaker_a"], out["speaker_b"],
                              out["num_frames"])  # fmt: skip


def _build_core(name: str, store: ArtifactStore) -> Any:
    if name == "dialogue":
        from dyad.services.dialogue.core import DialogueCore
        from dyad.services.dialogue.settings import DialogueSettings

        return DialogueCore(store, DialogueSettings.from_env())
    if name == "audio":
        from dyad.services.audio_encoder.core import FeatureService
        from dyad.services.audio_encoder.settings import AudioEncoderSettings

        return FeatureService(store, AudioEncoderSettings.from_env())
    if name == "motion":
        from dyad.services.motion.core import MotionCore
        from dyad.services.motion.settings import MotionSettings

        return MotionCore(store, MotionSettings.from_env())
    if name == "refiner":
        from dyad.services.refiner.core import RefinerCore
        from dyad.services.refiner.settings import RefinerSettings

        return RefinerCore(store, RefinerSettings.from_env())
    if name == "renderer":
        from dyad.services.renderer.core import RendererCore
        from dyad.services.renderer.settings import RendererSettings

        return RendererCore(store, RendererSettings.from_env())
    raise KeyError(name)


def _model_versions() -> dict[str, str]:
    """Which weights each neural stage would load: ``<directory name>@<sha256[:12] of its
    model.safetensors>``, so retrained weights under the same name miss the stage cache."""
    from dyad.services.motion.neural import BUNDLED as MOTION
    from dyad.services.refiner.core import BUNDLED as REFINER

    return {"motion_model": _weights_id(MOTION), "refiner_model": _weights_id(REFINER)}


@functools.lru_cache(maxsize=8)
def _weights_id(directory: Path) -> str:
    weights = directory / "model.safetensors"
    if not weights.is_file():
        return f"{directory.name}@missing"
    return f"{directory.name}@{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"
