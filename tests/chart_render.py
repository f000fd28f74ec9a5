"""Offline renders of the Helm chart (``charts/dyad``): rendering, loading and walking them.

The chart is rendered with helm-python-sdk (Helm's own engine, no cluster), once per values
set and test session, and parsed into a ``Rendered`` (its objects, values and NOTES); ``pods``
walks every pod template in it. The checks the chart tests run on these renders live in
tests/chart_rules.py (the objects) and tests/values_coverage.py (the values files).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
CHART = REPO / "charts" / "dyad"
DEPLOY = REPO / "deploy"
SERVE_CONFIG = DEPLOY / "ray" / "serve_config.yaml"
RULES = DEPLOY / "prometheus" / "rules.yaml"
DASHBOARDS = DEPLOY / "grafana"
RELEASE, NAMESPACE = "dyad", "dyad"
#: The values sets the tests render: the chart's defaults and the two reference overlays.
VALUES_FILES: dict[str, Path | None] = {
    "defaults": None,
    "dev": DEPLOY / "values-dev.yaml",
    "prod": DEPLOY / "values-prod.yaml",
}
#: Their names, in order (the tests parametrize over them).
NAMES = list(VALUES_FILES)
#: Kinds whose schema ships with kubernetes-validate; the rest are CRDs checked field by field.
CRD_KINDS = {
    "RayService",
    "ScaledObject",
    "TriggerAuthentication",
    "PodMonitor",
    "ServiceMonitor",
    "PrometheusRule",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}
#: The chart's kubeVersion floor and the newest Kubernetes kubernetes-validate has schemas of.
K8S_VERSIONS = ("1.29.0", "1.37.0")
QUEUE_PRIORITIES = ("high", "normal", "low")


class RenderError(Exception):
    """The chart did not render (a template ``fail``, a schema violation)."""


def _helm() -> Any:
    import helm_python

    helm_python.disable_logging()
    return helm_python


@functools.cache
def _chart() -> Any:
    return _helm().Chart.load(str(CHART))


def load_values(name: str) -> dict[str, Any]:
    path = VALUES_FILES[name]
    return {} if path is None else (yaml.safe_load(path.read_text()) or {})


def render(values: dict[str, Any]) -> dict[str, str]:
    """Template path → rendered text (NOTES.txt included)."""
    try:
        out: dict[str, str] = _chart().render(values, name=RELEASE, namespace=NAMESPACE)
    except Exception as e:  # helm_python.HelmError and subclasses
        raise RenderError(str(e)) from e
    return out


def merged_values(values: dict[str, Any]) -> dict[str, Any]:
    """The chart's defaults coalesced with ``values`` (what templates see as .Values)."""
    return _chart().merge_values(values)


def package(destination: Path) -> Path:
    """``helm package`` into ``destination``; the archive's path."""
    return Path(_helm().package(str(CHART), destination=str(destination)))


def lint(values: dict[str, Any]) -> dict[str, Any]:
    return _helm().lint(str(CHART), values, strict=True, namespace=NAMESPACE)


@dataclass
class Rendered:
    """One render: its objects (with the template each came from) and the values used."""

    name: str
    values: dict[str, Any]
    objects: list[dict[str, Any]]
    notes: str
    templates: dict[str, str] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name or ''}, got {len(found)}"
        return found[0]


def parse(name: str, values: dict[str, Any], templates: dict[str, str]) -> Rendered:
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(templates.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("metadata", {}).setdefault("annotations", {})
                doc["metadata"]["annotations"].setdefault("dyad.test/template", path)
                objects.append(doc)
    return Rendered(name, merged_values(values), objects, notes, templates)


@functools.cache
def rendered(name: str) -> Rendered:
    """The render of one values set, once per test session."""
    values = load_values(name)
    return parse(name, values, render(values))


def render_with(name: str, **overrides: Any) -> Rendered:
    """A values set with dotted-path overrides (``{"redis.enabled": False}``), rendered anew."""
    values = copy.deepcopy(load_values(name))
    for dotted, value in overrides.items():
        node = values
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse(name, values, render(values))


# ----------------------------------------------------------------------------- pods


@dataclass
class Pod:
    """A pod template somewhere in the render."""

    where: str  # "Deployment/dyad-gateway", "RayService/dyad head", …
    owner_kind: str
    labels: dict[str, str]
    spec: dict[str, Any]
    group: dict[str, Any] | None = None  # the RayService worker group, if any

    def containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers", [])) + list(self.spec.get("initContainers", []))


def pods(r: Rendered) -> Iterator[Pod]:
    for o in r.objects:
        kind, name = o["kind"], o["metadata"]["name"]
        if kind in WORKLOAD_KINDS:
            t = o["spec"]["template"]
            yield Pod(f"{kind}/{name}", kind, t["metadata"].get("labels", {}), t["spec"])
        elif kind == "RayService":
            cluster = o["spec"]["rayClusterConfig"]
            head = cluster["headGroupSpec"]["template"]
            yield Pod(f"{kind}/{name} head", kind, head["metadata"].get("labels", {}), head["spec"])
            for g in cluster.get("workerGroupSpecs", []):
                t = g["template"]
                yield Pod(
                    f"{kind}/{name} group {g['groupName']}",
                    kind,
                    t["metadata"].get("labels", {}),
                    t["spec"],
                    group=g,
                )


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}
