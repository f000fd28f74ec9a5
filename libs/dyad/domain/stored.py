"""A spoken conversation in the artefact store: its timeline, its dialogue (when written, not
recorded) and references to both speakers' tracks and the stereo mix.

This is what the speech and segmentation stages hand to every later stage; its JSON form is
what the pipeline's stage cache keeps.
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
