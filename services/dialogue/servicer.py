"""``DialogueService`` over gRPC: validate, proto ↔ domain, call core — nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

from dyad.domain import SCENARIOS
from dyad.errors import InvalidInput
from dyad.protoconv import (
    conversation_to_pb,
    dialogue_from_pb,
    dialogue_to_pb,
    relation_from_pb,
)
from dyad.services.dialogue.core import DialogueCore
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import SAMPLE_RATE
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as pb
from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc


def _scenario(value: int) -> str | None:
    if value == c.SCENARIO_FAMILY_UNSPECIFIED:
        return None
    for name in SCENARIOS:
        if getattr(c, f"SCENARIO_FAMILY_{name.upper()}") == value:
            return name
    raise InvalidInput("scenario", f"unknown value {value}")


def _ref(m: c.ArtifactRef, field: str) -> ArtifactRef:
    if not m.uri:
        raise InvalidInput(f"{field}.uri", "required")
    return ArtifactRef.from_proto(m)


def _fetch(store: ArtifactStore, m: c.ArtifactRef, field: str) -> bytes:
    """A client-referenced artefact, only through the store's keys, its claims checked."""
    ref = _ref(m, field)
    return store.get_bytes(ref if ref.sha256 else ref.uri, field=field)


def _turns(request: pb.WriteDialoguesRequest) -> tuple[int, int] | None:
    has = (request.HasField("min_turns"), request.HasField("max_turns"))
    if has == (False, False):
        return None
    if has != (True, True):
        raise InvalidInput("max_turns" if has[0] else "min_turns", "give both or neither")
    return request.min_turns, request.max_turns


class DialogueServicer(pb_grpc.DialogueServiceServicer):
    def __init__(self, core: DialogueCore) -> None:
        self.core = core

    async def WriteDialogues(
        self, request: pb.WriteDialoguesRequest, context: Any
    ) -> pb.WriteDialoguesResponse:
        dialogues = await asyncio.to_thread(
            self.core.writer.write,
            request.prompt,
            request.num_dialogues or 1,
            seed=request.seed if request.HasField("seed") else 0,
            backend=request.backend,
            temperature=request.temperature if request.HasField("temperature") else 0.8,
            scenario=_scenario(request.scenario),
            relation=relation_from_pb(request.relation),
            turns=_turns(request),
        )
        return pb.WriteDialoguesResponse(dialogues=[dialogue_to_pb(d) for d in dialogues])

    async def SynthesizeConversation(
        self, request: pb.SynthesizeConversationRequest, context: Any
    ) -> pb.SynthesizeConversationResponse:
        if not request.HasField("dialogue"):
            raise InvalidInput("dialogue", "required")
        if request.sample_rate_hz not in (0, SAMPLE_RATE):
            raise InvalidInput("sample_rate_hz", f"only {SAMPLE_RATE} is produced")
        dialogue = dialogue_from_pb(request.dialogue)
        p = request.interaction_probability if request.HasField("interaction_probability") else None
        _conv, stored = await asyncio.to_thread(
            self.core.speak,
            dialogue,
            seed=request.seed if request.HasField("seed") else 0,
            speech_backend=request.speech_backend,
            p_inter=p,
            voices={"a": (request.voice_a, "voice_a"), "b": (request.voice_b, "voice_b")},
        )
        return pb.SynthesizeConversationResponse(conversation=conversation_to_pb(stored))

    async def SegmentConversation(
        self, request: pb.SegmentConversationRequest, context: Any
    ) -> pb.SegmentConversationResponse:
        source = request.WhichOneof("source")
        store = self.core.store
        if source == "stereo":
            audio, audio_b = _fetch(store, request.stereo, "stereo"), None
        elif source == "tracks":
            audio = _fetch(store, request.tracks.track_a, "tracks.track_a")
            audio_b = _fetch(store, request.tracks.track_b, "tracks.track_b")
        else:
            raise InvalidInput("source", "give `stereo` or `tracks`")
        stored = await asyncio.to_thread(self.core.segment, audio, audio_b)
        return pb.SegmentConversationResponse(conversation=conversation_to_pb(stored))
