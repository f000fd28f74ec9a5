"""``python -m dyad.services.dialogue``: the service as a standalone gRPC server."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer, serve_main, single_service_server
from dyad.services.dialogue.core import DialogueCore
from dyad.services.dialogue.servicer import DialogueServicer
from dyad.services.dialogue.settings import DialogueSettings
from dyad.storage import open_store
from dyad.v1 import dialogue_service_pb2, dialogue_service_pb2_grpc


def build_server(platform: PlatformSettings, settings: DialogueSettings) -> DyadServer:
    """The server; health turns SERVING once the speech engine has spoken one word."""
    core = DialogueCore(open_store(platform), settings)
    return single_service_server(
        "dialogue",
        platform,
        dialogue_service_pb2_grpc.add_DialogueServiceServicer_to_server,
        DialogueServicer(core),
        dialogue_service_pb2.DESCRIPTOR,
        "DialogueService",
        warmup=core.warm_up,
    )


if __name__ == "__main__":
    serve_main(lambda platform: build_server(platform, DialogueSettings.from_env()))
