"""The batch worker: claim a job, run it with a lease held, report how it ended.

One ``Worker`` runs ``concurrency`` slots (threads); each slot loops: claim (highest priority
first; jobs whose worker died come back after the visibility timeout) → run the runner while a
background thread renews the lease → complete, retry, dead-letter, cancel or release.

Exactly-once as far as results go, on an at-least-once queue:

- a job that finished is never delivered again (the queue acks terminal jobs it meets);
- a worker that stalled past the visibility timeout loses its lease to another worker; its
  heartbeat says so, and it then writes nothing more — no progress, no completion, no failure.
  Before every final write the worker renews the lease once more: a renewal resets the idle
  time, so no other worker can claim the job in the moment between that check and the write;
- the runner's outputs are content-addressed, and its manifest is written last, so a rerun
  after a crash skips finished stages and the manifest is written by the run that completes.

Cancellation, a lost lease and shutdown take effect between stages, where the runner calls
``check_cancelled``. SIGTERM (``stop``): claim nothing more, let running jobs finish for
``shutdown_grace_s``, then release them at their next stage boundary (not counted as a
delivery; the next worker takes them at once).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import deque
from enum import StrEnum
from typing import Any

from dyad.errors import Cancelled, Internal
from dyad.logs import log_context
from dyad.observability import worker_metrics
from dyad.queue import PRIORITY_ORDER, Delivery, JobQueue
from dyad.services.gateway.fitjobs import kind_queue
from dyad.services.worker.runner import JobRunner, stage_plan
from dyad.services.worker.settings import WorkerSettings
from dyad.storage import ArtifactStore, manifest_key

log = logging.getLogger("dyad.worker")


class LeaseLost(Cancelled):
    """Another worker took the job over: this one stalled past the visibility timeout."""


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    CANCELLED = "cancelled"
    #: Given back on shutdown; another worker continues it.
    RELEASED = "released"
    #: Taken over by another worker; this one wrote nothing.
    LOST = "lost"


#: Outcomes that end a job (not only this delivery): they observe its end-to-end time.
FINAL = (Outcome.SUCCEEDED, Outcome.FAILED, Outcome.CANCELLED)


class _Lease(threading.Thread):
    """Renews a delivery's lease every ``interval_s`` until stopped or lost."""

    def __init__(self, delivery: Delivery, interval_s: float) -> None:
        super().__init__(name=f"lease-{delivery.job_id}", daemon=True)
        self.delivery, self.interval_s = delivery, interval_s
        self.lost = threading.Event()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                if not self.delivery.heartbeat():
                    log.warning("lease on job %s lost to another worker", self.delivery.job_id)
                    self.lost.set()
                    return
            except Exception as e:  # Redis away for a moment: keep trying
                log.warning("heartbeat of job %s failed: %s", self.delivery.job_id, e)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class _Reporter:
    """The runner's ``StageReporter`` for one delivery."""

    def __init__(self, delivery: Delivery, lease: _Lease, release: threading.Event) -> None:
        self.delivery, self.lease, self.release = delivery, lease, release

    def _check_lease(self) -> None:
        # Renewed here too, not only by the lease thread: a worker that stalled must learn it
        # lost the job before it writes progress into another worker's run.
        if self.lease.lost.is_set() or not self.delivery.heartbeat():
            self.lease.lost.set()
            raise LeaseLost(f"job {self.delivery.job_id} was taken over by another worker")

    def stage(self, name: str, fraction: float, message: str = "") -> None:
        self._check_lease()
        self.delivery.progress(name, fraction, message)

    def check_cancelled(self) -> None:
        self._check_lease()
        self.delivery.check_cancelled()
        if self.release.is_set():
            raise Cancelled("the worker is shutting down")


def _uri(value: Any) -> str:
    return str(value.get("uri", "")) if isinstance(value, dict) else str(value or "")


