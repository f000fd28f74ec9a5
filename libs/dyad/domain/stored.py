"""What the stages hand each other through the artefact store: references plus the small facts
a consumer checks before it downloads anything.

- ``StoredConversation``: a spoken conversation — its timeline, its dialogue (when written, not
  recorded), both speakers' tracks and the stereo mix (what speech and segmentation produce);
- ``StoredFeatures``: one speaker's audio features, ``[T, D]`` float32 ``.npy`` at ``fps``
  (what the audio encoder produces and the motion and refiner stages consume).

Their JSON forms are what the pipeline's stage cache keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dyad.domain.conversation import Dialogue, Timeline
from dyad.storage import ArtifactRef


@dataclass(frozen=True)
class StoredConversation:
    timeline: Timeline
    dialogue: Dialogue | None
    track_a: ArtifactRef
    track_b: ArtifactRef
    mix: ArtifactRef | None
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "timeline": self.timeline.to_dict(),
            "dialogue": self.dialogue.to_dict() if self.dialogue else None,
            "track_a": self.track_a.to_dict(),
            "track_b": self.track_b.to_dict(),
            "mix": self.mix.to_dict() if self.mix else None,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoredConversation:
        return cls(
            Timeline.from_dict(d["timeline"]),
            Dialogue.from_dict(d["dialogue"]) if d["dialogue"] else None,
            ArtifactRef.from_dict(d["track_a"]),
            ArtifactRef.from_dict(d["track_b"]),
            ArtifactRef.from_dict(d["mix"]) if d["mix"] else None,
            float(d["duration_s"]),
        )


@dataclass(frozen=True)
class StoredFeatures:
    artifact: ArtifactRef
    backend: str  # mel, mfcc or wav2vec2 (the audio encoder's backends)
    fps: int
    num_frames: int
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact.to_dict(),
            "backend": self.backend,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "dim": self.dim,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoredFeatures:
        return cls(
            ArtifactRef.from_dict(d["artifact"]),
            str(d["backend"]),
            int(d["fps"]),
            int(d["num_frames"]),
            int(d["dim"]),
        )
