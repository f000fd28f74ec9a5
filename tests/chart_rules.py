"""The checks the chart tests run on renders of the Helm chart (tests/chart_render.py).

Each check is a function that returns the problems it finds (an empty list: none), so the
tests can run it on the real renders (tests/test_chart*.py) *and* on deliberately broken copies
(tests/test_chart_checks.py), proving that it notices what it checks: core objects against the
Kubernetes schemas, probes, hardening, requests and limits, GPUs only in GPU groups, the Serve
config and its overrides, replicas that fit a worker group, the ScaledObject and the monitors.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import yaml

from tests.chart_render import (
    CRD_KINDS,
    K8S_VERSIONS,
    QUEUE_PRIORITIES,
    SERVE_CONFIG,
    Pod,
    Rendered,
    pods,
    selects,
)


def check_core_objects(r: Rendered, versions: tuple[str, ...] = K8S_VERSIONS) -> list[str]:
    """Every core object validates (strict: unknown fields are errors) against the Kubernetes
    schemas of each version; the RayService's pod templates are validated as PodTemplates.
    Custom resources (CRD_KINDS) have their own checks."""
    problems = []
    for version in versions:
        for o in r.objects:
            if o["kind"] not in CRD_KINDS:
                problems += _validate(o, version)
        for pod in pods(r):
            if pod.owner_kind == "RayService":
                problems += _validate(_pod_template(pod.where, pod.labels, pod.spec), version)
    return problems


@functools.cache
def _kubernetes_validate() -> Any:
    """kubernetes_validate, with its schema-file reads cached: it re-reads and re-parses the
    whole _definitions.json (megabytes) on every call, which made validation the slowest part
    of the chart tests."""
    import kubernetes_validate
    from kubernetes_validate import utils

    utils.schema_contents = functools.cache(utils.schema_contents)
    return kubernetes_validate


def _validate(obj: dict[str, Any], version: str) -> list[str]:
    kubernetes_validate = _kubernetes_validate()
    obj = json.loads(json.dumps(obj))
    annotations = obj["metadata"].get("annotations", {})
    annotations.pop("dyad.test/template", None)
    if not annotations:
        obj["metadata"].pop("annotations", None)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        where = f"{obj['kind']}/{obj['metadata'].get('name')}"
        return [f"{version} {where}: {e.message} at {list(e.path)}"]
    return []


def _pod_template(where: str, labels: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    name = re.sub(r"[^a-z0-9-]+", "-", where.lower()).strip("-")
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name},
        "template": {"metadata": {"labels": labels}, "spec": spec},
    }


def check_probes(r: Rendered) -> list[str]:
    """Every long-running container has readiness and liveness probes; Ray containers (slow
    to start) and the gateway also a startup probe. Job containers run to completion: their
    exit code is their health."""
    problems = []
    for pod in pods(r):
        if pod.owner_kind == "Job":
            continue
        for c in pod.spec.get("containers", []):
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    problems.append(f"{pod.where} {c['name']}: no {probe}")
            slow = pod.owner_kind == "RayService" or c["name"] == "gateway"
            if slow and not c.get("startupProbe"):
                problems.append(f"{pod.where} {c['name']}: no startupProbe")
    return problems


HARDENED = {
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}


def check_security(r: Rendered) -> list[str]:
    """No container may run as root (runAsNonRoot and a non-zero runAsUser, from the pod or the
    container), and every container is hardened (read-only root, no privilege escalation, all
    capabilities dropped, RuntimeDefault seccomp). The autoscaler sidecar KubeRay injects gets
    the context the RayService names."""
    problems = []
    for pod in pods(r):
        psc = pod.spec.get("securityContext", {})
        containers = pod.containers()
        for c in containers:
            csc = c.get("securityContext", {})
            problems += _security_problems(f"{pod.where} {c['name']}", psc, csc)
    for rs in r.of_kind("RayService"):
        opts = rs["spec"]["rayClusterConfig"].get("autoscalerOptions")
        if rs["spec"]["rayClusterConfig"].get("enableInTreeAutoscaling"):
            csc = (opts or {}).get("securityContext", {})
            problems += _security_problems(
                f"RayService {rs['metadata']['name']} autoscaler", {}, csc
            )
    return problems


def _security_problems(where: str, psc: dict[str, Any], csc: dict[str, Any]) -> list[str]:
    problems = []
    non_root = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    if non_root is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    if not isinstance(uid, int) or uid == 0:
        problems.append(f"{where}: runAsUser {uid!r} (must be a non-zero UID)")
    for key, want in HARDENED.items():
        if csc.get(key) is not want:
            problems.append(f"{where}: securityContext.{key} is not {want}")
    if "ALL" not in (csc.get("capabilities") or {}).get("drop", []):
        problems.append(f"{where}: capabilities.drop lacks ALL")
    seccomp = csc.get("seccompProfile") or psc.get("seccompProfile") or {}
    if seccomp.get("type") != "RuntimeDefault":
        problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    return problems


def check_resources(r: Rendered) -> list[str]:
    """Requests and limits (CPU and memory) on every container, the autoscaler's included."""
    problems = []
    entries: list[tuple[str, dict[str, Any]]] = []
    for pod in pods(r):
        entries += [
            (f"{pod.where} {c['name']}", c.get("resources") or {}) for c in pod.containers()
        ]
    for rs in r.of_kind("RayService"):
        cfg = rs["spec"]["rayClusterConfig"]
        if cfg.get("enableInTreeAutoscaling"):
            opts = cfg.get("autoscalerOptions") or {}
            entries.append(
                (f"RayService {rs['metadata']['name']} autoscaler", opts.get("resources") or {})
            )
    for where, res in entries:
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if not (res.get(kind) or {}).get(resource):
                    problems.append(f"{where}: no {kind}.{resource}")
    return problems


