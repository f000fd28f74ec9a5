"""The job queue on Redis Streams (DESIGN.md §6)."""

from dyad.queue.delivery import Delivery
from dyad.queue.metrics import QueueCollector
from dyad.queue.records import PRIORITY_ORDER, JobEvent, JobRecord, JobStatus, Priority
from dyad.queue.redis_queue import JobQueue, QueueConfig

__all__ = [
    "PRIORITY_ORDER",
    "Delivery",
    "JobEvent",
    "JobQueue",
    "JobRecord",
    "JobStatus",
    "Priority",
    "QueueCollector",
    "QueueConfig",
]
