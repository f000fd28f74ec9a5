"""The Helm chart (charts/dyad) and the objects it installs, rendered offline with the chart's
defaults and with deploy/values-dev.yaml and deploy/values-prod.yaml: packaging and lint, core
objects validated against the Kubernetes schemas (strict), labels, probes, hardening, resources
and writable paths, the RayService and its Serve config, the gateway and worker Deployments,
the KEDA ScaledObject, and Redis and S3 (in the chart or external). Each render runs once per
session; the checks live in tests/chart_rules.py and are also run on broken copies
(tests/test_chart_checks.py) to show they notice. Monitoring, access (NetworkPolicies, Secrets)
and values are in tests/test_chart_monitoring.py, test_chart_access.py and test_chart_values.py."""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.chart_render import (
    CHART,
    DASHBOARDS,
    DEPLOY,
    K8S_VERSIONS,
    NAMES,
    QUEUE_PRIORITIES,
    REPO,
    RULES,
    SERVE_CONFIG,
    Rendered,
    env_of,
    lint,
    load_values,
    package,
    pods,
    render_with,
    rendered,
    selects,
)
from tests.chart_rules import (
    check_core_objects,
    check_fit,
    check_gpu_groups,
    check_probes,
    check_resources,
    check_scaled_object,
    check_security,
    check_serve_config,
)


@pytest.fixture(params=NAMES)
def r(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param)


# ------------------------------------------------------------------------- chart as a whole


def test_files_link_to_deploy() -> None:
    """One source: the chart reads deploy/ through a symlink, no copies."""
    link = CHART / "files" / "deploy"
    assert link.is_symlink() and os.readlink(link) == "../../../deploy"
    assert link.resolve() == DEPLOY.resolve()
    copies = [
        p
        for p in CHART.rglob("*")
        if p.name == "serve_config.yaml" and "files/deploy" not in p.as_posix()
    ]
    assert copies == []


def test_package_holds_the_deploy_sources(tmp_path: Path) -> None:
    """`helm package` follows the symlink: the archive carries the Serve config, the rule file
    and the dashboards (and not the Dockerfile or the values overlays)."""
    archive = package(tmp_path)
    with tarfile.open(archive) as tar:
        names = {n.removeprefix("dyad/") for n in tar.getnames()}
    want = {"files/deploy/ray/serve_config.yaml"}
    want |= {f"files/deploy/{p.relative_to(DEPLOY)}" for p in DASHBOARDS.rglob("*.json")}
    if RULES.is_file():
        want.add("files/deploy/prometheus/rules.yaml")
    assert want <= names
    unwanted = [n for n in names if n.startswith(("files/deploy/docker/", "files/deploy/values-"))]
    assert unwanted == []


@pytest.mark.parametrize("name", NAMES)
def test_lint_clean(name: str) -> None:
    report = lint(load_values(name))
    assert not report["errors"], report["errors"]
    serious = [m for m in report["messages"] if m["severity"] >= 2]
    assert not serious, serious


def test_core_objects_validate_strict(r: Rendered) -> None:
    """Every core object against the Kubernetes OpenAPI schemas (unknown fields rejected) of
    the chart's kubeVersion floor and of the newest Kubernetes kubernetes-validate knows, and
    the RayService's pod templates as PodTemplates."""
    problems = check_core_objects(r, K8S_VERSIONS)
    assert not problems, "\n".join(problems)


def test_every_object_is_labelled(r: Rendered) -> None:
    for o in r.objects:
        labels = o["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/instance") == "dyad", o["metadata"]["name"]
        assert labels.get("app.kubernetes.io/part-of") == "dyad", o["metadata"]["name"]


def test_probes(r: Rendered) -> None:
    assert check_probes(r) == []


def test_no_container_may_run_as_root_and_all_are_hardened(r: Rendered) -> None:
    assert check_security(r) == []


def test_requests_and_limits_everywhere(r: Rendered) -> None:
    assert check_resources(r) == []


def test_writable_dirs_are_empty_dirs(r: Rendered) -> None:
    """Read-only root filesystems: the Dyad containers write only to emptyDirs."""
    for pod in pods(r):
        component = pod.labels.get("app.kubernetes.io/component")
        if component not in {"gateway", "worker", "fit-worker", "ray"}:
            continue
        volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
        for c in pod.spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            for path in ("/var/lib/dyad", "/tmp"):
                assert path in mounts, f"{pod.where}: {path} not mounted"
                assert "emptyDir" in volumes[mounts[path]], f"{pod.where}: {path} not an emptyDir"


def test_notes_render(r: Rendered) -> None:
    assert "dyad-gateway-headless" in r.notes and "round_robin" in r.notes


# ------------------------------------------------------------------------- Ray Serve


def test_serve_config_is_the_one_source(r: Rendered) -> None:
    assert check_serve_config(r) == []


def test_serve_deployments_fit_a_worker_group(r: Rendered) -> None:
    assert check_fit(r) == []


def test_gpus_only_in_gpu_groups(r: Rendered) -> None:
    assert check_gpu_groups(r) == []


