"""The chart checks notice what they check: each runs on a deliberately broken copy of a real
render (or of values.yaml / the schema) and must report the breakage. Without these, a check
that silently matched nothing would pass forever."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.chart_render import CHART, Rendered, pods, rendered
from tests.chart_rules import (
    check_core_objects,
    check_fit,
    check_gpu_groups,
    check_monitors,
    check_probes,
    check_resources,
    check_scaled_object,
    check_security,
    check_serve_config,
)
from tests.values_coverage import free_form_paths, schema_paths, undocumented_keys, value_paths


def broken(name: str, edit: Callable[[Rendered], Any]) -> Rendered:
    r = copy.deepcopy(rendered(name))
    edit(r)
    return r


def container(r: Rendered, where: str, index: int = 0) -> dict[str, Any]:
    pod = next(p for p in pods(r) if p.where == where)
    return pod.spec["containers"][index]


def rayservice(r: Rendered) -> dict[str, Any]:
    return r.one("RayService")["spec"]


def serve_config(r: Rendered) -> dict[str, Any]:
    return yaml.safe_load(rayservice(r)["serveConfigV2"])


def set_serve_config(r: Rendered, cfg: dict[str, Any]) -> None:
    rayservice(r)["serveConfigV2"] = yaml.safe_dump(cfg)


def _drop_probe(r: Rendered, where: str, probe: str) -> None:
    del container(r, where)[probe]


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    if value is KeyError:
        d.pop(leaf, None)
    else:
        d[leaf] = value


def _edit_motion(r: Rendered, key: str, value: Any) -> None:
    cfg = serve_config(r)
    motion = next(a for a in cfg["applications"] if a["name"] == "motion")
    motion["deployments"][0]["ray_actor_options"][key] = value
    set_serve_config(r, cfg)


def _drop_app(r: Rendered) -> None:
    cfg = serve_config(r)
    cfg["applications"] = cfg["applications"][:-1]
    set_serve_config(r, cfg)


def _reformat(r: Rendered) -> None:
    # The same content without the file's comments: not the file verbatim any more.
    set_serve_config(r, serve_config(r))


def _gpu_in_cpu_group(r: Rendered) -> None:
    group = rayservice(r)["rayClusterConfig"]["workerGroupSpecs"][0]
    group["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = 1


def _cpu_image_in_gpu_group(r: Rendered) -> None:
    group = rayservice(r)["rayClusterConfig"]["workerGroupSpecs"][1]
    c = group["template"]["spec"]["containers"][0]
    c["image"] = c["image"].replace("-cuda", "-cpu")


def _gpu_on_gateway(r: Rendered) -> None:
    container(r, "Deployment/dyad-gateway")["resources"]["limits"]["nvidia.com/gpu"] = 1


def _fit_worker(r: Rendered) -> dict[str, Any]:
    return container(r, "Deployment/dyad-fit-worker")


def _fit_worker_without_gpu(r: Rendered) -> None:
    del _fit_worker(r)["resources"]["limits"]["nvidia.com/gpu"]


def _fit_worker_on_cpu_image(r: Rendered) -> None:
    c = _fit_worker(r)
    c["image"] = c["image"].replace("-cuda", "-cpu")


def _gpu_on_cpu_workers(r: Rendered) -> None:
    container(r, "Deployment/dyad-worker")["resources"]["limits"]["nvidia.com/gpu"] = 1


def _fit_scaled_on_generate_streams(r: Rendered) -> None:
    for t in r.one("ScaledObject", "dyad-fit-worker")["spec"]["triggers"]:
        t["metadata"]["stream"] = t["metadata"]["stream"].replace(":fit:jobs:", ":jobs:")


def _no_autoscaler_context(r: Rendered) -> None:
    del rayservice(r)["rayClusterConfig"]["autoscalerOptions"]["securityContext"]


def _no_autoscaler_resources(r: Rendered) -> None:
    del rayservice(r)["rayClusterConfig"]["autoscalerOptions"]["resources"]


def _root_redis(r: Rendered) -> None:
    pod = next(p for p in pods(r) if p.where == "StatefulSet/dyad-redis")
    pod.spec["securityContext"].pop("runAsNonRoot")
    pod.spec["containers"][0]["securityContext"].pop("runAsNonRoot")


def _triggers(r: Rendered) -> list[dict[str, Any]]:
    return r.one("ScaledObject", "dyad-worker")["spec"]["triggers"]


def _drop_low_stream(r: Rendered) -> None:
    so = r.one("ScaledObject", "dyad-worker")["spec"]
    so["triggers"] = [t for t in so["triggers"] if not t["metadata"]["stream"].endswith(":low")]


def _drop_lag_of_high(r: Rendered) -> None:
    so = r.one("ScaledObject", "dyad-worker")["spec"]
    so["triggers"] = [
        t
        for t in so["triggers"]
        if not (t["metadata"]["stream"].endswith(":high") and "lagCount" in t["metadata"])
    ]


def _pod_monitor(r: Rendered, name: str) -> dict[str, Any]:
    return r.one("PodMonitor", name)["spec"]


BREAKAGES: dict[str, tuple[str, Callable[[Rendered], Any], Callable[[Rendered], list[str]]]] = {
    "worker without readiness probe": (
        "dev",
        lambda r: _drop_probe(r, "Deployment/dyad-worker", "readinessProbe"),
        check_probes,
    ),
    "ray head without startup probe": (
        "dev",
        lambda r: _drop_probe(r, "RayService/dyad head", "startupProbe"),
        check_probes,
    ),
    "gateway without liveness probe": (
        "prod",
        lambda r: _drop_probe(r, "Deployment/dyad-gateway", "livenessProbe"),
        check_probes,
    ),
    "gateway container as root": (
        "dev",
        lambda r: _set(container(r, "Deployment/dyad-gateway"), "securityContext.runAsUser", 0),
        check_security,
    ),
    "redis pod may run as root": ("dev", _root_redis, check_security),
    "writable root filesystem": (
        "prod",
        lambda r: _set(
            container(r, "RayService/dyad group gpu"),
            "securityContext.readOnlyRootFilesystem",
            False,
        ),
        check_security,
    ),
    "capabilities kept": (
        "dev",
        lambda r: _set(container(r, "Job/dyad-minio-bucket"), "securityContext.capabilities", {}),
        check_security,
    ),
    "autoscaler without security context": ("defaults", _no_autoscaler_context, check_security),
    "job without memory limit": (
        "dev",
        lambda r: _set(container(r, "Job/dyad-minio-bucket"), "resources.limits.memory", KeyError),
        check_resources,
    ),
    "ray worker without cpu request": (
        "prod",
        lambda r: _set(
            container(r, "RayService/dyad group cpu"), "resources.requests.cpu", KeyError
        ),
        check_resources,
    ),
    "autoscaler without resources": ("prod", _no_autoscaler_resources, check_resources),
    "GPU limit in a CPU group": ("prod", _gpu_in_cpu_group, check_gpu_groups),
    "GPU group on the cpu image": ("defaults", _cpu_image_in_gpu_group, check_gpu_groups),
    "GPU on the gateway": ("prod", _gpu_on_gateway, check_gpu_groups),
    "GPU on the CPU workers": ("prod", _gpu_on_cpu_workers, check_gpu_groups),
    "fit workers without their GPU": ("prod", _fit_worker_without_gpu, check_gpu_groups),
    "fit workers on the cpu image": ("prod", _fit_worker_on_cpu_image, check_gpu_groups),
    "serve config edited (num_gpus)": (
        "prod",
        lambda r: _edit_motion(r, "num_gpus", 1),
        check_serve_config,
    ),
    "serve config override lost": (
        "dev",
        lambda r: _edit_motion(r, "num_gpus", 0.25),
        check_serve_config,
    ),
    "application dropped": ("defaults", _drop_app, check_serve_config),
    "serve config not verbatim": ("defaults", _reformat, check_serve_config),
    "GPU share without a GPU group": (
        "dev",
        lambda r: _edit_motion(r, "num_gpus", 0.25),
        check_fit,
    ),
    "replica larger than any pod": ("prod", lambda r: _edit_motion(r, "num_cpus", 64), check_fit),
    "a priority stream missing": ("prod", _drop_low_stream, check_scaled_object),
    "a stream without lagCount": ("prod", _drop_lag_of_high, check_scaled_object),
    "wrong consumer group": (
        "prod",
        lambda r: _set(_triggers(r)[0], "metadata.consumerGroup", "other"),
        check_scaled_object,
    ),
    "a number in trigger metadata": (
        "prod",
        lambda r: _set(_triggers(r)[0], "metadata.lagCount", 2),
        check_scaled_object,
    ),
    "scaling the wrong Deployment": (
        "prod",
        lambda r: _set(
            r.one("ScaledObject", "dyad-worker")["spec"], "scaleTargetRef.name", "dyad-gateway"
        ),
        check_scaled_object,
    ),
    "fit workers scaled on the generate streams": (
        "prod",
        _fit_scaled_on_generate_streams,
        check_scaled_object,
    ),
    "two ScaledObjects on one Deployment": (
        "prod",
        lambda r: _set(
            r.one("ScaledObject", "dyad-fit-worker")["spec"], "scaleTargetRef.name", "dyad-worker"
        ),
        check_scaled_object,
    ),
    "monitor on a missing port": (
        "prod",
        lambda r: _set(_pod_monitor(r, "dyad-worker")["podMetricsEndpoints"][0], "port", "prom"),
        check_monitors,
    ),
    "monitor selecting nothing": (
        "prod",
        lambda r: _pod_monitor(r, "dyad-ray")["selector"].update(matchLabels={"a": "b"}),
        check_monitors,
    ),
    "unknown field in a Deployment": (
        "dev",
        lambda r: _set(r.one("Deployment", "dyad-worker")["spec"], "replicaz", 2),
        check_core_objects,
    ),
    "wrong type in a Ray pod template": (
        "dev",
        lambda r: _set(
            container(r, "RayService/dyad group cpu")["ports"][0], "containerPort", "nine"
        ),
        check_core_objects,
    ),
}


@pytest.mark.parametrize("case", list(BREAKAGES))
def test_check_notices(case: str) -> None:
    name, edit, check = BREAKAGES[case]
    assert check(rendered(name)) == [], "the unbroken render must pass"
    assert check(broken(name, edit)), f"{check.__name__} missed: {case}"


def test_undocumented_key_is_found() -> None:
    text = (CHART / "values.yaml").read_text()
    assert undocumented_keys(text) == []
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.strip() == "concurrency: 2")
    assert lines[i - 1].lstrip().startswith("#")
    without_comment = "\n".join(lines[: i - 1] + lines[i:])
    assert undocumented_keys(without_comment) == [f"line {i}: concurrency"]
    detached = "\n".join([*lines[:i], "", *lines[i:]])  # a blank line between comment and key
    assert undocumented_keys(detached) == [f"line {i + 2}: concurrency"]
    inline = "\n".join([*lines[: i - 1], "    concurrency: 2  # jobs at once", *lines[i + 1 :]])
    assert undocumented_keys(inline) == []


def test_schema_gap_is_found() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    del schema["properties"]["workers"]["properties"]["keda"]["properties"]["lagCount"]
    missing = value_paths(defaults, free=free_form_paths(schema)) - schema_paths(schema)
    assert missing == {"workers.keda.lagCount"}
