"""Job records and events as stored in Redis (hash fields and event-stream entries)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dyad.errors import InvalidInput


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @classmethod
    def parse(cls, value: str | Priority) -> Priority:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput("priority", f"expected one of {[p.value for p in cls]}") from None


#: Highest first: the order in which workers look for work.
PRIORITY_ORDER = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


@dataclass
class JobRecord:
    """A job as the queue knows it. ``payload`` is the caller's spec, opaque to the queue."""

    job_id: str
    status: JobStatus
    priority: Priority
    payload: dict[str, Any]
    attempts: int = 0
    #: Stage name → progress 0–1.
    stages: dict[str, float] = field(default_factory=dict)
    #: Declared stage names; overall progress is their mean.
    stage_plan: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
    result_uri: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    team: str = ""
    idempotency_key: str = ""
    cancel_requested: bool = False
    worker: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0

    @property
    def progress(self) -> float:
        """Overall progress 0–1: the mean over declared stages (or over reported ones)."""
        if self.status == JobStatus.SUCCEEDED:
            return 1.0
        names = self.stage_plan or list(self.stages)
        if not names:
            return 0.0
        return sum(self.stages.get(n, 0.0) for n in names) / len(names)

    def to_hash(self) -> dict[str, str]:
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "priority": self.priority.value,
            "payload": json.dumps(self.payload, sort_keys=True),
            "attempts": str(self.attempts),
            "stage_plan": json.dumps(self.stage_plan),
            "error": json.dumps(self.error) if self.error else "",
            "result_uri": self.result_uri,
            "result": json.dumps(self.result, sort_keys=True),
            "team": self.team,
            "idempotency_key": self.idempotency_key,
            "cancel_requested": "1" if self.cancel_requested else "0",
            "worker": self.worker,
            "created_at": repr(self.created_at),
            "updated_at": repr(self.updated_at),
            "started_at": repr(self.started_at),
            "finished_at": repr(self.finished_at),
        }

    @classmethod
    def from_hash(cls, h: dict[str, str]) -> JobRecord:
        stages = {k[len("stage:") :]: float(v) for k, v in h.items() if k.startswith("stage:")}
        return cls(
            job_id=h["job_id"],
            status=JobStatus(h["status"]),
            priority=Priority(h["priority"]),
            payload=json.loads(h.get("payload") or "{}"),
            attempts=int(h.get("attempts") or 0),
            stages=stages,
            stage_plan=json.loads(h.get("stage_plan") or "[]"),
            error=json.loads(h["error"]) if h.get("error") else None,
            result_uri=h.get("result_uri", ""),
            result=json.loads(h.get("result") or "{}"),
            team=h.get("team", ""),
            idempotency_key=h.get("idempotency_key", ""),
            cancel_requested=h.get("cancel_requested") == "1",
            worker=h.get("worker", ""),
            created_at=float(h.get("created_at") or 0),
            updated_at=float(h.get("updated_at") or 0),
            started_at=float(h.get("started_at") or 0),
            finished_at=float(h.get("finished_at") or 0),
        )


@dataclass(frozen=True)
class JobEvent:
    """One entry of a job's event stream (what WatchJob streams)."""

    event_id: str
    job_id: str
    status: JobStatus
    stage: str = ""
    stage_progress: float = 0.0
    progress: float = 0.0
    message: str = ""
    time: float = 0.0

    @staticmethod
    def encode(
        job_id: str,
        status: JobStatus,
        *,
        stage: str = "",
        stage_progress: float = 0.0,
        progress: float = 0.0,
        message: str = "",
    ) -> str:
        return json.dumps(
            {
                "job_id": job_id,
                "status": status.value,
                "stage": stage,
                "stage_progress": stage_progress,
                "progress": progress,
                "message": message,
                "time": time.time(),
            }
        )

    @classmethod
    def decode(cls, event_id: str, raw: str) -> JobEvent:
        d = json.loads(raw)
        return cls(
            event_id=event_id,
            job_id=d["job_id"],
            status=JobStatus(d["status"]),
            stage=d.get("stage", ""),
            stage_progress=float(d.get("stage_progress", 0.0)),
            progress=float(d.get("progress", 0.0)),
            message=d.get("message", ""),
            time=float(d.get("time", 0.0)),
        )
