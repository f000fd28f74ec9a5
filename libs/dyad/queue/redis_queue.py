"""Job queue on Redis Streams: priorities, consumer groups, visibility timeout, retries, DLQ.

Layout (``P`` is the key prefix, ``DYAD_QUEUE_PREFIX``):

- ``P:jobs:{high,normal,low}`` — one stream per priority; entries carry only ``job_id``;
  consumer group ``workers``;
- ``P:job:<id>`` — the job record (hash; ``stage:<name>`` fields hold stage progress);
- ``P:events:<id>`` — the job's event stream (what Watch reads);
- ``P:index`` — zset of job ids by creation time (List); ``P:idem:<team>:<key>`` — idempotency
  keys (the job id and a digest of the request: a key reused for another request is refused);
- ``P:delayed`` — zset of jobs waiting out a retry backoff; ``P:dead`` — the dead-letter stream.

Delivery is at-least-once. A worker ``claim``s a job (XREADGROUP, or XAUTOCLAIM of an entry
idle longer than the visibility timeout — its worker died), reports progress (which also
extends its lease), and ``complete``s (XACK) or ``fail``s it. A failure is retried after
``base · 2^(attempt-1)`` seconds (capped); after ``max_deliveries`` deliveries — crashes count
too — the job goes to the dead-letter stream as FAILED. Work must therefore be idempotent:
Dyad's stages write content-addressed artefacts, so a redelivered job skips finished stages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from dyad.config import PlatformSettings
from dyad.errors import AlreadyExists, InvalidInput, NotFound
from dyad.queue import scripts
from dyad.queue.delivery import GROUP, Delivery
from dyad.queue.records import PRIORITY_ORDER, JobEvent, JobRecord, JobStatus, Priority
from dyad.storage.base import manifest_key

log = logging.getLogger("dyad.queue")

EVENTS_MAXLEN = 1000


@dataclass(frozen=True)
class QueueConfig:
    prefix: str = "dyad"
    visibility_timeout_s: float = 600.0
    max_deliveries: int = 5
    backoff_base_s: float = 2.0
    backoff_max_s: float = 300.0

    @classmethod
    def from_settings(cls, s: PlatformSettings) -> QueueConfig:
        return cls(
            s.queue_prefix,
            s.queue_visibility_timeout_s,
            s.queue_max_deliveries,
            s.queue_backoff_base_s,
            s.queue_backoff_max_s,
        )

    def backoff_s(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): base · 2^(attempt-1), capped."""
        return float(min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, attempt - 1)))


