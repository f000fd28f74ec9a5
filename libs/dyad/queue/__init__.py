"""The job queue on Redis Streams (DESIGN.md §6)."""

from dyad.queue.records import PRIORITY_ORDER, JobEvent, JobRecord, JobStatus, Priority
from dyad.queue.redis_queue import Delivery, JobQueue, QueueConfig

__all__ = [
    "PRIORITY_ORDER",
    "Delivery",
    "JobEvent",
    "JobQueue",
    "JobRecord",
    "JobStatus",
    "Priority",
    "QueueConfig",
]
