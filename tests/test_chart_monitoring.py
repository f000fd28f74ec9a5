"""The chart's monitoring objects, rendered offline (tests/chart_render.py): the PodMonitors
select pods of the release on ports they have, the PrometheusRule wraps
deploy/prometheus/rules.yaml, one labelled ConfigMap carries each Grafana dashboard of
deploy/grafana, and with monitoring off none of these custom resources is rendered."""

from __future__ import annotations

import json

import yaml

from tests.chart_render import DASHBOARDS, REPO, RULES, rendered
from tests.chart_rules import check_monitors


def test_monitors_match_pods() -> None:
    r = rendered("prod")
    assert {m["metadata"]["name"] for m in r.of_kind("PodMonitor")} == {
        "dyad-ray",
        "dyad-gateway",
        "dyad-worker",
        "dyad-fit-worker",
    }
    assert check_monitors(r) == []
    for m in r.of_kind("PodMonitor"):
        assert m["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_prometheus_rule_wraps_the_rule_file() -> None:
    r = rendered("prod")
    rules = r.of_kind("PrometheusRule")
    if not RULES.is_file():
        assert rules == [], "no rule file: no PrometheusRule"
        return
    doc = yaml.safe_load(RULES.read_text())
    groups = doc.get("groups") or doc["spec"]["groups"]
    [rule] = rules
    assert rule["spec"]["groups"] == groups


def test_one_dashboard_configmap_per_json_file() -> None:
    r = rendered("prod")
    files = sorted(DASHBOARDS.rglob("*.json")) if DASHBOARDS.is_dir() else []
    maps = [
        o
        for o in r.of_kind("ConfigMap")
        if o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(maps) == len(files)
    by_source = {m["metadata"]["annotations"]["dyad.io/source"]: m for m in maps}
    for f in files:
        m = by_source[str(f.relative_to(REPO))]
        [(key, text)] = m["data"].items()
        assert key == f.name
        assert json.loads(text) == json.loads(f.read_text())
    assert len({m["metadata"]["name"] for m in maps}) == len(maps)


def test_monitoring_off_renders_no_crds_of_it() -> None:
    r = rendered("dev")
    for kind in ("PodMonitor", "ServiceMonitor", "PrometheusRule", "ScaledObject"):
        assert not r.of_kind(kind), kind