def test_rayservice(r: Rendered) -> None:
    rs = r.one("RayService")
    spec = rs["spec"]
    assert spec["upgradeStrategy"]["type"] in {
        "NewCluster",
        "None",
        "NewClusterWithIncrementalUpgrade",
    }
    assert spec["upgradeStrategy"]["type"] == r.values["ray"]["upgradeStrategy"]
    cluster = spec["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    head = cluster["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert head["rayStartParams"]["metrics-export-port"] == "8080"
    for g in cluster["workerGroupSpecs"]:
        assert g["rayStartParams"]["metrics-export-port"] == "8080"
        assert all(isinstance(v, str) for v in g["rayStartParams"].values())
    ray_pin = re.search(r"^ray\[serve\]==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert ray_pin and cluster["rayVersion"] == ray_pin.group(1)


def test_ray_ports_follow_the_serve_config(r: Rendered) -> None:
    """Container ports, the gRPC Service and the workers' endpoint use the Serve config's ports."""
    cfg = yaml.safe_load(SERVE_CONFIG.read_text())
    grpc_port, http_port = cfg["grpc_options"]["port"], cfg["http_options"]["port"]
    for pod in pods(r):
        if pod.owner_kind != "RayService":
            continue
        ports = {p["name"]: p["containerPort"] for p in pod.spec["containers"][0]["ports"]}
        assert ports["serve-grpc"] == grpc_port and ports["serve"] == http_port, pod.where
        assert ports["metrics"] == 8080, pod.where
    svc = r.one("Service", "dyad-serve")
    assert svc["spec"]["ports"] == [
        {
            "name": "serve-grpc",
            "port": grpc_port,
            "targetPort": "serve-grpc",
            "appProtocol": "kubernetes.io/h2c",
        }
    ]
    assert svc["spec"]["selector"]["ray.io/serve"] == "true"
    ray_pods = [p for p in pods(r) if p.owner_kind == "RayService" and p.group is not None]
    assert all(
        selects(
            {k: v for k, v in svc["spec"]["selector"].items() if not k.startswith("ray.io/")},
            p.labels,
        )
        for p in ray_pods
    )
    worker = r.one("Deployment", "dyad-worker")["spec"]["template"]["spec"]["containers"][0]
    assert env_of(worker)["DYAD_PIPELINE_ENDPOINT"]["value"] == f"dyad-serve:{grpc_port}"
    assert env_of(worker)["DYAD_PIPELINE_STAGES"]["value"] == "served"


def test_ray_pods_env(r: Rendered) -> None:
    for pod in pods(r):
        if pod.owner_kind != "RayService":
            continue
        c = pod.spec["containers"][0]
        env = env_of(c)
        _assert_platform_env(pod.where, r, env)
        tokens = env["DYAD_GATEWAY_TOKENS_FILE"]["value"]
        mount = next(m for m in c["volumeMounts"] if tokens.startswith(m["mountPath"] + "/"))
        volume = next(v for v in pod.spec["volumes"] if v["name"] == mount["name"])
        assert "secret" in volume, pod.where


def _assert_platform_env(where: str, r: Rendered, env: dict) -> None:
    s3 = r.values["s3"]
    assert env["DYAD_STORE_URI"]["value"].startswith(f"s3://{s3['bucket']}"), where
    assert env["DYAD_S3_ENDPOINT"]["value"], where
    for key in ("DYAD_S3_ACCESS_KEY", "DYAD_S3_SECRET_KEY"):
        assert "secretKeyRef" in env[key]["valueFrom"], f"{where}: {key} not from a Secret"
    assert env["DYAD_REDIS_URL"]["value"].startswith(("redis://", "rediss://")), where
    if r.values["redis"]["auth"]["enabled"]:
        assert "$(DYAD_REDIS_PASSWORD)@" in env["DYAD_REDIS_URL"]["value"], where
        assert "secretKeyRef" in env["DYAD_REDIS_PASSWORD"]["valueFrom"], where
    assert env["DYAD_QUEUE_PREFIX"]["value"] == r.values["queue"]["prefix"], where
    assert env["DYAD_LOG_JSON"]["value"] == "true", where


# ------------------------------------------------------------------------- gateway, workers


def test_gateway(r: Rendered) -> None:
    dep = r.one("Deployment", "dyad-gateway")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    port = r.values["gateway"]["grpcPort"]
    assert c["args"] == ["python", "-m", "dyad.services.gateway"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"]["port"] == port, probe
    env = env_of(c)
    assert env["DYAD_GRPC_HOST"]["value"] == "0.0.0.0"
    assert env["DYAD_GRPC_PORT"]["value"] == str(port)
    assert env["DYAD_METRICS_PORT"]["value"] == str(r.values["gateway"]["metricsPort"])
    _assert_platform_env("gateway", r, env)
    grace = float(env["DYAD_GRPC_GRACE_S"]["value"])
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > grace
    labels = dep["spec"]["template"]["metadata"]["labels"]
    headless = r.one("Service", "dyad-gateway-headless")
    assert headless["spec"]["clusterIP"] == "None"
    for svc in (r.one("Service", "dyad-gateway"), headless):
        assert selects(svc["spec"]["selector"], labels)
        assert svc["spec"]["ports"][0]["port"] == port


def test_workers(r: Rendered) -> None:
    dep = r.one("Deployment", "dyad-worker")
    spec = dep["spec"]["template"]["spec"]
    c = spec["containers"][0]
    assert c["args"] == ["python", "-m", "dyad.services.worker"]
    env = env_of(c)
    _assert_platform_env("worker", r, env)
    metrics = r.values["workers"]["metricsPort"]
    assert env["DYAD_METRICS_PORT"]["value"] == str(metrics)
    # The worker's /metrics must listen beyond loopback (the default 127.0.0.1 is unreachable).
    assert env["DYAD_METRICS_HOST"]["value"] == "0.0.0.0"
    assert env["DYAD_WORKER_CONCURRENCY"]["value"] == str(r.values["workers"]["concurrency"])
    port_names = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"]["path"] == "/metrics"
        assert port_names[c[probe]["httpGet"]["port"]] == metrics
    grace = float(env["DYAD_WORKER_SHUTDOWN_GRACE_S"]["value"])
    assert spec["terminationGracePeriodSeconds"] > grace
    assert ("replicas" in dep["spec"]) != r.values["workers"]["keda"]["enabled"]
    # FitAvatar jobs go to the fit group when there is one, else to these workers.
    fit_group = r.values["fitWorkers"]["enabled"]
    kinds = "generate" if fit_group else "generate,fit_avatar"
    assert env["DYAD_WORKER_JOB_KINDS"]["value"] == kinds


def test_pdbs_select_their_pods(r: Rendered) -> None:
    components = ["gateway", "worker"]
    if r.values["fitWorkers"]["enabled"]:
        components.append("fit-worker")
    for component in components:
        pdb = r.one("PodDisruptionBudget", f"dyad-{component}")
        dep = r.one("Deployment", f"dyad-{component}")
        assert selects(
            pdb["spec"]["selector"]["matchLabels"], dep["spec"]["template"]["metadata"]["labels"]
        )
        assert pdb["spec"].get("maxUnavailable") or pdb["spec"].get("minAvailable")


# ------------------------------------------------------------------------- KEDA


def test_scaled_object() -> None:
    r = rendered("prod")
    so = r.one("ScaledObject", "dyad-worker")
    assert check_scaled_object(r) == []
    assert so["spec"]["minReplicaCount"] == r.values["workers"]["keda"]["minReplicaCount"]
    for t in so["spec"]["triggers"]:
        assert t["authenticationRef"]["name"] == r.one("TriggerAuthentication")["metadata"]["name"]
        assert t["metadata"]["address"] == "dyad-redis.prod.example.internal:6379"
    auth = r.one("TriggerAuthentication")["spec"]["secretTargetRef"]
    assert auth == [{"parameter": "password", "name": "dyad-redis", "key": "password"}]


def test_scaled_object_scale_to_zero_and_no_password() -> None:
    r = render_with("dev", **{"workers.keda.enabled": True, "redis.auth.enabled": False})
    [so] = r.of_kind("ScaledObject")
    assert check_scaled_object(r) == []
    assert so["spec"]["minReplicaCount"] == 0
    assert not r.of_kind("TriggerAuthentication")
    assert {t["metadata"]["stream"] for t in so["spec"]["triggers"]} == {
        f"dyad:jobs:{p}" for p in QUEUE_PRIORITIES
    }
    assert all(t["metadata"]["address"] == "dyad-redis:6379" for t in so["spec"]["triggers"])


# ------------------------------------------------------------------------- Redis, S3


def test_external_redis_and_s3() -> None:
    r = rendered("prod")
    assert not r.of_kind("StatefulSet")
    env = env_of(r.one("Deployment", "dyad-worker")["spec"]["template"]["spec"]["containers"][0])
    assert (
        env["DYAD_REDIS_URL"]["value"]
        == "redis://:$(DYAD_REDIS_PASSWORD)@dyad-redis.prod.example.internal:6379/0"
    )
    assert env["DYAD_STORE_URI"]["value"] == "s3://dyad-prod-artefacts/dyad"
    assert env["DYAD_S3_SECURE"]["value"] == "true"
    gcs = r.one("RayService")["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]
    assert gcs["redisAddress"] == "redis://dyad-redis.prod.example.internal:6379"
    assert gcs["redisPassword"]["valueFrom"]["secretKeyRef"]["name"] == "dyad-redis"


def test_in_chart_redis_and_minio() -> None:
    r = rendered("dev")
    redis = r.one("StatefulSet", "dyad-redis")
    c = redis["spec"]["template"]["spec"]["containers"][0]
    assert re.fullmatch(r"redis:7\.\d+\.\d+(-\w+)?", c["image"]), c["image"]
    assert "--appendonly yes" in c["command"][-1]
    assert redis["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    minio = r.one("StatefulSet", "dyad-minio")
    assert re.search(
        r":RELEASE\.\d{4}-", minio["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    job = r.one("Job", "dyad-minio-bucket")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    assert re.search(
        r"minio/mc:RELEASE\.\d{4}-", job["spec"]["template"]["spec"]["containers"][0]["image"]
    )
