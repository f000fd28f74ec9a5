"""The chart's NetworkPolicies, checked on a render: who can reach each port of each pod
(the release's own components and outsiders), and that every selector matches pods."""

from __future__ import annotations

from typing import Any

import yaml

from tests.chart_render import RELEASE, SERVE_CONFIG, Rendered, pods, selects

# ------------------------------------------------------------------------- NetworkPolicies

#: Sources of traffic the NetworkPolicy check tries besides the release's own pods:
#: (name, namespace labels, pod labels).
OUTSIDERS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "outside": ({"kubernetes.io/metadata.name": "elsewhere"}, {"app": "anything"}),
    "stranger": ({"kubernetes.io/metadata.name": "dyad"}, {"app": "not-dyad"}),
    "monitoring": ({"kubernetes.io/metadata.name": "monitoring"}, {"app": "prometheus"}),
}


def _peer_admits(peer: dict[str, Any], ns_labels: dict[str, str], labels: dict[str, str]) -> bool:
    if "ipBlock" in peer:
        return True  # addresses: assume anyone
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None:
        ns_ok = ns_labels.get("kubernetes.io/metadata.name") == "dyad"  # the release's namespace
    else:
        ns_ok = selects(ns_sel.get("matchLabels") or {}, ns_labels)
    return ns_ok and (pod_sel is None or selects(pod_sel.get("matchLabels") or {}, labels))


def reachable(
    r: Rendered, ns_labels: dict[str, str], labels: dict[str, str], dst: dict[str, str], port: int
) -> bool:
    """Whether ingress policies let a pod (namespace labels, pod labels) reach ``port`` of pods
    labelled ``dst`` (Kubernetes' semantics: isolated when some policy selects it; then the
    union of the rules of every policy that does)."""
    chosen = [
        p
        for p in r.of_kind("NetworkPolicy")
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"].get("matchLabels") or {}, dst)
    ]
    if not chosen:
        return True
    for p in chosen:
        for rule in p["spec"].get("ingress") or []:
            ports = [int(x["port"]) for x in rule.get("ports") or []]
            if ports and port not in ports:
                continue
            peers = rule.get("from") or []
            if not peers or any(_peer_admits(peer, ns_labels, labels) for peer in peers):
                return True
    return False


#: The Ray pods' metrics ports (Ray's metrics export, the autoscaler's, the dashboard's).
RAY_METRICS = (8080, 44217, 44227)


def _component(labels: dict[str, str]) -> str:
    return labels.get("app.kubernetes.io/component", "")


def check_network_policies(r: Rendered) -> list[str]:
    """With ``networkPolicy.enabled``: every pod of the release is isolated; every selector of
    a policy (and every in-release peer) selects pods of the render; and who reaches which
    port is exactly: the gateway's gRPC port from anyone (or ``gatewayFrom``), the Serve
    proxies (the stage services, which take no tokens) from the workers and Ray pods only (not
    the fit workers, which call no stage), Redis and MinIO's API from Dyad pods only, metrics
    from the monitoring namespace, the workers and fit workers from nobody else."""
    problems: list[str] = []
    policies = r.of_kind("NetworkPolicy")
    np = r.values["networkPolicy"]
    if not np["enabled"]:
        return [f"NetworkPolicy {p['metadata']['name']}: rendered while disabled" for p in policies]
    all_pods = list(pods(r))
    for p in policies:
        name = p["metadata"]["name"]
        sel = p["spec"]["podSelector"].get("matchLabels") or {}
        if not sel or not any(selects(sel, pod.labels) for pod in all_pods):
            problems.append(f"NetworkPolicy {name}: podSelector {sel} selects no pod")
        for rule in p["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
                ours = labels.get("app.kubernetes.io/instance") == RELEASE
                if "namespaceSelector" in peer or not ours:
                    continue
                if not any(selects(labels, pod.labels) for pod in all_pods):
                    problems.append(f"NetworkPolicy {name}: peer {labels} selects no pod")
    serve = yaml.safe_load(SERVE_CONFIG.read_text())
    serve_ports = {
        int(serve.get("grpc_options", {}).get("port", 9000)),
        int(serve.get("http_options", {}).get("port", 8000)),
    }
    gw_port, metrics = int(r.values["gateway"]["grpcPort"]), int(r.values["gateway"]["metricsPort"])
    # Each component's metrics port, the one port Prometheus (and nobody else) reaches.
    metrics_of = {
        "gateway": metrics,
        "worker": metrics,
        "fit-worker": int(r.values["fitWorkers"]["metricsPort"]),
    }
    ns = {"kubernetes.io/metadata.name": "dyad"}
    sources = {f"pod {_component(pod.labels)}": (ns, pod.labels) for pod in all_pods}
    sources.update(OUTSIDERS)
    for dst_pod in all_pods:
        dst, comp = dst_pod.labels, _component(dst_pod.labels)
        open_ports = {
            int(pt["containerPort"])
            for c in dst_pod.containers()
            for pt in c.get("ports", [])
            if "containerPort" in pt
        }
        if not any(
            selects(p["spec"]["podSelector"].get("matchLabels") or {}, dst) for p in policies
        ):
            problems.append(f"{dst_pod.where}: no NetworkPolicy selects it (open to all)")
        for src, (ns_labels, labels) in sources.items():
            src_comp = src.removeprefix("pod ") if src.startswith("pod ") else ""
            for port in sorted(open_ports):
                want: bool | None
                if comp == "gateway" and port == gw_port:
                    want = not np["gatewayFrom"] or None  # None: up to gatewayFrom's peers
                elif port == metrics_of.get(comp):
                    want = src == "monitoring"
                elif comp in ("worker", "fit-worker"):
                    want = False
                elif comp == "ray" and port in serve_ports:
                    want = src_comp in ("worker", "ray") or (None if np.get("serveFrom") else False)
                elif comp == "redis":
                    want = bool(src_comp)  # Dyad pods (KEDA lives in its own namespace)
                elif comp == "minio" and port == 9000:
                    want = bool(src_comp) or (None if np.get("minioExtraFrom") else False)
                elif comp == "ray":  # GCS, dashboard, client, metrics: Ray pods and Prometheus
                    want = src_comp == "ray" or (src == "monitoring" and port in RAY_METRICS)
                else:
                    want = False
                if want is None:
                    continue
                got = reachable(r, ns_labels, labels, dst, port)
                if got != want:
                    verb = "reaches" if got else "cannot reach"
                    problems.append(f"{src} {verb} {dst_pod.where} port {port}")
    return problems
