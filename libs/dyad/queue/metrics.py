"""Queue depth as Prometheus gauges, read from Redis at scrape time (DESIGN.md §6).

Register once per process that exposes ``/metrics`` (gateway, workers)::

    REGISTRY.register(QueueCollector(queue))

Lag (entries not yet delivered) is what KEDA scales batch workers on; pending (delivered, not
acked) is work in flight; delayed are retries waiting out their backoff. Every exporter reads
the same Redis, so dashboards and alerts aggregate these with ``max``, never ``sum``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dyad.queue.records import PRIORITY_ORDER
from dyad.queue.redis_queue import JobQueue


def queue_metric_families(stats: dict[str, Any] | None = None) -> list[GaugeMetricFamily]:
    """The queue gauges with ``JobQueue.stats()``'s values (no samples without stats)."""
    lag = GaugeMetricFamily(
        "dyad_queue_lag_jobs", "jobs enqueued and not yet delivered", labels=["priority"]
    )
    pending = GaugeMetricFamily(
        "dyad_queue_pending_jobs", "jobs delivered and not yet acked", labels=["priority"]
    )
    delayed = GaugeMetricFamily("dyad_queue_delayed_jobs", "retries waiting out their backoff")
    dead = GaugeMetricFamily("dyad_queue_dead_letter_jobs", "entries in the dead-letter stream")
    if stats is not None:
        for prio in PRIORITY_ORDER:
            lag.add_metric([prio.value], stats[prio.value]["lag"])
            pending.add_metric([prio.value], stats[prio.value]["pending"])
        delayed.add_metric([], stats["delayed"])
        dead.add_metric([], stats["dead"])
    return [lag, pending, delayed, dead]


class QueueCollector(Collector):
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The names, without asking Redis (registering needs no server)."""
        yield from queue_metric_families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from queue_metric_families(self.queue.stats())
