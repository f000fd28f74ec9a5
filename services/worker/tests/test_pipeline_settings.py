"""``DYAD_PIPELINE_*``: one typed settings object; a bad value names its variable when the
worker starts, not at its first job."""

from __future__ import annotations

import pytest

from dyad.config import load
from dyad.errors import ConfigError
from dyad.services.worker.pipeline.jobs import build_runner
from dyad.services.worker.pipeline.served import ServedStages
from dyad.services.worker.pipeline.settings import PREFIX, PipelineSettings
from dyad.storage import LocalStore


def settings(**env: str) -> PipelineSettings:
    return load(
        PipelineSettings, prefix=PREFIX, environ={f"{PREFIX}{k}": v for k, v in env.items()}
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TIMEOUT_S": "soon"}, "DYAD_PIPELINE_TIMEOUT_S"),
        ({"TIMEOUT_S": "0"}, "DYAD_PIPELINE_TIMEOUT_S"),
        ({"STAGES": "remote"}, "DYAD_PIPELINE_STAGES"),
        ({"STAGES": "served"}, "DYAD_PIPELINE_ENDPOINT"),
        ({"STAGES": "served", "MOTION_ENDPOINT": "m:1"}, "DYAD_PIPELINE_ENDPOINT"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as e:
        settings(**env)
    assert e.value.setting == variable


def test_auto_serves_when_an_endpoint_is_set() -> None:
    assert not settings().served  # a laptop: every stage in this process
    assert settings(ENDPOINT="proxy:9100").served  # the served system, by default
    assert not settings(ENDPOINT="proxy:9100", STAGES="embedded").served
    with pytest.raises(ConfigError) as e:  # auto with only some services: which ones lack one
        settings(MOTION_ENDPOINT="m:1")
    assert e.value.setting == "DYAD_PIPELINE_ENDPOINT" and "dialogue" in str(e.value)


def test_endpoints_and_routing(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(STAGES="served", ENDPOINT="proxy:9100", RENDERER_ENDPOINT="gpu:50051")
    assert [s.endpoint_of(n) for n in ("dialogue", "renderer")] == ["proxy:9100", "gpu:50051"]
    stages = ServedStages.from_settings(LocalStore(str(tmp_path)), s)
    try:
        # Through Serve's proxy each call names its application; a standalone server needs none.
        assert stages._metadata["motion"] == (("application", "motion"),)
    finally:
        stages.close()
    monkeypatch.setenv("DYAD_PIPELINE_STAGES", "served")
    with pytest.raises(ConfigError) as e:  # the worker's runner fails at start
        build_runner()
    assert e.value.setting == "DYAD_PIPELINE_ENDPOINT"
