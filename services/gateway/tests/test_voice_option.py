"""Job options ``voice_a``/``voice_b``: carried to the worker as given, malformed ones refused
at the gateway naming the field."""

from __future__ import annotations

import pytest

from dyad.errors import InvalidInput
from dyad.services.gateway.protoconv import options_from_pb
from dyad.v1 import job_service_pb2 as pb


def test_voices_are_carried_and_checked() -> None:
    out = options_from_pb(pb.JobOptions(voice_a="piper:en_US-joe-medium", voice_b=" flite:slt "))
    assert out["voice_a"] == "piper:en_US-joe-medium" and out["voice_b"] == "flite:slt"
    assert "voice_a" not in options_from_pb(pb.JobOptions())
    for bad in ("joe", "piper:", "<speak>:x", "piper:" + "x" * 65):
        with pytest.raises(InvalidInput) as e:
            options_from_pb(pb.JobOptions(voice_b=bad))
        assert e.value.field == "options.voice_b"