def arm_fault(store: ArtifactStore, stage: str) -> None:
    """Fault injection, for the fault tests only (``DYAD_WORKER_FAULT_KILL_AT``): SIGKILL this
    process when the runner records ``stage`` as done — its outputs are in the store, the
    stage-cache entry (the pipeline: ``cache/stages/<stage>/…``; the toy runner:
    ``jobs/<id>/stages/<stage>.json``) is not — or, for ``manifest``, just before the job
    manifest is written. Nothing runs after the signal: what a crashed pod leaves behind."""
    put_named = store.put_named

    def put_named_or_die(
        key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> Any:
        parts = key.split("/")
        hit = (
            key.startswith(f"cache/stages/{stage}/")
            or (parts[0] == "jobs" and parts[-2:] == ["stages", f"{stage}.json"])
            or (
                stage == "manifest"
                and len(parts) == 3
                and parts[0] == "jobs"
                and key == manifest_key(parts[1])
            )
        )
        if hit:
            log.warning("fault injection: SIGKILL at stage %s (before writing %s)", stage, key)
            for h in logging.getLogger().handlers:
                h.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return put_named(key, data, content_type)

    setattr(store, "put_named", put_named_or_die)  # noqa: B010 — an instance override


def default_consumer() -> str:
    """Host and pid, plus a random tail: a restarted container keeps its hostname and pid."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        store: ArtifactStore,
        runner: JobRunner,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.queue, self.store, self.runner = queue, store, runner
        self.settings = settings or WorkerSettings()
        self.consumer = self.settings.consumer or default_consumer()
        #: The queues of the job kinds this worker takes (``DYAD_WORKER_JOB_KINDS``), claimed
        #: in that order.
        self.queues = [kind_queue(queue, kind) for kind in self.settings.kinds]
        if self.settings.fault_kill_at:
            log.warning("fault injection armed: %s", self.settings.fault_kill_at)
            arm_fault(store, self.settings.fault_kill_at)
        #: Set: claim nothing more. ``release``: running jobs give up at their next boundary.
        self.stopping = threading.Event()
        self.releasing = threading.Event()
        self._count_lock = threading.Lock()
        self.jobs_started = 0
        #: The latest deliveries' outcomes, for tests and logs.
        self.outcomes: deque[tuple[str, Outcome]] = deque(maxlen=1000)
        self.metrics = worker_metrics()
        for o in Outcome:  # every series exported from the start, at 0
            self.metrics.jobs.labels(o.value)
            if o in FINAL:
                self.metrics.end_to_end.labels(o.value)
        for p in PRIORITY_ORDER:
            self.metrics.age_at_claim.labels(p.value)
        #: The slot gauges this worker moves: one series per kind it takes (its slots are the
        #: capacity of each of those queues; a busy slot takes no job of any of them).
        self._slots = [self.metrics.slots.labels(k) for k in self.settings.kinds]
        self._busy_slots = [self.metrics.busy_slots.labels(k) for k in self.settings.kinds]
        vt = queue.cfg.visibility_timeout_s
        if self.settings.heartbeat_interval_s >= vt / 2:
            log.warning(
                "DYAD_WORKER_HEARTBEAT_INTERVAL_S=%g is not well under the %g s visibility "
                "timeout: a busy worker may lose its jobs",
                self.settings.heartbeat_interval_s,
                vt,
            )

    # --- lifecycle --------------------------------------------------------------------
    def run(self) -> int:
        """Work until ``stop`` (or ``max_jobs``); returns the number of jobs started."""
        n = self.settings.concurrency
        names = [self.consumer] if n == 1 else [f"{self.consumer}-{i}" for i in range(n)]
        slots = [
            threading.Thread(target=self._slot, args=(name,), name=f"slot-{name}", daemon=True)
            for name in names
        ]
        log.info("worker %s started: %d slot(s)", self.consumer, n)
        for g in self._slots:
            g.inc(n)
        try:
            for t in slots:
                t.start()
            for t in slots:
                while t.is_alive():  # short joins keep the main thread responsive to signals
                    t.join(0.2)
        finally:
            for g in self._slots:
                g.dec(n)
        log.info("worker %s stopped after %d job(s)", self.consumer, self.jobs_started)
        return self.jobs_started

    def stop(self, grace_s: float | None = None) -> None:
        """Claim nothing more; running jobs are released after ``grace_s`` (default setting)."""
        if self.stopping.is_set():
            self.releasing.set()  # asked twice: do not wait
            return
        self.stopping.set()
        grace = self.settings.shutdown_grace_s if grace_s is None else grace_s
        timer = threading.Timer(grace, self.releasing.set)
        timer.daemon = True
        timer.start()

    def _reserve(self) -> bool:
        """Count a job before claiming it, so ``max_jobs`` never claims one too many."""
        with self._count_lock:
            limit = self.settings.max_jobs
            if limit and self.jobs_started >= limit:
                self.stopping.set()
                return False
            self.jobs_started += 1
            return True

    def _unreserve(self) -> None:
        with self._count_lock:
            self.jobs_started -= 1

    def _slot(self, consumer: str) -> None:
        while not self.stopping.is_set() and self._reserve():
            try:
                delivery = self._claim(consumer)
            except Exception as e:  # Redis restarting: wait and retry
                self._unreserve()
                log.warning("claim failed: %s", e)
                time.sleep(1.0)
                continue
            if delivery is None:
                self._unreserve()
                continue
            self._observe_claim(delivery)
            if self.stopping.is_set():  # SIGTERM arrived while the claim was in flight
                self._unreserve()
                delivery.release("released unstarted: the worker is shutting down")
                break
            try:
                self.process(delivery)
            except Exception:  # Redis gone mid-report: the job comes back after the timeout
                log.exception("job %s abandoned", delivery.job_id)
                time.sleep(1.0)

    def _claim(self, consumer: str) -> Delivery | None:
        """The next job of a kind this worker takes; the claim wait is shared among them."""
        block_s = self.settings.claim_block_s / len(self.queues)
        for queue in self.queues:
            delivery = queue.claim(consumer, block_s=block_s)
            if delivery is not None:
                return delivery
        return None

    # --- one job ----------------------------------------------------------------------
    def _observe_claim(self, delivery: Delivery) -> None:
        """The job's age when claimed: how long it waited (retries: since it was created)."""
        rec = delivery.record
        if rec.created_at > 0:
            age = max(0.0, time.time() - rec.created_at)
            self.metrics.age_at_claim.labels(rec.priority.value).observe(age)

    def process(self, delivery: Delivery) -> Outcome:
        """Run one delivery to its end and record how it ended."""
        t0 = time.perf_counter()
        for g in self._busy_slots:
            g.inc()
        try:
            with log_context(job_id=delivery.job_id):
                lease = _Lease(delivery, self.settings.heartbeat_interval_s)
                lease.start()
                try:
                    outcome = self._run(delivery, lease)
                finally:
                    lease.stop()
                log.info("job %s: %s", delivery.job_id, outcome.value)
        finally:
            for g in self._busy_slots:
                g.dec()
        self.metrics.jobs.labels(outcome.value).inc()
        self.metrics.duration.observe(time.perf_counter() - t0)
        created = delivery.record.created_at
        if outcome in FINAL and created > 0:
            age = max(0.0, time.time() - created)
            self.metrics.end_to_end.labels(outcome.value).observe(age)
        self.outcomes.append((delivery.job_id, outcome))
        return outcome

    def _still_mine(self, delivery: Delivery, lease: _Lease) -> bool:
        """Renew once more before a final write (see the module docstring)."""
        return not lease.lost.is_set() and delivery.heartbeat()

    def _run(self, delivery: Delivery, lease: _Lease) -> Outcome:
        try:
            delivery.plan_stages(stage_plan(self.runner, delivery.payload))
            reporter = _Reporter(delivery, lease, self.releasing)
            reporter.check_cancelled()
            result = self.runner.run(delivery.job_id, dict(delivery.payload), self.store, reporter)
            manifest = _uri(result.get("manifest")) if isinstance(result, dict) else ""
            if not manifest:
                raise Internal("the runner returned no manifest")
            json.dumps(result)  # must be storable as the job's result
        except Exception as exc:
            return self._after_failure(delivery, lease, exc)
        if not self._still_mine(delivery, lease):
            return Outcome.LOST
        delivery.complete(manifest, result)
        return Outcome.SUCCEEDED

    def _after_failure(self, delivery: Delivery, lease: _Lease, exc: Exception) -> Outcome:
        if isinstance(exc, LeaseLost) or not self._still_mine(delivery, lease):
            return Outcome.LOST
        if isinstance(exc, Cancelled):
            if self.releasing.is_set() and not delivery.cancel_requested:
                delivery.release("released: the worker is shutting down")
                return Outcome.RELEASED
            delivery.mark_cancelled()
            return Outcome.CANCELLED
        error_id = uuid.uuid4().hex[:16]
        log.error(
            "job %s failed: %s", delivery.job_id, exc, exc_info=exc, extra={"error_id": error_id}
        )
        status = delivery.fail(exc, error_id=error_id)
        return Outcome.RETRYING if status.value == "retrying" else Outcome.FAILED
