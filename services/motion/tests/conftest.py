"""Shared by the motion service tests: a short spoken conversation (``spoken``) and the request
builder."""

from __future__ import annotations

from typing import Any

import pytest

from dyad.domain import Dialogue, Emotion, Identity, Relation, Sentence, SpeakerId, Turn
from dyad.media import wav_bytes
from dyad.protoconv import timeline_to_pb
from dyad.storage import LocalStore
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2 as pb

from .spoken import Spoken, speak

LINES: list[tuple[SpeakerId, str]] = [
    ("a", "Did you finish the report for tomorrow?"),
    ("b", "Almost. I still need the numbers from the sales team."),
    ("a", "I can send them to you tonight, no problem."),
    ("b", "Thank you, that would really help me a lot."),
    ("a", "Great, then we are ready for the meeting."),
]


@pytest.fixture(scope="session")
def conv() -> Spoken:
    d = Dialogue(
        "m",
        "report",
        "professional",
        Identity("Ana", "adult", "feminine"),
        Identity("Ben", "adult", "masculine"),
        Relation(False, True, "colleagues"),
        tuple(Turn(s, (Sentence(t, Emotion("neutral", 0.3)),)) for s, t in LINES),
        "office",
    )
    return speak(d, seed=2, p_inter=1.0)


def request(conv: Spoken, store: LocalStore, **kw: Any) -> pb.GenerateMotionRequest:
    a = store.put_bytes(wav_bytes(conv.track_a, 16000), "audio/wav")
    b = store.put_bytes(wav_bytes(conv.track_b, 16000), "audio/wav")
    return pb.GenerateMotionRequest(
        track_a=c.AudioTrack(artifact=a.to_proto()),
        track_b=c.AudioTrack(artifact=b.to_proto()),
        timeline=timeline_to_pb(conv.timeline),
        relation=c.SocialRelation(blood=False, equal=True),
        **kw,
    )
