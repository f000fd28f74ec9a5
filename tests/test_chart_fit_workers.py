"""The fit-worker group (``fitWorkers``): FitAvatar jobs on GPU pods of their own.

Enabled, the chart renders a batch-worker Deployment that takes only ``fit_avatar`` jobs (their
queue is ``<prefix>:fit``, dyad.services.gateway.fitjobs.kind_queue) on GPU nodes, scaled by KEDA
on the fit streams, scraped and closed like the CPU workers, and the CPU workers take only
``generate`` jobs; disabled, the CPU workers take both kinds, so a FitAvatar job still runs on a
cluster without GPUs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.chart_network_rules import check_network_policies, reachable
from tests.chart_render import (
    QUEUE_PRIORITIES,
    Rendered,
    RenderError,
    env_of,
    render_with,
    rendered,
    selects,
)
from tests.chart_rules import (
    check_core_objects,
    check_gpu_groups,
    check_monitors,
    check_probes,
    check_resources,
    check_scaled_object,
    check_security,
)

GPU_NODES = {"nvidia.com/gpu.present": "true"}


def _container(r: Rendered, deployment: str) -> dict[str, Any]:
    spec: dict[str, Any] = r.one("Deployment", deployment)["spec"]["template"]["spec"]
    return spec["containers"][0]


@pytest.fixture(scope="module")
def enabled() -> Rendered:
    """dev (in-chart Redis with a password, MinIO) with the fit group, its KEDA scaling, the
    NetworkPolicies and PodMonitors on."""
    return render_with(
        "dev",
        **{
            "fitWorkers.enabled": True,
            "fitWorkers.gpus": 2,
            "fitWorkers.nodeSelector": GPU_NODES,
            "fitWorkers.keda.enabled": True,
            "networkPolicy.enabled": True,
            "monitoring.podMonitors": True,
        },
    )


def test_disabled_by_default_and_cpu_workers_take_fits() -> None:
    for name in ("defaults", "dev"):
        r = rendered(name)
        assert r.values["fitWorkers"]["enabled"] is False
        assert [o for o in r.objects if "fit-worker" in o["metadata"]["name"]] == []
        kinds = env_of(_container(r, "dyad-worker"))["DYAD_WORKER_JOB_KINDS"]["value"]
        assert kinds == "generate,fit_avatar", name


def test_enabled_group_runs_the_worker_on_fit_jobs_only(enabled: Rendered) -> None:
    dep = enabled.one("Deployment", "dyad-fit-worker")
    c = _container(enabled, "dyad-fit-worker")
    assert c["args"] == ["python", "-m", "dyad.services.worker"]
    assert re.fullmatch(r".+:[^:]+-cuda", c["image"]), c["image"]
    env = env_of(c)
    assert env["DYAD_WORKER_JOB_KINDS"]["value"] == "fit_avatar"
    assert env["DYAD_WORKER_CONCURRENCY"]["value"] == "1"
    assert "DYAD_PIPELINE_ENDPOINT" not in env  # a fit calls no served stage
    # The CPU workers' store, queue and Redis wiring, the password from the same Secret.
    cpu_env = env_of(_container(enabled, "dyad-worker"))
    for var in ("DYAD_REDIS_URL", "DYAD_REDIS_PASSWORD", "DYAD_QUEUE_PREFIX", "DYAD_STORE_URI"):
        assert env[var] == cpu_env[var], var
    assert env["DYAD_S3_ACCESS_KEY"] == cpu_env["DYAD_S3_ACCESS_KEY"]
    # ... and now the CPU workers leave the fits to this group.
    assert cpu_env["DYAD_WORKER_JOB_KINDS"]["value"] == "generate"
    spec = dep["spec"]["template"]["spec"]
    worker_spec = enabled.one("Deployment", "dyad-worker")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == worker_spec["serviceAccountName"] == "dyad-worker"
    assert spec["securityContext"] == worker_spec["securityContext"]
    assert c["securityContext"] == _container(enabled, "dyad-worker")["securityContext"]
    assert "replicas" not in dep["spec"]  # KEDA owns the count


def test_gpus_node_selector_and_tolerations(enabled: Rendered) -> None:
    c = _container(enabled, "dyad-fit-worker")
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert c["resources"]["limits"]["memory"] == "16Gi"
    spec = enabled.one("Deployment", "dyad-fit-worker")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == GPU_NODES
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert check_gpu_groups(enabled) == []


def test_cpu_only_fit_group_runs_the_cpu_image() -> None:
    r = render_with("dev", **{"fitWorkers.enabled": True, "fitWorkers.gpus": 0})
    c = _container(r, "dyad-fit-worker")
    assert "nvidia.com/gpu" not in c["resources"]["limits"]
    assert c["image"].endswith("-cpu")
    assert r.one("Deployment", "dyad-fit-worker")["spec"]["replicas"] == 1
    assert check_gpu_groups(r) == []


def test_scaled_on_the_fit_streams(enabled: Rendered) -> None:
    so = enabled.one("ScaledObject", "dyad-fit-worker")
    assert so["spec"]["scaleTargetRef"]["name"] == "dyad-fit-worker"
    triggers = so["spec"]["triggers"]
    assert {t["metadata"]["stream"] for t in triggers} == {
        f"dyad:fit:jobs:{p}" for p in QUEUE_PRIORITIES
    }
    assert {t["metadata"]["consumerGroup"] for t in triggers} == {"workers"}
    lag = [t for t in triggers if "lagCount" in t["metadata"]]
    assert len(lag) == 3 and all(t["metadata"]["lagCount"] == "1" for t in lag)
    # Only the fit group is scaled by KEDA here: the password still reaches KEDA, and the
    # Redis policy admits KEDA's operator.
    auth = enabled.one("TriggerAuthentication")
    assert {t["authenticationRef"]["name"] for t in triggers} == {auth["metadata"]["name"]}
    assert not [s for s in enabled.of_kind("ScaledObject") if s is not so]
    redis_peers = enabled.one("NetworkPolicy", "dyad-redis")["spec"]["ingress"][0]["from"]
    assert any("namespaceSelector" in p for p in redis_peers)
    assert check_scaled_object(enabled) == []


def test_network_policy_and_monitor(enabled: Rendered) -> None:
    pol = enabled.one("NetworkPolicy", "dyad-fit-worker")
    labels = enabled.one("Deployment", "dyad-fit-worker")["spec"]["template"]["metadata"]["labels"]
    assert selects(pol["spec"]["podSelector"]["matchLabels"], labels)
    [rule] = pol["spec"]["ingress"]
    assert rule["ports"] == [{"port": 9100, "protocol": "TCP"}]
    assert check_network_policies(enabled) == []
    # The fit workers reach Redis and MinIO (policies admit every Dyad pod), not Serve.
    ns = {"kubernetes.io/metadata.name": "dyad"}
    for dst, port in (("redis", 6379), ("minio", 9000)):
        dst_labels = {**labels, "app.kubernetes.io/component": dst}
        assert reachable(enabled, ns, labels, dst_labels, port), dst
    ray = {**labels, "app.kubernetes.io/component": "ray"}
    assert not reachable(enabled, ns, labels, ray, 9000)
    assert enabled.one("PodMonitor", "dyad-fit-worker")
    assert check_monitors(enabled) == []


def test_passes_the_chart_checks(enabled: Rendered) -> None:
    for check in (check_probes, check_security, check_resources):
        assert check(enabled) == [], check.__name__
    assert check_core_objects(enabled, versions=("1.29.0",)) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fitWorkers.gpus": -1}, "minimum"),
        ({"fitWorkers.gpu": 1}, "additional properties"),
        ({"fitWorkers.keda.maxReplicaCount": 0}, "minimum"),
    ],
)
def test_bad_values_fail_the_render(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render_with("defaults", **overrides)
