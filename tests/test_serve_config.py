"""``deploy/ray/serve_config.yaml`` — the one source of truth for serving — is a valid Serve
config whose every path imports, whose resources read back typed, and which fits a small
machine (``dyad serve`` and the tests' Ray both run it fitted)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from dyad import protogen
from dyad.errors import ConfigError
from dyad.rpc.serve import BatchSettings
from dyad.serving.config import deployment_specs, fit_to_machine

CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "ray" / "serve_config.yaml"
#: Written by others; their apps are checked once their deployment module exists.
GPUS = {"motion": 0.25, "refiner": 0.25, "renderer": 0.5}


def config() -> dict[str, Any]:
    return dict(yaml.safe_load(CONFIG.read_text()))


def _resolve(dotted: str) -> Any:
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _known(section: dict[str, Any], model: Any, where: str) -> None:
    # Serve's schema accepts unknown keys in nested sections silently; a typo would be ignored.
    unknown = set(section) - set(model.model_fields)
    assert not unknown, f"{where}: unknown keys {sorted(unknown)}"


def test_schema_and_sizing() -> None:
    from ray.serve.config import AutoscalingConfig, gRPCOptions
    from ray.serve.schema import (
        DeploymentSchema,
        RayActorOptionsSchema,
        ServeApplicationSchema,
        ServeDeploySchema,
    )

    raw = config()
    schema = ServeDeploySchema.model_validate(raw)  # types and values
    _known(raw, ServeDeploySchema, "top level")
    _known(raw["grpc_options"], gRPCOptions, "grpc_options")
    assert schema.grpc_options is not None and schema.grpc_options.port == 9000
    apps = raw["applications"]
    assert len({a["name"] for a in apps}) == len(apps) == len(schema.applications)
    assert len({a["route_prefix"] for a in apps}) == len(apps)
    for app in apps:
        assert app["import_path"].endswith(":build_app")
        _known(app, ServeApplicationSchema, app["name"])
        (dep,) = app["deployments"]
        _known(dep, DeploymentSchema, f"{app['name']} deployment")
        _known(dep["ray_actor_options"], RayActorOptionsSchema, f"{app['name']} actor options")
        auto = dep["autoscaling_config"]
        _known(auto, AutoscalingConfig, f"{app['name']} autoscaling_config")
        AutoscalingConfig(**auto)
        assert 1 <= auto["min_replicas"] <= auto["max_replicas"]
        assert 0 < auto["target_ongoing_requests"] <= dep["max_ongoing_requests"]
        # A bounded queue: past it Serve answers RESOURCE_EXHAUSTED (tests/faults), never an
        # unbounded wait (Serve's default, -1).
        assert dep["max_queued_requests"] >= 8 * dep["max_ongoing_requests"], app["name"]
        assert dep["health_check_period_s"] > 0 and dep["ray_actor_options"]["num_cpus"] > 0
        gpus = dep["ray_actor_options"].get("num_gpus", 0)
        assert gpus == GPUS.get(app["name"], 0), app["name"]


def test_every_servicer_function_imports_and_every_service_is_served() -> None:
    functions = config()["grpc_options"]["grpc_servicer_functions"]
    for path in functions:
        assert callable(_resolve(path)), path
    services = {p.stem for p in protogen.proto_files() if p.stem.endswith("_service")}
    served = {
        p.split(".")[2].removesuffix("_pb2_grpc") for p in functions if p.startswith("dyad.v1.")
    }
    assert served == services


def _deployment_names(source: str) -> set[str]:
    """``name=`` of every ``@serve.deployment(...)`` in a module's source."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef | ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("deployment"):
                    for kw in deco.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            names.add(str(kw.value.value))
    return names


@pytest.mark.parametrize("app", config()["applications"], ids=lambda a: a["name"])
def test_every_application_exists_with_its_deployment(app: dict[str, Any]) -> None:
    # Read, not imported: importing every service's models costs tens of seconds, and each
    # service's own deployment test imports and serves it on Ray.
    module, _, attr = app["import_path"].partition(":")
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise AssertionError(f"{module} does not exist")
    assert spec.origin is not None
    source = Path(spec.origin).read_text()
    tree = ast.parse(source)
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    assert attr in names, f"{module} has no {attr}"
    # The config's deployment name must be the one the app binds, or Serve refuses the override.
    assert app["deployments"][0]["name"] in _deployment_names(source)


def test_the_gateway_app_builds() -> None:
    from dyad.services.gateway.deployment import build_app

    assert build_app({})._bound_deployment.name == "JobGateway"


def test_resources_read_back_typed_and_bad_values_name_their_key() -> None:
    specs = {s.app: s for s in deployment_specs(config())}
    assert specs["renderer"].num_gpus == 0.5 and specs["gateway"].min_replicas == 2
    assert specs["audio_encoder"].batching == BatchSettings(8, 0.01)
    assert specs["refiner"].batching.batch_max_size == 64
    broken = config()
    broken["applications"][2]["deployments"][0]["ray_actor_options"]["num_cpus"] = "two"
    with pytest.raises(ConfigError) as e:
        deployment_specs(broken)
    assert e.value.setting == "applications[motion].deployments[Motion].num_cpus"
    broken = config()
    broken["applications"][1]["deployments"][0]["user_config"] = {"batch_size": 4}
    with pytest.raises(ConfigError) as e:
        deployment_specs(broken)
    assert e.value.setting == "applications[audio_encoder].deployments[AudioEncoder].user_config"


def test_fitted_to_a_cpu_machine() -> None:
    from ray.serve.schema import ServeDeploySchema

    raw = config()
    fitted = fit_to_machine(raw, cpus=2, grpc_port=9123)
    ServeDeploySchema.model_validate(fitted)
    assert fitted["grpc_options"]["port"] == 9123
    specs = deployment_specs(fitted)
    assert all(s.num_gpus == 0 and s.min_replicas == s.max_replicas == 1 for s in specs)
    assert sum(s.num_cpus for s in specs) <= 2
    wanted = {s.app: s.num_cpus for s in deployment_specs(raw)}
    # Proportions kept: the renderer still gets twice a motion replica's share.
    shares = {s.app: s.num_cpus for s in specs}
    assert shares["renderer"] == pytest.approx(2 * shares["motion"], abs=0.002)
    assert all(shares[a] <= wanted[a] for a in wanted)
    # A big machine keeps the file's shares; a GPU keeps the GPU fractions.
    big = deployment_specs(fit_to_machine(raw, cpus=64, gpus=1))
    assert {s.app: (s.num_cpus, s.num_gpus) for s in big} == {
        s.app: (s.num_cpus, s.num_gpus) for s in deployment_specs(raw)
    }
    only = fit_to_machine(raw, cpus=2, apps=["motion"])
    assert [a["name"] for a in only["applications"]] == ["motion"]
    with pytest.raises(ConfigError):
        fit_to_machine(raw, cpus=2, apps=["nope"])
