"""``EmbeddedStages``: every stage's core in this process (the laptop default of ``dyad
generate``: no Ray, Redis or MinIO). This module and the CLI's command registration are the
composition roots that import several services (ARCHITECTURE.md).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from dyad import __version__
from dyad.domain import Dialogue, Identity, Relation, StoredConversation, StoredFeatures
from dyad.services.worker.pipeline.stages import (
    FeaturePair,
    MotionPair,
    RenderedVideos,
    render_environment,
)
from dyad.storage import ArtifactRef, ArtifactStore


class EmbeddedStages:
    """Every stage's core in this process; each core loads lazily on first use."""

    mode = "embedded"

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store
        self._cores: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _core(self, name: str) -> Any:
        with self._lock:
            if name not in self._cores:
                self._cores[name] = _build_core(name, self.store)
            return self._cores[name]

    def versions(self) -> dict[str, str]:
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

    def speak(
        self, dialogue: Dialogue, *, seed: int, voices: Mapping[str, str] | None = None
    ) -> StoredConversation:
        wanted = {s: (v, f"voice_{s}") for s, v in (voices or {}).items()}
        return self._core("dialogue").speak(dialogue, seed=seed, voices=wanted)[1]

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation:
        a = self.store.get_bytes(audio_a)
        b = self.store.get_bytes(audio_b) if audio_b is not None else None
        return self._core("dialogue").segment(a, b)

    def encode(self, tracks: list[ArtifactRef]) -> list[StoredFeatures]:
        return [e.stored for e in self._core("audio").encode_artifacts(tracks)]

    def animate(
        self,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        backend: str,
        rig: str,
        seed: int,
    ) -> MotionPair:
        pair = self._core("motion").animate(
            conv.track_a,
            conv.track_b,
            conv.timeline,
            features=features,
            backend=backend,
            rig=rig,
            seed=seed,
        )
        return pair.ref_a, pair.ref_b

    def refine(
        self,
        motion: MotionPair,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        steps: int,
        seed: int,
    ) -> MotionPair:
        pair = self._core("refiner").refine(
            motion[0], motion[1], conv.timeline, features=features, steps=steps, seed=seed
        )
        return pair.ref_a, pair.ref_b

    def render(
        self,
        motion: MotionPair,
        conv: StoredConversation,
        identities: tuple[Identity, Identity],
        *,
        layout: str,
        head_px: int,
        per_speaker: bool = True,
        progress: Callable[[float], None] | None = None,
        avatars: Mapping[str, str] | None = None,
    ) -> RenderedVideos:
        from dyad.services.renderer.core import RenderArgs

        relation = conv.timeline.relation
        args = RenderArgs(
            motion=motion,
            audio=conv.mix,
            tracks=(conv.track_a, conv.track_b),
            identities={"a": identities[0], "b": identities[1]},
            avatar_uris=dict(avatars or {}),
            layout=layout,
            head_px=head_px,
            per_speaker=per_speaker,
            relation=(relation.blood, relation.equal),
            environment=render_environment(conv.timeline),
        )
        on_frames = None if progress is None else (lambda done, total: progress(done / total))
        out = self._core("renderer").render_request(args, progress=on_frames)
        return RenderedVideos(
            out["conversation"], out.get("speaker_a"), out.get("speaker_b"), out["num_frames"]
        )


def _build_core(name: str, store: ArtifactStore) -> Any:
    # Each service's core is imported only when its stage first runs: a `dyad generate` that
    # stops early never pays for torch, numba or the renderer.
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
    from dyad.services.motion.neural.backend import BUNDLED as MOTION
    from dyad.services.refiner.core import BUNDLED as REFINER

    return {"motion_model": _weights_id(MOTION), "refiner_model": _weights_id(REFINER)}


@functools.lru_cache(maxsize=8)
def _weights_id(directory: Path) -> str:
    weights = directory / "model.safetensors"
    if not weights.is_file():
        return f"{directory.name}@missing"
    return f"{directory.name}@{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"