def group_cpus(group: dict[str, Any]) -> float:
    """Ray's CPU count of a worker group's pod: rayStartParams num-cpus, else the CPU limit."""
    if "num-cpus" in group.get("rayStartParams", {}):
        return float(group["rayStartParams"]["num-cpus"])
    limit = str(group["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    return float(limit[:-1]) / 1000 if limit.endswith("m") else float(limit)


def group_gpus(group: dict[str, Any]) -> int:
    limits = group["template"]["spec"]["containers"][0]["resources"].get("limits", {})
    return int(limits.get("nvidia.com/gpu", 0))


#: The component label of the fit workers (FitAvatar jobs), the one GPU group outside Ray.
FIT_WORKER = "fit-worker"


def check_gpu_groups(r: Rendered) -> list[str]:
    """nvidia.com/gpu limits only in the GPU groups — the Ray worker groups and the fit-worker
    Deployment — as many as values say, the -cuda image there and the -cpu image elsewhere; no
    GPU on the head nor in any other pod; a sane replica range."""
    problems = []
    wanted = {g["name"]: int(g.get("gpus", 0)) for g in r.values["ray"]["workerGroups"]}
    for pod in pods(r):
        if pod.owner_kind != "RayService":
            fit = (
                pod.owner_kind == "Deployment"
                and pod.labels.get("app.kubernetes.io/component") == FIT_WORKER
            )
            if fit:
                problems += _fit_worker_gpu_problems(pod, int(r.values["fitWorkers"]["gpus"]))
                continue
            for c in pod.containers():
                if _gpu_in(c):
                    problems.append(f"{pod.where} {c['name']}: asks for a GPU")
            continue
        c = pod.spec["containers"][0]
        if pod.group is None:
            if _gpu_in(c):
                problems.append(f"{pod.where}: the head asks for a GPU")
            if not c["image"].endswith("-cpu"):
                problems.append(f"{pod.where}: head image {c['image']} is not a -cpu image")
            continue
        g = pod.group
        gpus = group_gpus(g)
        if gpus != wanted.get(g["groupName"]):
            problems.append(f"{pod.where}: {gpus} GPUs, values say {wanted.get(g['groupName'])}")
        if "nvidia.com/gpu" in (c["resources"].get("requests") or {}) and not gpus:
            problems.append(f"{pod.where}: a GPU request in a CPU group")
        flavour = "-cuda" if gpus else "-cpu"
        if not c["image"].endswith(flavour):
            problems.append(f"{pod.where}: image {c['image']} is not a {flavour} image")
        if not g["minReplicas"] <= g.get("replicas", g["minReplicas"]) <= g["maxReplicas"]:
            problems.append(f"{pod.where}: replicas outside [minReplicas, maxReplicas]")
    return problems


def _fit_worker_gpu_problems(pod: Pod, want: int) -> list[str]:
    """The fit workers' one container: ``want`` GPUs as a limit (the request, if any, equal),
    the -cuda image with GPUs and the -cpu image without."""
    problems = []
    for c in pod.containers():
        res = c.get("resources") or {}
        limit = int((res.get("limits") or {}).get("nvidia.com/gpu", 0))
        request = (res.get("requests") or {}).get("nvidia.com/gpu")
        if limit != want:
            problems.append(f"{pod.where} {c['name']}: {limit} GPUs, values say {want}")
        if request is not None and int(request) != limit:
            problems.append(f"{pod.where} {c['name']}: GPU request {request} != limit {limit}")
        flavour = "-cuda" if limit else "-cpu"
        if not c["image"].endswith(flavour):
            problems.append(f"{pod.where} {c['name']}: image {c['image']} is not a {flavour} image")
    return problems


def _gpu_in(container: dict[str, Any]) -> bool:
    res = container.get("resources") or {}
    return any("nvidia.com/gpu" in (res.get(k) or {}) for k in ("requests", "limits"))


# ----------------------------------------------------------------------------- Serve config


def deep_merge(base: Any, override: Any) -> Any:
    """The chart's merge: maps key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return copy.deepcopy(override)


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """ray.serveConfig.applicationOverrides as README.md documents them (a reimplementation of
    the template, so the two can be compared)."""
    out = copy.deepcopy(config)
    apps = []
    for app in config["applications"]:
        o = overrides.get(app["name"], {})
        if o.get("enabled") is False:
            continue
        deps_o = o.get("deployments", {})
        merged = deep_merge(
            {k: v for k, v in app.items() if k != "deployments"},
            {k: v for k, v in o.items() if k not in ("deployments", "enabled")},
        )
        merged["deployments"] = [
            deep_merge(d, deps_o.get(d["name"], {})) for d in app["deployments"]
        ]
        apps.append(merged)
    out["applications"] = apps
    return out


def canonical(x: Any) -> str:
    """Type-strict comparison form (an int that became a float shows)."""
    return json.dumps(x, sort_keys=True)


def check_serve_config(r: Rendered) -> list[str]:
    """spec.serveConfigV2 is deploy/ray/serve_config.yaml with the documented overrides applied
    — nothing else; verbatim (comments and all) when there are none."""
    problems = []
    source_text = SERVE_CONFIG.read_text()
    source = yaml.safe_load(source_text)
    overrides = r.values["ray"]["serveConfig"].get("applicationOverrides") or {}
    for rs in r.of_kind("RayService"):
        text = rs["spec"]["serveConfigV2"]
        got = yaml.safe_load(text)
        want = apply_overrides(source, overrides)
        if canonical(got) != canonical(want):
            problems.append("serveConfigV2 differs from serve_config.yaml + applicationOverrides")
        if not overrides and text.strip() != source_text.strip():
            problems.append("serveConfigV2 is not serve_config.yaml verbatim (no overrides set)")
    return problems


def serve_deployments(r: Rendered) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for rs in r.of_kind("RayService"):
        for app in yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"]:
            out += [(f"{app['name']}/{d['name']}", d) for d in app["deployments"]]
    return out


def check_fit(r: Rendered) -> list[str]:
    """Every Serve deployment's replica fits one pod of some worker group (CPUs and GPUs),
    so the autoscaler can place it: a GPU share needs a GPU group."""
    problems = []
    groups = [
        g
        for rs in r.of_kind("RayService")
        for g in rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    ]
    for where, d in serve_deployments(r):
        actor = d.get("ray_actor_options", {})
        cpus, gpus = float(actor.get("num_cpus", 1)), float(actor.get("num_gpus", 0))
        if not any(cpus <= group_cpus(g) and gpus <= group_gpus(g) for g in groups):
            problems.append(f"{where}: {cpus} CPUs / {gpus} GPUs fits no worker group")
    return problems


# ----------------------------------------------------------------------------- KEDA, monitors


def check_scaled_object(r: Rendered) -> list[str]:
    """Each ScaledObject scales a worker Deployment on exactly the three priority streams of
    its job kind (the CPU workers ``<prefix>:jobs:*``, the fit workers ``<prefix>:fit:jobs:*``)
    in the consumer group ``workers``, each with a lagCount trigger (the one that wakes from
    0); one ScaledObject per Deployment."""
    problems = []
    prefix = r.values["queue"]["prefix"]
    # Deployment name → the key prefix of the queue its pods read.
    queues = {
        o["metadata"]["name"]: f"{prefix}:fit" if component == FIT_WORKER else prefix
        for o in r.of_kind("Deployment")
        if (component := o["metadata"]["labels"].get("app.kubernetes.io/component"))
        in ("worker", FIT_WORKER)
    }
    targets = [so["spec"]["scaleTargetRef"]["name"] for so in r.of_kind("ScaledObject")]
    if len(set(targets)) != len(targets):
        problems.append(f"several ScaledObjects scale one Deployment: {targets}")
    for so in r.of_kind("ScaledObject"):
        ref = so["spec"]["scaleTargetRef"]
        if ref.get("kind", "Deployment") != "Deployment" or ref["name"] not in queues:
            problems.append(f"scaleTargetRef {ref} is not a worker Deployment {sorted(queues)}")
            continue
        want_streams = {f"{queues[ref['name']]}:jobs:{p}" for p in QUEUE_PRIORITIES}
        triggers = so["spec"]["triggers"]
        streams = {t["metadata"].get("stream") for t in triggers}
        if streams != want_streams:
            problems.append(f"streams {sorted(map(str, streams))} != {sorted(want_streams)}")
        for t in triggers:
            if t["type"] != "redis-streams":
                problems.append(f"trigger type {t['type']}")
            if t["metadata"].get("consumerGroup") != "workers":
                problems.append(f"trigger {t.get('name')}: consumerGroup is not workers")
            # The CRD types trigger metadata as map[string]string.
            if not all(isinstance(v, str) for v in t["metadata"].values()):
                problems.append(f"trigger {t.get('name')}: metadata values must be strings")
        lagged = {t["metadata"]["stream"] for t in triggers if "lagCount" in t["metadata"]}
        if lagged != want_streams:
            problems.append(f"streams without lagCount: {sorted(want_streams - lagged)}")
        for t in triggers:
            if "lagCount" in t["metadata"] and "activationLagCount" not in t["metadata"]:
                problems.append(f"trigger {t.get('name')}: lagCount without activationLagCount")
    return problems


def check_monitors(r: Rendered) -> list[str]:
    """Each PodMonitor/ServiceMonitor selects some pods (or Services) of the render, and each
    endpoint's port name exists on them."""
    problems = []
    all_pods = list(pods(r))
    for m in r.of_kind("PodMonitor"):
        name = m["metadata"]["name"]
        sel = m["spec"]["selector"]["matchLabels"]
        chosen = [p for p in all_pods if selects(sel, p.labels)]
        if not chosen:
            problems.append(f"PodMonitor {name}: selects no pod")
        ports = {
            pt.get("name") for p in chosen for c in p.containers() for pt in c.get("ports", [])
        }
        for ep in m["spec"]["podMetricsEndpoints"]:
            if ep["port"] not in ports:
                problems.append(f"PodMonitor {name}: no pod port named {ep['port']}")
    for m in r.of_kind("ServiceMonitor"):
        name = m["metadata"]["name"]
        sel = m["spec"]["selector"]["matchLabels"]
        svcs = [s for s in r.of_kind("Service") if selects(sel, s["metadata"].get("labels", {}))]
        if not svcs:
            problems.append(f"ServiceMonitor {name}: selects no Service")
        ports = {pt.get("name") for s in svcs for pt in s["spec"]["ports"]}
        for ep in m["spec"]["endpoints"]:
            if ep["port"] not in ports:
                problems.append(f"ServiceMonitor {name}: no Service port named {ep['port']}")
    return problems
