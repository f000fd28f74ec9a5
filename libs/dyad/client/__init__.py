"""The Job API client for product teams (``dyad.client``).

::

    from dyad.client import DyadClient

    with DyadClient("gateway:50051", token) as client:     # or $DYAD_ENDPOINT, $DYAD_TOKEN
        job = client.submit(prompt="Two friends plan a trip", n=1, priority="high",
                            idempotency_key="trip-0001")
        job = client.watch(job.job_id, on_progress=lambda ev: print(ev.stage, ev.progress))
        files = client.download(job, "out/")               # {"video": Path("out/video.mp4"), …}

Plain blocking calls on a gRPC channel; errors are ``dyad.errors`` exceptions. The library
imports no service (DESIGN.md §3).
"""

from dyad.client.client import DyadClient, fetch
from dyad.client.models import (
    PRIORITIES,
    STATUSES,
    TERMINAL,
    Artifact,
    Avatar,
    Job,
    ProgressEvent,
    Stage,
)

__all__ = [
    "PRIORITIES",
    "STATUSES",
    "TERMINAL",
    "Artifact",
    "Avatar",
    "DyadClient",
    "Job",
    "ProgressEvent",
    "Stage",
    "fetch",
]
