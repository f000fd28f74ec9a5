"""``deploy/ray/serve_config.yaml``: the one source of truth for how the services are served.

The file is what Ray Serve reads (``serve run``/``serve deploy``) and what a KubeRay
``RayService`` embeds as ``serveConfigV2``; Serve applies it over anything the code declares.
So replica resources (``ray_actor_options.num_cpus``/``num_gpus``), concurrency
(``max_ongoing_requests``), autoscaling and batching (``user_config``: ``batch_max_size``,
``batch_wait_timeout_s``) live there and nowhere else: the deployments' code sets none of them,
and environment settings carry only behaviour (models, limits, timeouts).

Here: finding and reading the file (``load_config``), a typed view of each deployment's
resources (``deployment_specs``, every problem a ``ConfigError`` naming the key), and the
config for one machine (``fit_to_machine``: GPU shares dropped without CUDA, CPU shares
scaled down so every replica fits, one replica each) — used by ``dyad serve`` and by the
tests' Ray Serve alike.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dyad.errors import ConfigError
from dyad.rpc.serve.batching import BatchSettings

#: Points at another Serve config (e.g. a copy edited for one cluster).
CONFIG_SETTING = "DYAD_SERVE_CONFIG"
REPO_CONFIG = Path(__file__).resolve().parents[3] / "deploy" / "ray" / "serve_config.yaml"
#: The smallest CPU share a replica gets on a small machine (Ray's granularity is 1e-4).
MIN_CPU_SHARE = 0.05


def config_path(path: str | Path | None = None) -> Path:
    """``path``, else ``DYAD_SERVE_CONFIG``, else the repository's ``deploy/ray`` file."""
    chosen = Path(path or os.environ.get(CONFIG_SETTING) or REPO_CONFIG).expanduser()
    if not chosen.is_file():
        raise ConfigError(CONFIG_SETTING, f"no Serve config at {chosen}")
    return chosen


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The Serve config as a dict (checked: applications with deployments)."""
    import yaml

    where = config_path(path)
    try:
        config = yaml.safe_load(where.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(CONFIG_SETTING, f"{where} is not YAML: {e}") from None
    if not isinstance(config, dict) or not isinstance(config.get("applications"), list):
        raise ConfigError(CONFIG_SETTING, f"{where}: expected a Serve config with `applications`")
    deployment_specs(config)  # every resource readable
    return config


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment's serving resources, as the config states them (one spelling)."""

    app: str
    name: str
    num_cpus: float
    num_gpus: float
    max_ongoing_requests: int
    min_replicas: int
    max_replicas: int
    batching: BatchSettings

    @property
    def where(self) -> str:
        return f"applications[{self.app}].deployments[{self.name}]"


def _number(value: Any, where: str, *, default: float, integer: bool = False) -> Any:
    if value is None:
        return int(default) if integer else float(default)
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or value < 0 or (integer and not isinstance(value, int)):
        raise ConfigError(
            where, f"expected a {'whole ' if integer else ''}number ≥ 0, got {value!r}"
        )
    return int(value) if integer else float(value)


def deployment_specs(config: dict[str, Any]) -> list[DeploymentSpec]:
    """Every deployment's resources; a missing or malformed value names its key."""
    specs = []
    for app in config.get("applications", []):
        for dep in app.get("deployments") or []:
            where = f"applications[{app.get('name')}].deployments[{dep.get('name')}]"
            actor = dep.get("ray_actor_options") or {}
            auto = dep.get("autoscaling_config") or {}
            fixed = dep.get("num_replicas", 1) if not auto else None
            lo = auto.get("min_replicas", 1) if auto else fixed
            hi = auto.get("max_replicas", lo) if auto else fixed
            try:
                batching = BatchSettings.from_user_config(dep.get("user_config"))
            except ConfigError as e:
                raise ConfigError(f"{where}.{e.setting}", e.reason) from None
            specs.append(
                DeploymentSpec(
                    app=str(app.get("name")),
                    name=str(dep.get("name")),
                    num_cpus=_number(actor.get("num_cpus"), f"{where}.num_cpus", default=1),
                    num_gpus=_number(actor.get("num_gpus"), f"{where}.num_gpus", default=0),
                    max_ongoing_requests=_number(
                        dep.get("max_ongoing_requests"),
                        f"{where}.max_ongoing_requests",
                        default=5,
                        integer=True,
                    ),
                    min_replicas=_number(lo, f"{where}.min_replicas", default=1, integer=True),
                    max_replicas=_number(hi, f"{where}.max_replicas", default=1, integer=True),
                    batching=batching,
                )
            )
    return specs


def fit_to_machine(
    config: dict[str, Any],
    *,
    cpus: float,
    gpus: float = 0.0,
    apps: Iterable[str] | None = None,
    grpc_port: int = 0,
    http_port: int = 0,
    host: str = "",
) -> dict[str, Any]:
    """The config for one machine: only ``apps`` (default: all), one replica each, no GPU
    shares when ``gpus`` is 0, and CPU shares scaled down (never up) so every replica fits in
    ``cpus`` — the file's proportions kept, each at least ``MIN_CPU_SHARE``."""
    out = copy.deepcopy(config)
    if apps is not None:
        wanted = set(apps)
        unknown = wanted - {a.get("name") for a in out["applications"]}
        if unknown:
            raise ConfigError(CONFIG_SETTING, f"no application named {sorted(unknown)}")
        out["applications"] = [a for a in out["applications"] if a.get("name") in wanted]
    if grpc_port:
        out.setdefault("grpc_options", {})["port"] = grpc_port
    if http_port or host:
        http = out.setdefault("http_options", {})
        http.update({k: v for k, v in (("port", http_port), ("host", host)) if v})
    deployments = [d for a in out["applications"] for d in a.get("deployments") or []]
    for dep in deployments:
        dep.pop("num_replicas", None)
        auto = dep.get("autoscaling_config")
        if auto:
            auto.update(min_replicas=1, max_replicas=1, initial_replicas=1)
        else:
            dep["num_replicas"] = 1
        actor = dep.setdefault("ray_actor_options", {})
        if gpus <= 0:
            actor.pop("num_gpus", None)
        actor.setdefault("num_cpus", 1.0)
    wanted_cpus = sum(float(d["ray_actor_options"]["num_cpus"]) for d in deployments)
    scale = min(1.0, cpus / wanted_cpus) if wanted_cpus > 0 else 1.0
    for dep in deployments:
        actor = dep["ray_actor_options"]
        share = math.floor(float(actor["num_cpus"]) * scale * 1000) / 1000
        actor["num_cpus"] = max(MIN_CPU_SHARE, share)
    return out
