"""Queue depth as Prometheus gauges, read from Redis at scrape time (DESIGN.md §6).

Register once per process that exposes ``/metrics`` (gateway, workers)::

    REGISTRY.register(QueueCollector(queue))

Lag (entries not yet delivered) is what KEDA scales batch workers on; pending (delivered, not
acked) is work in flight; delayed are retries waiting out their backoff.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dyad.queue.records import PRIORITY_ORDER
from dyad.queue.redis_queue import JobQueue


class QueueCollector(Collector):
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.queue.stats()
        lag = GaugeMetricFamily(
            "dyad_queue_lag_jobs", "jobs enqueued and not yet delivered", labels=["priority"]
        )
        pending = GaugeMetricFamily(
            "dyad_queue_pending_jobs", "jobs delivered and not yet acked", labels=["priority"]
        )
        for prio in PRIORITY_ORDER:
            lag.add_metric([prio.value], stats[prio.value]["lag"])
            pending.add_metric([prio.value], stats[prio.value]["pending"])
        yield lag
        yield pending
        yield GaugeMetricFamily(
            "dyad_queue_delayed_jobs", "retries waiting out their backoff", value=stats["delayed"]
        )
        yield GaugeMetricFamily(
            "dyad_queue_dead_letter_jobs", "entries in the dead-letter stream", value=stats["dead"]
        )
