"""Ray Serve deployment of the dialogue service, behind Serve's gRPC proxy (wiring only).

The replica warms the speech engine up, so it is healthy only when it can speak. Serve config:
``grpc_servicer_functions`` must include
``dyad.v1.dialogue_service_pb2_grpc.add_DialogueServiceServicer_to_server``.
"""

from __future__ import annotations

from typing import Any

from ray import serve

from dyad.rpc.serve import ServedService, app_builder, grpc_methods
from dyad.services.dialogue.core import DialogueCore
from dyad.services.dialogue.servicer import DialogueServicer
from dyad.services.dialogue.settings import DialogueSettings


@serve.deployment(name="Dialogue")
@grpc_methods(unary=("WriteDialogues", "SynthesizeConversation", "SegmentConversation"))
class DialogueDeployment(ServedService):
    def build(self, store: Any) -> DialogueServicer:
        core = DialogueCore(store, DialogueSettings.from_env())
        core.warm_up()
        return DialogueServicer(core)


build_app = app_builder(DialogueDeployment)
