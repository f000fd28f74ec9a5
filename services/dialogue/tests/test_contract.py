"""The service contract (``dyad.testing.contract``) on the dialogue server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dyad.services.dialogue.__main__ import build_server
from dyad.services.dialogue.settings import DialogueSettings
from dyad.testing.contract import BadCall, ServiceContract, break_with
from dyad.v1 import dialogue_service_pb2 as pb
from dyad.v1 import dialogue_service_pb2_grpc as pb_grpc


class TestServiceContract(ServiceContract):
    stub = pb_grpc.DialogueServiceStub
    service_name = "dyad.v1.DialogueService"

    build_server = staticmethod(build_server)
    settings = DialogueSettings()

    def bad_unary(self, tmp_path: Path) -> BadCall:
        return "WriteDialogues", pb.WriteDialoguesRequest(prompt=""), "prompt"

    def internal_failure(self, servicer: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
        break_with(servicer.core.writer, "write", monkeypatch)
        return "WriteDialogues", pb.WriteDialoguesRequest(prompt="two friends plan a trip")
