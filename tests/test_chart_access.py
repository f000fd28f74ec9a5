"""Who may reach and read what in the rendered chart (tests/chart_render.py): NetworkPolicies
leave only the gateway open beyond the namespace and admit to Ray, Redis and MinIO only the pods
that call them; Secrets are generated only when values name no existing one, every Secret a pod
refers to exists, and no values file holds a credential."""

from __future__ import annotations

import json
import re

import pytest

from tests.chart_render import CHART, VALUES_FILES, Rendered, pods, render_with, rendered, selects

# ------------------------------------------------------------------------- NetworkPolicies


def _policies(r: Rendered) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in r.of_kind("NetworkPolicy")}


def _peers(policy: dict) -> list[dict]:
    return [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]


DYAD_PODS = {"app.kubernetes.io/name": "dyad", "app.kubernetes.io/instance": "dyad"}


def test_network_policies() -> None:
    """Only the gateway is open beyond the namespace; Ray pods take traffic from the workers,
    each other, the KubeRay operator and Prometheus; nothing calls the workers; every other
    pod of the release is closed (tests/test_chart_network.py checks who reaches what)."""
    r = rendered("prod")
    pols = _policies(r)
    # prod: Redis, S3 managed
    assert set(pols) == {
        "dyad-default-deny",
        "dyad-gateway",
        "dyad-worker",
        "dyad-fit-worker",
        "dyad-ray",
    }
    assert pols["dyad-default-deny"]["spec"]["ingress"] == []
    open_rules = [
        (n, rule) for n, p in pols.items() for rule in p["spec"]["ingress"] if not rule.get("from")
    ]
    assert [n for n, _ in open_rules] == ["dyad-gateway"]
    assert open_rules[0][1]["ports"] == [{"port": 50051, "protocol": "TCP"}]
    ray_sources = {
        peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
        for peer in _peers(pols["dyad-ray"])
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert ray_sources == {"ray", "worker"}  # the gateway queues in Redis, never calls Serve
    ns_peers = [
        p["namespaceSelector"]["matchLabels"]
        for p in _peers(pols["dyad-ray"])
        if "namespaceSelector" in p
    ]
    assert {"kubernetes.io/metadata.name": "kuberay-system"} in ns_peers
    assert {"kubernetes.io/metadata.name": "monitoring"} in ns_peers
    for workers in ("dyad-worker", "dyad-fit-worker"):
        worker_peers = _peers(pols[workers])
        assert worker_peers and all("namespaceSelector" in p for p in worker_peers)  # Prometheus
    all_pods = list(pods(r))
    for name, p in pols.items():
        assert any(
            selects(p["spec"]["podSelector"]["matchLabels"], pod.labels) for pod in all_pods
        ), name


def test_network_policies_of_in_chart_redis_and_minio() -> None:
    """Redis and MinIO: only from Dyad pods (Redis also from KEDA when it scales the workers)."""
    r = render_with("dev", **{"networkPolicy.enabled": True, "workers.keda.enabled": True})
    pols = _policies(r)
    for name in ("dyad-redis", "dyad-minio"):
        peers = _peers(pols[name])
        assert {"podSelector": {"matchLabels": DYAD_PODS}} in peers, name
        others = [p for p in peers if p != {"podSelector": {"matchLabels": DYAD_PODS}}]
        if name == "dyad-redis":
            assert [p["namespaceSelector"]["matchLabels"] for p in others] == [
                {"kubernetes.io/metadata.name": "keda"}
            ]
        else:
            assert others == []
    # Every pod of the release carries the labels those rules admit.
    assert all(selects(DYAD_PODS, pod.labels) for pod in pods(r))


# ------------------------------------------------------------------------- Secrets


def test_secrets_generated_only_when_not_given() -> None:
    dev = rendered("dev")
    assert {s["metadata"]["name"] for s in dev.of_kind("Secret")} == {
        "dyad-tokens",
        "dyad-redis",
        "dyad-s3",
    }
    tokens = json.loads(
        __import__("base64").b64decode(dev.one("Secret", "dyad-tokens")["data"]["tokens"])
    )
    assert list(tokens) == ["default"] and len(tokens["default"][0]) >= 16
    prod = rendered("prod")
    assert prod.of_kind("Secret") == []
    # Every Secret a pod refers to is rendered here or named in values as an existing one.
    for r in (dev, prod):
        own = {s["metadata"]["name"] for s in r.of_kind("Secret")}
        given = {
            r.values["tokens"]["existingSecret"],
            r.values["redis"]["auth"]["existingSecret"],
            r.values["s3"]["existingSecret"],
        }
        for pod in pods(r):
            for c in pod.containers():
                for e in c.get("env", []):
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        assert ref["name"] in own | given, f"{r.name} {pod.where}: {ref['name']}"


def test_values_files_hold_no_credentials() -> None:
    for name, path in VALUES_FILES.items():
        text = (path or CHART / "values.yaml").read_text()
        for m in re.finditer(r"(?im)^\s*(password|secretKey|accessKey|token)\s*:\s*(\S+)", text):
            pytest.fail(f"{name}: {m.group(0).strip()}")
