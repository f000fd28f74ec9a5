"""The dialogue service on a real local Ray Serve, called through Serve's gRPC proxy."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import grpc
import pytest

from dyad.rpc import insecure_channel
from dyad.storage import LocalStore
from dyad.testing import RayServe
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as pb
from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, LocalStore]]:
    from dyad.services.dialogue.deployment import build_app

    store = LocalStore(tmp_path_factory.mktemp("store"))
    env = {
        "DYAD_STORE_URI": f"file://{store.root}",
        "DYAD_DIALOGUE_NUM_CPUS": "0.5",
        "DYAD_LOG_LEVEL": "WARNING",
    }
    with RayServe(
        ["dyad.v1.dialogue_service_pb2_grpc.add_DialogueServiceServicer_to_server"], env
    ) as rs:
        rs.run(build_app(), "dialogue")
        yield rs.grpc_port, store


def test_write_and_speak_through_the_proxy(served: tuple[int, LocalStore]) -> None:
    port, store = served

    async def main() -> None:
        async with insecure_channel(f"127.0.0.1:{port}") as ch:
            stub = pb_grpc.DialogueServiceStub(ch)
            written = await stub.WriteDialogues(
                pb.WriteDialoguesRequest(prompt="two colleagues prepare a product demo", seed=2),
                timeout=60,
            )
            (d,) = written.dialogues
            assert d.relation.HasField("blood") and not d.relation.blood and d.relation.equal
            spoken = await stub.SynthesizeConversation(
                pb.SynthesizeConversationRequest(dialogue=d, seed=1), timeout=120
            )
            conv = spoken.conversation
            assert conv.track_a.duration_s > 5 and store.exists(conv.mix.uri)
            sentences = [s for s in conv.timeline.segments if s.kind == c.SEGMENT_KIND_SENTENCE]
            assert len(sentences) == sum(len(t.sentences) for t in d.turns)
            with pytest.raises(grpc.aio.AioRpcError) as e:
                await stub.WriteDialogues(pb.WriteDialoguesRequest(prompt=""), timeout=30)
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (e.value.details() or "").startswith("prompt: ")

    asyncio.run(main())
