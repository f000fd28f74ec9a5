"""The chart's values (charts/dyad/values.yaml, its schema and the deploy/ overlays): bad values
fail the render with a message saying why, a Serve application can be dropped by an override,
every value is documented and covered by values.schema.json (which rejects unknown keys),
production runs the job API once (in the gateway Deployment, not in Ray), and presigned URLs
can name a public endpoint."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.chart_render import CHART, NAMES, RenderError, env_of, load_values, render_with, rendered
from tests.chart_rules import check_serve_config
from tests.values_coverage import free_form_paths, schema_paths, undocumented_keys, value_paths


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"redis.enabled": False}, "redis.url is required"),
        ({"redis.enabled": False, "redis.url": "redis://u:p@h:6379/0"}, "/redis/url"),
        ({"minio.enabled": False}, "s3.endpoint is required"),
        (
            {"minio.enabled": False, "s3.endpoint": "s3.example:443"},
            "s3.existingSecret is required",
        ),
        (
            {"redis.enabled": False, "redis.url": "redis://h:6379/0"},
            "needs redis.auth.existingSecret",
        ),
        ({"ray.serveConfig.applicationOverrides": {"nope": {}}}, "no such application"),
        (
            {"ray.serveConfig.applicationOverrides": {"motion": {"deployments": {"Nope": {}}}}},
            "no such deployment",
        ),
        ({"gateway.replcas": 3}, "additional properties"),
        ({"securityContext.runAsUser": 0}, "minimum"),
    ],
)
def test_bad_values_fail_the_render(overrides: dict, message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render_with("defaults", **overrides)


def test_application_can_be_dropped() -> None:
    r = render_with(
        "dev", **{"ray.serveConfig.applicationOverrides": {"gateway": {"enabled": False}}}
    )
    assert check_serve_config(r) == []
    apps = yaml.safe_load(r.one("RayService")["spec"]["serveConfigV2"])["applications"]
    assert [a["name"] for a in apps] == [
        "dialogue",
        "audio_encoder",
        "motion",
        "refiner",
        "renderer",
    ]


def test_every_value_is_documented() -> None:
    assert undocumented_keys((CHART / "values.yaml").read_text()) == []


def test_schema_covers_every_value_and_rejects_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    free = free_form_paths(schema)
    missing = value_paths(defaults, free=free) - schema_paths(schema)
    assert not missing, sorted(missing)
    for name in NAMES:
        extra = value_paths(load_values(name), free=free) - schema_paths(schema)
        assert not extra, (name, sorted(extra))


def test_production_runs_the_job_api_once() -> None:
    """In production the gateway is its own Deployment; the Serve config's gateway application
    (what `dyad serve` uses on one machine) is dropped, not run a second time inside Ray."""
    r = rendered("prod")
    apps = yaml.safe_load(r.one("RayService")["spec"]["serveConfigV2"])["applications"]
    assert "gateway" not in [a["name"] for a in apps]
    assert r.one("Deployment", "dyad-gateway")["spec"]["replicas"] >= 2


def test_presigned_urls_can_name_a_public_endpoint() -> None:
    r = render_with("dev", **{"s3.publicEndpoint": "https://media.example.com"})
    gateway = r.one("Deployment", "dyad-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(gateway)["DYAD_S3_PUBLIC_ENDPOINT"]["value"] == "https://media.example.com"
    assert "DYAD_S3_PUBLIC_ENDPOINT" not in env_of(
        rendered("dev").one("Deployment", "dyad-gateway")["spec"]["template"]["spec"]["containers"][
            0
        ]
    )
    with pytest.raises(RenderError, match="publicEndpoint"):
        render_with("dev", **{"s3.publicEndpoint": "media.example.com/path"})
