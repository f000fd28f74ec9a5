"""``Delivery``: one delivery of a job to one worker, and how the worker reports back.

Every way a delivery ends (succeeded, cancelled, retrying, dead-lettered) is one Redis
transaction that updates the job record, appends the job event and acks the stream entry,
so no watcher ever sees a status that the queue does not also act on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from dyad.errors import Cancelled, DyadError, InvalidInput
from dyad.queue.records import JobRecord, JobStatus

if TYPE_CHECKING:
    from dyad.queue.redis_queue import JobQueue

log = logging.getLogger("dyad.queue")

#: The consumer group every worker joins.
GROUP = "workers"


class Delivery:
    """The handle a worker holds while it runs a job."""

    def __init__(self, q: JobQueue, record: JobRecord, consumer: str, stream: str, entry_id: str):
        self.q, self.record, self.consumer = q, record, consumer
        self.stream, self.entry_id = stream, entry_id

    @property
    def job_id(self) -> str:
        return self.record.job_id

    @property
    def payload(self) -> dict[str, Any]:
        return self.record.payload

    def _key(self) -> str:
        return self.q._job(self.job_id)

    def heartbeat(self) -> bool:
        """Extend the lease; False when another worker has taken the job over."""
        ok = self.q._heartbeat(keys=[self.stream], args=[GROUP, self.consumer, self.entry_id])
        return bool(ok)

    def progress(self, stage: str, fraction: float, message: str = "") -> None:
        """Report a stage's progress (0–1); also extends the lease."""
        if not 0.0 <= fraction <= 1.0:
            raise InvalidInput("fraction", "progress is between 0 and 1")
        self.heartbeat()
        now = repr(time.time())
        self.q.r.hset(self._key(), mapping={f"stage:{stage}": repr(fraction), "updated_at": now})
        self.record = self.q.get(self.job_id)
        self.q._event(
            self.job_id,
            JobStatus.RUNNING,
            stage=stage,
            stage_progress=fraction,
            progress=self.record.progress,
            message=message,
        )

    def plan_stages(self, stages: list[str]) -> None:
        """Declare the stage names in order, so overall progress is their mean (not the mean
        over the stages reported so far) and views list them in order."""
        if list(stages) != self.record.stage_plan:
            self.q.r.hset(self._key(), "stage_plan", json.dumps(list(stages)))
            self.record.stage_plan = list(stages)

    def release(self, message: str = "released by its worker") -> None:
        """Give the job back without counting this delivery (a worker shutting down).

        The same stream entry stays pending but is made idle past the visibility timeout, so
        the next ``claim`` of any worker takes it at once, ahead of newer entries.
        """
        idle_ms = int(self.q.cfg.visibility_timeout_s * 1000) + 1
        now = repr(time.time())
        pipe = self.q.r.pipeline(transaction=True)
        pipe.hincrby(self._key(), "attempts", -1)
        pipe.hset(
            self._key(),
            mapping={"status": JobStatus.QUEUED.value, "worker": "", "updated_at": now},
        )
        self.q._event(
            self.job_id, JobStatus.QUEUED, pipe, progress=self.record.progress, message=message
        )
        pipe.xclaim(
            self.stream, GROUP, self.consumer, 0, [self.entry_id], idle=idle_ms, justid=True
        )
        pipe.execute()

    @property
    def cancel_requested(self) -> bool:
        return self.q.r.hget(self._key(), "cancel_requested") == "1"

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` when the owner asked to cancel (call between stages)."""
        if self.cancel_requested:
            raise Cancelled(f"job {self.job_id} cancelled")

    def _end(
        self,
        status: JobStatus,
        fields: dict[str, str],
        message: str,
        *,
        before: Any = None,
        progress: float = 0.0,
    ) -> None:
        """Set ``status`` and ``fields``, append the event and ack — in one transaction.

        ``before(pipe)`` adds commands that must come first (the dead-letter copy: written
        before the ack, so a crash in between leaves a duplicate, never a loss).
        """
        now = repr(time.time())
        pipe = self.q.r.pipeline(transaction=True)
        if before is not None:
            before(pipe)
        if status.terminal:
            fields = {**fields, "finished_at": now}
        pipe.hset(self._key(), mapping={**fields, "status": status.value, "updated_at": now})
        self.q._event(self.job_id, status, pipe, progress=progress, message=message)
        pipe.xack(self.stream, GROUP, self.entry_id)
        pipe.execute()

    def complete(self, result_uri: str = "", result: dict[str, Any] | None = None) -> None:
        fields = {
            "result_uri": result_uri,
            "result": json.dumps(result or {}, sort_keys=True),
            "error": "",
        }
        self._end(JobStatus.SUCCEEDED, fields, "done", progress=1.0)

    def mark_cancelled(self) -> None:
        self._end(JobStatus.CANCELLED, {}, "cancelled")

    def fail(self, exc: BaseException, *, error_id: str = "") -> JobStatus:
        """Record a failure: retry after a backoff, or dead-letter when out of tries or when
        the error says retrying cannot help. Returns the job's new status."""
        if isinstance(exc, Cancelled):
            self.mark_cancelled()
            return JobStatus.CANCELLED
        code = exc.code if isinstance(exc, DyadError) else "INTERNAL"
        message = exc.message if isinstance(exc, DyadError) else f"{type(exc).__name__}: {exc}"
        err = {"code": code, "message": message, "error_id": error_id}
        attempts = int(self.q.r.hget(self._key(), "attempts") or 0)
        permanent = isinstance(exc, DyadError) and not exc.retryable and code != "INTERNAL"
        if permanent or attempts >= self.q.cfg.max_deliveries:
            self.dead_letter(err, "not retryable" if permanent else f"failed {attempts} times")
            return JobStatus.FAILED
        delay = self.q.cfg.backoff_s(attempts)
        retry_at = time.time() + delay
        self._end(
            JobStatus.RETRYING,
            {"error": json.dumps(err)},
            f"{message}; retry in {delay:g} s",
            before=lambda pipe: pipe.zadd(self.q._delayed, {self.job_id: retry_at}),
        )
        return JobStatus.RETRYING

    def dead_letter(self, err: dict[str, Any], reason: str) -> None:
        """Move the job to the dead-letter stream as FAILED."""
        entry = {
            "job_id": self.job_id,
            "reason": reason,
            "error": json.dumps(err),
            "attempts": str(self.q.r.hget(self._key(), "attempts") or 0),
            "time": repr(time.time()),
        }
        self._end(
            JobStatus.FAILED,
            {"error": json.dumps(err)},
            f"dead-lettered: {reason}",
            before=lambda pipe: pipe.xadd(self.q._dead, entry),
        )
        log.warning("job %s dead-lettered: %s", self.job_id, reason, extra={"job_id": self.job_id})
