"""What a conversation job asks of the pipeline (``GenerateOptions``), checked where it enters:
the CLI before it starts, the job runner before the first stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dyad.domain import Identity, Relation
from dyad.domain.limits import check_head_px, check_seed, check_voice_id
from dyad.errors import InvalidInput
from dyad.rigs import get_rig

LAYOUTS = ("side", "pip", "single")


@dataclass(frozen=True)
class GenerateOptions:
    n: int = 1
    seed: int = 0
    turns: tuple[int, int] | None = None
    relation: Relation | None = None
    motion_backend: str = "procedural"
    rig: str = "arkit55"
    refine: bool = True
    refine_steps: int = 10
    layout: str = "side"
    head_px: int = 512
    #: A job's ``identity_a``/``identity_b``: how each speaker looks in the video (the
    #: renderer's avatar), in place of the identity the dialogue writer gave them.
    identities: dict[str, Identity] = field(default_factory=dict)
    #: A job's ``avatar_a``/``avatar_b``: the store key of a team's avatar
    #: (``avatars/teams/<team>/<id>``, resolved and checked by the gateway) each speaker is
    #: rendered with, in place of the avatar generated from the identity; absent: generated.
    avatars: dict[str, str] = field(default_factory=dict)
    #: Each speaker's voice (``engine:name``) in place of casting; "" casts.
    voices: dict[str, str] = field(default_factory=dict)
    #: Also render each speaker's single-head video (``speaker_a.mp4``, ``speaker_b.mp4``)
    #: beside the composite; off halves what the render stage encodes.
    per_speaker_videos: bool = True

    def validate(self, max_n: int = 100) -> GenerateOptions:
        if not 1 <= self.n <= max_n:
            raise InvalidInput("n", f"{self.n} dialogues; expected 1–{max_n}")
        check_seed(self.seed, n=self.n)
        check_head_px(self.head_px)
        get_rig(self.rig)  # InvalidInput("rig") naming the rigs there are
        if self.motion_backend not in ("procedural", "neural"):
            raise InvalidInput("motion_backend", "expected procedural or neural")
        if self.layout not in LAYOUTS:
            raise InvalidInput("layout", f"expected one of {', '.join(LAYOUTS)}")
        if self.turns is not None and not 5 <= self.turns[0] <= self.turns[1] <= 10:
            raise InvalidInput("turns", f"{self.turns[0]}–{self.turns[1]}; expected within 5–10")
        if not 1 <= self.refine_steps <= 1000:
            raise InvalidInput("refine_steps", "expected 1–1000")
        if not isinstance(self.per_speaker_videos, bool):
            raise InvalidInput("per_speaker_videos", "expected true or false")
        for s, voice in self.voices.items():
            if voice:
                check_voice_id(voice, field=f"voice_{s}")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["relation"] = self.relation.to_dict() if self.relation else None
        d["identities"] = {k: v.to_dict() for k, v in self.identities.items()}
        return d
