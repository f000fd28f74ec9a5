"""The dialogue service on Ray Serve (the session's served stack), through Serve's proxy."""

from __future__ import annotations

import asyncio

import pytest

from dyad.rpc import insecure_channel
from dyad.testing import ServedStack
from dyad.testing.contract import check_served
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as pb
from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration
APP = (("application", "dialogue"),)


def test_write_and_speak_through_the_proxy(served: ServedStack) -> None:
    async def main() -> None:
        async with insecure_channel(served.endpoint) as ch:
            stub = pb_grpc.DialogueServiceStub(ch)
            written = await stub.WriteDialogues(
                pb.WriteDialoguesRequest(prompt="two colleagues prepare a product demo", seed=2),
                metadata=APP,
                timeout=60,
            )
            (d,) = written.dialogues
            assert d.relation.HasField("blood") and not d.relation.blood and d.relation.equal
            spoken = await stub.SynthesizeConversation(
                pb.SynthesizeConversationRequest(dialogue=d, seed=1), metadata=APP, timeout=120
            )
            conv = spoken.conversation
            assert conv.track_a.duration_s > 5 and served.store.exists(conv.mix.uri)
            sentences = [s for s in conv.timeline.segments if s.kind == c.SEGMENT_KIND_SENTENCE]
            assert len(sentences) == sum(len(t.sentences) for t in d.turns)

    asyncio.run(main())


def test_service_contract_through_the_proxy(served: ServedStack) -> None:
    bad = ("WriteDialogues", pb.WriteDialoguesRequest(prompt=""), "prompt")
    check_served(
        served.grpc_port, "dialogue", pb_grpc.DialogueServiceStub, "dyad.v1.DialogueService", [bad]
    )
