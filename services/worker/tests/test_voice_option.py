"""Job options ``voice_a``/``voice_b`` as the worker reads them: carried into
``GenerateOptions.voices``, malformed ones refused naming the field before any stage runs."""

from __future__ import annotations

import pytest

from dyad.errors import InvalidInput
from dyad.services.worker.pipeline.jobs import options_from_spec


def test_voices_reach_the_options_and_are_checked() -> None:
    spec = {"options": {"voice_a": "piper:en_US-joe-medium", "voice_b": "flite:slt"}}
    assert options_from_spec(spec).voices == {"a": "piper:en_US-joe-medium", "b": "flite:slt"}
    assert options_from_spec({"options": {}}).voices == {}
    with pytest.raises(InvalidInput) as e:
        options_from_spec({"options": {"voice_a": "nonsense"}})
    assert e.value.field == "voice_a"
