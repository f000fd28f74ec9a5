"""A job's ``identity_a``/``identity_b`` reach the renderer (they used to be dropped)."""

from __future__ import annotations

import pytest

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.services.worker.pipeline.jobs import options_from_spec


def test_job_identities_become_render_identities():
    spec = {
        "n": 1,
        "options": {
            "head_px": 64,
            "identity_b": {"name": "Ana", "age_band": "senior", "appearance": ["grey hair"]},
        },
    }
    opts = options_from_spec(spec)
    assert opts.identities == {"b": Identity("Ana", age_band="senior", appearance=("grey hair",))}
    assert opts.to_dict()["identities"]["b"]["appearance"] == ["grey hair"]


def test_a_malformed_job_identity_names_its_field():
    spec = {"options": {"identity_a": {"name": "Bo", "age_band": "ancient"}}}
    with pytest.raises(InvalidInput) as e:
        options_from_spec(spec)
    assert e.value.field == "options.identity_a.age_band"
