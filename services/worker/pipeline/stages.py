"""The stage protocol the orchestrator composes.

Every stage takes and returns artefacts (``ArtifactRef`` in one shared store) plus small
domain objects, so the same orchestrator runs against

- ``EmbeddedStages`` (``embedded.py``): the services' cores in this process (the laptop default:
  no Ray, Redis or MinIO), and
- ``ServedStages`` (``served.py``): the services over gRPC — standalone servers or the Ray Serve
  gRPC ingress — sharing the store (DESIGN §4: payloads never travel in messages).

The audio features are computed once (``encode``) and handed to ``animate`` and ``refine``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dyad.domain import (
    ENVIRONMENTS,
    Dialogue,
    Identity,
    Relation,
    StoredConversation,
    StoredFeatures,
    Timeline,
)
from dyad.storage import ArtifactRef, ArtifactStore

MotionPair = tuple[ArtifactRef, ArtifactRef]
FeaturePair = tuple[StoredFeatures, StoredFeatures]


def render_environment(timeline: Timeline) -> str:
    """The sound environment the renderer draws behind the heads ("" when the timeline names
    none it knows, e.g. ``unknown`` for uploaded audio: the plain background)."""
    env = timeline.sound_environment
    return env if env in ENVIRONMENTS else ""


@dataclass(frozen=True)
class RenderedVideos:
    conversation: ArtifactRef  # the composite (layout) with the stereo mix
    # Single-head videos with each speaker's own track; None when not asked for.
    speaker_a: ArtifactRef | None
    speaker_b: ArtifactRef | None
    num_frames: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation.to_dict(),
            "speaker_a": self.speaker_a.to_dict() if self.speaker_a else None,
            "speaker_b": self.speaker_b.to_dict() if self.speaker_b else None,
            "num_frames": self.num_frames,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RenderedVideos:
        def ref(key: str) -> ArtifactRef | None:
            return ArtifactRef.from_dict(d[key]) if d.get(key) else None

        return cls(
            ArtifactRef.from_dict(d["conversation"]),
            ref("speaker_a"),
            ref("speaker_b"),
            int(d["num_frames"]),
        )


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

    def speak(
        self, dialogue: Dialogue, *, seed: int, voices: Mapping[str, str] | None = None
    ) -> StoredConversation: ...

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation: ...

    def encode(self, tracks: list[ArtifactRef]) -> list[StoredFeatures]: ...

    def animate(
        self,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        backend: str,
        rig: str,
        seed: int,
    ) -> MotionPair: ...

    def refine(
        self,
        motion: MotionPair,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        steps: int,
        seed: int,
    ) -> MotionPair: ...

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
        """``avatars``: a stored avatar's key per speaker (``a``/``b``) to render in place of
        the one generated from that speaker's identity."""
        ...
