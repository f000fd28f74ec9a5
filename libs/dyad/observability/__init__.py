"""Observability as code: the metric catalogue, the Grafana dashboards, PromQL helpers.

``catalogue`` defines the metrics (and lists where each is exported); ``dashboards``
generates ``deploy/grafana/*.json`` (``python -m dyad.observability.dashboards``); the alert
rules are ``deploy/prometheus/rules.yaml``. Tests check that every name a dashboard panel or
an alert uses is one the code exports (``promql.metric_names``).
"""

from dyad.observability.catalogue import (
    MetricInfo,
    catalogue,
    exported_names,
    observe_stage,
    prepare_stages,
    render_metrics,
    stage_metrics,
    worker_metrics,
)

__all__ = [
    "MetricInfo",
    "catalogue",
    "exported_names",
    "observe_stage",
    "prepare_stages",
    "render_metrics",
    "stage_metrics",
    "worker_metrics",
]
