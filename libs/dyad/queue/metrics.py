"""Queue depth as Prometheus gauges, read from Redis at scrape time (DESIGN.md §6).

Register once per process that exposes ``/metrics`` (gateway, workers), with the queue of each
job kind it should show (the callers name the kinds: ``dyad.queue`` knows none)::

    REGISTRY.register(QueueCollector({"generate": queue, "fit_avatar": fit_queue}))

Every gauge has a ``kind`` label: each job kind has its own queue, and a backed-up queue of one
kind must be seen apart from the others (its workers are a separate group). Lag (entries not
yet delivered) is what KEDA scales batch workers on; pending (delivered, not acked) is work in
flight; delayed are retries waiting out their backoff. Every exporter reads the same Redis, so
dashboards and alerts aggregate these with ``max`` by ``kind`` (and ``priority``), never
``sum``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dyad.queue.records import PRIORITY_ORDER
from dyad.queue.redis_queue import JobQueue


def queue_metric_families(
    stats: Mapping[str, dict[str, Any]] | None = None,
) -> list[GaugeMetricFamily]:
    """The queue gauges with ``JobQueue.stats()``'s values per job kind (``stats``: kind →
    stats; no samples without it)."""
    lag = GaugeMetricFamily(
        "dyad_queue_lag_jobs", "jobs enqueued and not yet delivered", labels=["kind", "priority"]
    )
    pending = GaugeMetricFamily(
        "dyad_queue_pending_jobs", "jobs delivered and not yet acked", labels=["kind", "priority"]
    )
    delayed = GaugeMetricFamily(
        "dyad_queue_delayed_jobs", "retries waiting out their backoff", labels=["kind"]
    )
    dead = GaugeMetricFamily(
        "dyad_queue_dead_letter_jobs", "entries in the dead-letter stream", labels=["kind"]
    )
    for kind, s in (stats or {}).items():
        for prio in PRIORITY_ORDER:
            lag.add_metric([kind, prio.value], s[prio.value]["lag"])
            pending.add_metric([kind, prio.value], s[prio.value]["pending"])
        delayed.add_metric([kind], s["delayed"])
        dead.add_metric([kind], s["dead"])
    return [lag, pending, delayed, dead]


class QueueCollector(Collector):
    """The gauges of ``queues`` (job kind → its queue), read at each scrape."""

    def __init__(self, queues: Mapping[str, JobQueue]) -> None:
        if isinstance(queues, JobQueue) or not queues:
            raise TypeError("QueueCollector takes a non-empty mapping: job kind -> JobQueue")
        self.queues = dict(queues)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The names, without asking Redis (registering needs no server)."""
        yield from queue_metric_families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from queue_metric_families({k: q.stats() for k, q in self.queues.items()})