def request_digest(payload: dict[str, Any], priority: Priority, stages: list[str]) -> str:
    """SHA-256 of a submit request in canonical JSON (sorted keys, no spaces): what an
    idempotency key is bound to."""
    canonical = json.dumps(
        {"payload": payload, "priority": priority.value, "stages": stages},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobQueue:
    """Producer and consumer side of the queue; safe to share across threads."""

    def __init__(self, client: redis.Redis, config: QueueConfig | None = None) -> None:
        # redis-py's return types are unions over RESP versions; we run decode_responses=True.
        self.r: Any = client
        self.cfg = config or QueueConfig()
        p = self.cfg.prefix
        self._streams = {prio: f"{p}:jobs:{prio.value}" for prio in PRIORITY_ORDER}
        self._index, self._delayed, self._dead = f"{p}:index", f"{p}:delayed", f"{p}:dead"
        self._submit = self.r.register_script(scripts.SUBMIT)
        self._promote = self.r.register_script(scripts.PROMOTE)
        self._heartbeat = self.r.register_script(scripts.HEARTBEAT)
        self._cancel = self.r.register_script(scripts.CANCEL)
        self._groups_ready = False

    @classmethod
    def from_url(cls, url: str, config: QueueConfig | None = None) -> JobQueue:
        return cls(redis.Redis.from_url(url, decode_responses=True), config)

    # --- keys -------------------------------------------------------------------------
    def _job(self, job_id: str) -> str:
        return f"{self.cfg.prefix}:job:{job_id}"

    def _events(self, job_id: str) -> str:
        return f"{self.cfg.prefix}:events:{job_id}"

    def ensure_groups(self) -> None:
        """Create the consumer group on every priority stream (idempotent)."""
        if self._groups_ready:
            return
        for stream in self._streams.values():
            try:
                self.r.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as e:
                if "BUSYGROUP" not in str(e):
                    raise
        self._groups_ready = True

    # --- producer side ----------------------------------------------------------------
    def submit(
        self,
        payload: dict[str, Any],
        *,
        priority: Priority | str = Priority.NORMAL,
        idempotency_key: str = "",
        team: str = "",
        stages: list[str] | None = None,
        job_id: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """Enqueue a job; returns (record, created). An idempotency key seen before with the
        same request (payload, priority and stages) returns the existing job and
        ``created=False``; with a different request it is ``AlreadyExists`` naming the key."""
        self.ensure_groups()
        prio = Priority.parse(priority)
        job_id = job_id or uuid.uuid4().hex
        manifest_key(job_id)  # validates the id's characters; jobs/<id>/ is its store prefix
        if len(idempotency_key) > 256:
            raise InvalidInput("idempotency_key", "at most 256 characters")
        now = time.time()
        rec = JobRecord(
            job_id=job_id,
            status=JobStatus.QUEUED,
            priority=prio,
            payload=payload,
            stage_plan=list(stages or []),
            team=team,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        idem = f"{self.cfg.prefix}:idem:{team}:{idempotency_key}" if idempotency_key else "-"
        flat = [x for kv in rec.to_hash().items() for x in kv]
        digest = request_digest(payload, prio, rec.stage_plan)
        created, jid = self._submit(
            keys=[idem, self._job(job_id), self._index, self._streams[prio], self._events(job_id)],
            args=[
                job_id,
                repr(now),
                JobEvent.encode(job_id, JobStatus.QUEUED, message="queued"),
                EVENTS_MAXLEN,
                digest,
                *flat,
            ],
        )
        if int(created) < 0:
            raise AlreadyExists(
                f"idempotency_key {idempotency_key!r} was used for a different request "
                f"(job {jid}); use a new key for a new request"
            )
        return self.get(jid), int(created) == 1

    def get(self, job_id: str) -> JobRecord:
        h = self.r.hgetall(self._job(job_id))
        if not h:
            raise NotFound(f"no job {job_id!r}")
        return JobRecord.from_hash(h)

    def cancel(self, job_id: str) -> JobRecord:
        """Request cancellation: queued jobs end now, running ones at the next stage boundary."""
        ev = JobEvent.encode(job_id, JobStatus.CANCELLED, message="cancelled before start")
        res = self._cancel(
            keys=[self._job(job_id), self._delayed, self._events(job_id)],
            args=[job_id, repr(time.time()), ev, EVENTS_MAXLEN],
        )
        if res is None:
            raise NotFound(f"no job {job_id!r}")
        return self.get(job_id)

    def list_jobs(
        self,
        *,
        status: JobStatus | None = None,
        team: str | None = None,
        since: float = 0.0,
        until: float | None = None,
        limit: int = 100,
    ) -> list[JobRecord]:
        """Jobs newest first, filtered by status and team, created within [since, until]."""
        hi = "+inf" if until is None else repr(until)
        out: list[JobRecord] = []
        offset, page = 0, max(limit, 100)
        while len(out) < limit:
            ids = self.r.zrevrangebyscore(self._index, hi, repr(since), start=offset, num=page)
            if not ids:
                break
            offset += len(ids)
            pipe = self.r.pipeline(transaction=False)
            for jid in ids:
                pipe.hgetall(self._job(jid))
            for h in pipe.execute():
                if not h:
                    continue
                rec = JobRecord.from_hash(h)
                if (status is None or rec.status == status) and (team is None or rec.team == team):
                    out.append(rec)
        return out[:limit]

    def watch(
        self, job_id: str, *, after: str = "0", block_s: float = 1.0, timeout_s: float | None = None
    ) -> Iterator[JobEvent]:
        """Yield the job's events after ``after`` until one with a terminal status."""
        self.get(job_id)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = after
        while deadline is None or time.monotonic() < deadline:
            resp = self.r.xread({self._events(job_id): last}, count=100, block=int(block_s * 1000))
            for _stream, entries in resp or []:
                for eid, fields in entries:
                    last = eid
                    ev = JobEvent.decode(eid, fields["event"])
                    yield ev
                    if ev.status.terminal:
                        return

    # --- consumer side ----------------------------------------------------------------
    def promote_due(self, now: float | None = None) -> int:
        """Move retries whose backoff has elapsed back onto their streams."""
        now = time.time() if now is None else now
        return int(self._promote(keys=[self._delayed], args=[repr(now), self.cfg.prefix, 100]))

    def claim(self, consumer: str, *, block_s: float = 1.0) -> Delivery | None:
        """The next job for ``consumer``, highest priority first; None after ``block_s``.

        Looks, in order, for entries whose worker died (idle past the visibility timeout),
        then new entries without blocking, then blocks on all streams.
        """
        self.ensure_groups()
        self.promote_due()
        idle_ms = int(self.cfg.visibility_timeout_s * 1000)
        for prio, stream in self._streams.items():
            _next, claimed, _deleted = self.r.xautoclaim(
                stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=1
            )
            for eid, fields in claimed:
                d = self._start(consumer, prio, eid, fields, redelivered=True)
                if d is not None:
                    return d
        for prio, stream in self._streams.items():
            resp = self.r.xreadgroup(GROUP, consumer, {stream: ">"}, count=1)
            if resp:
                d = self._start_first(consumer, prio, resp)
                if d is not None:
                    return d
        resp = self.r.xreadgroup(
            GROUP,
            consumer,
            dict.fromkeys(self._streams.values(), ">"),
            count=1,
            block=max(1, int(block_s * 1000)),
        )
        if resp:
            prio = next(p for p, s in self._streams.items() if s == resp[0][0])
            return self._start_first(consumer, prio, resp)
        return None

    def _start_first(self, consumer: str, prio: Priority, resp: Any) -> Delivery | None:
        _stream, entries = resp[0]
        eid, fields = entries[0]
        return self._start(consumer, prio, eid, fields, redelivered=False)

    def _start(
        self,
        consumer: str,
        prio: Priority,
        eid: str,
        fields: dict[str, str] | None,
        *,
        redelivered: bool,
    ) -> Delivery | None:
        stream = self._streams[prio]
        job_id = (fields or {}).get("job_id")
        if not job_id or not self.r.exists(self._job(job_id)):
            self.r.xack(stream, GROUP, eid)  # entry trimmed or job record gone
            return None
        key = self._job(job_id)
        attempts = int(self.r.hincrby(key, "attempts", 1))
        rec = self.get(job_id)
        if rec.status.terminal:  # finished or cancelled while this entry waited
            self.r.xack(stream, GROUP, eid)
            return None
        delivery = Delivery(self, rec, consumer, stream, eid)
        if rec.cancel_requested:
            delivery.mark_cancelled()
            return None
        if attempts > self.cfg.max_deliveries:
            err = rec.error or {"code": "INTERNAL", "message": "worker lost the job repeatedly"}
            delivery.dead_letter(err, f"{attempts - 1} deliveries without completion")
            return None
        now = repr(time.time())
        self.r.hset(
            key,
            mapping={
                "status": JobStatus.RUNNING.value,
                "worker": consumer,
                "started_at": now,
                "updated_at": now,
            },
        )
        msg = f"attempt {attempts}" + (" (redelivered)" if redelivered else "")
        self._event(job_id, JobStatus.RUNNING, progress=rec.progress, message=msg)
        log.info("claimed job %s: %s", job_id, msg, extra={"job_id": job_id})
        delivery.record = self.get(job_id)
        return delivery

    def _event(self, job_id: str, status: JobStatus, pipe: Any = None, **kw: Any) -> None:
        (pipe or self.r).xadd(
            self._events(job_id),
            {"event": JobEvent.encode(job_id, status, **kw)},
            maxlen=EVENTS_MAXLEN,
            approximate=True,
        )

    # --- operations -------------------------------------------------------------------
    def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """Newest dead-letter entries: job_id, reason, error, attempts."""
        return [dict(f, entry_id=eid) for eid, f in self.r.xrevrange(self._dead, count=count)]

    def _dead_entries_of(self, job_id: str) -> list[str]:
        return [
            eid
            for eid, f in self.r.xrange(self._dead)
            if f.get("job_id") == job_id  # a job dead-lettered, requeued and failed again: 2
        ]

    def requeue_dead(self, job_id: str) -> JobRecord:
        """Give a failed job a fresh set of deliveries (after the cause was fixed); its
        dead-letter entries go, so the stream holds only what still needs a decision."""
        rec = self.get(job_id)
        if rec.status != JobStatus.FAILED:
            raise InvalidInput("job_id", f"job is {rec.status.value}, not failed")
        dead = self._dead_entries_of(job_id)
        pipe = self.r.pipeline(transaction=True)
        if dead:
            pipe.xdel(self._dead, *dead)
        pipe.hset(
            self._job(job_id),
            mapping={
                "status": JobStatus.QUEUED.value,
                "attempts": "0",
                "error": "",
                "updated_at": repr(time.time()),
            },
        )
        self._event(job_id, JobStatus.QUEUED, pipe, message="requeued from dead letters")
        pipe.xadd(self._streams[rec.priority], {"job_id": job_id})
        pipe.execute()
        return self.get(job_id)

    def discard_dead(self, job_id: str) -> int:
        """Drop a job's dead-letter entries without retrying it (it stays failed, its error
        and events kept); returns how many went. Unknown jobs are NotFound."""
        self.get(job_id)
        dead = self._dead_entries_of(job_id)
        return int(self.r.xdel(self._dead, *dead)) if dead else 0

    def stats(self) -> dict[str, Any]:
        """Depth per priority (lag: not yet delivered; pending: delivered, not acked)."""
        self.ensure_groups()
        out: dict[str, Any] = {}
        for prio, stream in self._streams.items():
            info = next(g for g in self.r.xinfo_groups(stream) if g["name"] == GROUP)
            out[prio.value] = {"lag": int(info.get("lag") or 0), "pending": int(info["pending"])}
        out["delayed"] = int(self.r.zcard(self._delayed))
        out["dead"] = int(self.r.xlen(self._dead))
        return out
