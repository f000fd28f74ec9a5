"""``dyad serve``: the deploy config adapted to the machine, still a valid Serve config."""

from __future__ import annotations

from pathlib import Path

import yaml

from dyad.serving.cli import adapt

CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "ray" / "serve_config.yaml"


def _deployments(cfg: dict) -> list[dict]:
    return [d for app in cfg["applications"] for d in app.get("deployments", [])]


def test_cpu_machine_drops_gpus_and_local_caps_replicas() -> None:
    from ray.serve.schema import ServeDeploySchema

    config = yaml.safe_load(CONFIG.read_text())
    assert any("num_gpus" in (d.get("ray_actor_options") or {}) for d in _deployments(config))
    cpu = adapt(config, gpu=False, local=True, grpc_port=9123)
    assert cpu["grpc_options"]["port"] == 9123
    for d in _deployments(cpu):
        assert "num_gpus" not in (d.get("ray_actor_options") or {})
        auto = d.get("autoscaling_config")
        assert auto is None or auto["min_replicas"] == auto["max_replicas"] == 1
    ServeDeploySchema.model_validate(cpu)
    gpu = adapt(config, gpu=True, local=False)
    assert gpu == config  # untouched on a GPU cluster
