"""``deploy/ray/serve_config.yaml`` is a valid Serve config whose every path imports."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from dyad import protogen

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "ray" / "serve_config.yaml"
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
    functions = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
    assert attr in functions, f"{module} has no {attr}"
    # The config's deployment name must be the one the app binds, or Serve refuses the override.
    assert app["deployments"][0]["name"] in _deployment_names(source)


def test_the_gateway_app_builds() -> None:
    from dyad.services.gateway.deployment import build_app

    assert build_app({})._bound_deployment.name == "JobGateway"
