"""The dataset-export option: a team writes corpora under ``datasets/<team>/`` only."""

from __future__ import annotations

import pytest

from dyad.errors import InvalidInput, PermissionDenied
from dyad.services.gateway.core import JobGateway, JobInput
from dyad.services.gateway.protoconv import options_from_pb
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import LocalStore
from dyad.v1 import job_service_pb2 as pb


def test_options_carry_prefix_and_split() -> None:
    out = options_from_pb(pb.JobOptions(dataset_prefix="datasets/red/c1/", dataset_split="test"))
    assert out["dataset_prefix"] == "datasets/red/c1" and out["dataset_split"] == "test"
    assert options_from_pb(pb.JobOptions(dataset_prefix="datasets/red/c1"))["dataset_split"] == (
        "train"
    )
    for bad in (
        pb.JobOptions(dataset_prefix="datasets/red/c", dataset_split="dev"),
        pb.JobOptions(dataset_split="train"),
    ):
        with pytest.raises(InvalidInput) as e:
            options_from_pb(bad)
        assert e.value.field == "options.dataset_split"


def test_team_may_write_only_its_own_prefix(tmp_path) -> None:
    gw = JobGateway(None, LocalStore(tmp_path), GatewaySettings())
    ok = JobInput(prompt="hi", options={"dataset_prefix": "datasets/red/corpus"})
    gw.check_input("red", ok)
    for prefix in ("datasets/blue/corpus", "datasets/redteam/x", "cas/x", "../datasets/red/x"):
        job = JobInput(prompt="hi", options={"dataset_prefix": prefix})
        with pytest.raises((PermissionDenied, InvalidInput)):
            gw.check_input("red", job)
