"""``JobGateway``: the Job API's behaviour on the queue and the store — no grpc, no ray.

Every call names the calling ``team`` (from its bearer token, see ``auth``): a team sees,
cancels and lists only its own jobs (``PermissionDenied`` otherwise), reuses idempotency keys
only within itself, and may reference as input audio only content-addressed blobs
(``cas/…``; knowing a blob's hash is the capability to read it) or its own uploads
(``uploads/<team>/…``).

Results are what the worker's runner returned (see ``dyad.services.worker.runner``): a dict
whose ``manifest``, ``video`` and ``artifacts[name]`` values are ArtifactRef dicts or URIs.
Single-job views carry presigned HTTP GET URLs for them; list views do not (a presign costs a
HEAD request on S3).
"""

from __future__ import annotations

import base64
import io
import logging
import mimetypes
import re
import struct
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis

from dyad.errors import DyadError, InvalidInput, PermissionDenied
from dyad.queue import JobEvent, JobQueue, JobRecord, JobStatus, Priority
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import ArtifactRef, ArtifactStore, manifest_key
from dyad.storage.base import CAS_PREFIX, validate_key

log = logging.getLogger("dyad.gateway")

AUDIO_SLOTS = ("track_a", "track_b", "stereo")
_CAS_URI = re.compile(r"/cas/sha256/[0-9a-f]{2}/([0-9a-f]{64})$")
_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class JobInput:
    """What a team asks for: a prompt or audio, ``n`` conversations, and options.

    ``options`` holds plain values (the proto's ``JobOptions`` as a dict). ``spec()`` is the
    JSON the worker's runner receives.
    """

    prompt: str = ""
    audio: dict[str, ArtifactRef] = field(default_factory=dict)
    n: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "options": dict(self.options)}
        if self.audio:
            out["input"] = "audio"
            out["audio"] = {k: ref.to_dict() for k, ref in self.audio.items()}
        else:
            out["input"] = "prompt"
            out["prompt"] = self.prompt
        return out


@dataclass(frozen=True)
class JobView:
    """A job as its team may see it: the record plus resolved result artefacts."""

    record: JobRecord
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    download_urls: dict[str, str] = field(default_factory=dict)


def wav_duration_s(head: bytes, total_size: int) -> float | None:
    """Duration of a RIFF/WAVE file from its first bytes; None when ``head`` is not WAV.

    Walks the chunks to ``fmt `` (rate, block size) and ``data`` (its size; a streaming
    writer's placeholder size is replaced by what the file really holds).
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, rate, block = 12, 0, 0
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt " and body + 16 <= len(head):
            _fmt, _channels, rate, _bps, block = struct.unpack("<HHIIH", head[body : body + 14])
        elif cid == b"data":
            if rate <= 0 or block <= 0:
                return None
            size = min(size, max(0, total_size - body))
            return size / (rate * block)
        pos = body + size + (size & 1)
    return None


def _token(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{job_id}".encode()).decode()


def _untoken(token: str) -> tuple[float, str]:
    try:
        ts, _, jid = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return float(ts), jid
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("page_token", "not a token from a previous ListJobs") from None


class JobGateway:
    def __init__(self, queue: JobQueue, store: ArtifactStore, settings: GatewaySettings) -> None:
        self.queue, self.store, self.settings = queue, store, settings

    # --- submit -----------------------------------------------------------------------
    def submit(
        self,
        team: str,
        job: JobInput,
        *,
        priority: Priority | str = Priority.NORMAL,
        idempotency_key: str = "",
    ) -> tuple[JobView, bool]:
        """Validate the limits and enqueue; ``created`` is False for a known idempotency key."""
        self.check_input(team, job)
        rec, created = self.queue.submit(
            job.spec(), priority=priority, idempotency_key=idempotency_key, team=team
        )
        log.info(
            "job %s %s for team %s",
            rec.job_id,
            "submitted" if created else "matched idempotency key",
            team,
            extra={"job_id": rec.job_id},
        )
        return self.view(rec), created

    def check_input(self, team: str, job: JobInput) -> None:
        s = self.settings
        prefix = job.options.get("dataset_prefix")
        if prefix:
            validate_key(prefix, field="options.dataset_prefix")
            if not prefix.startswith(f"datasets/{team}/"):
                raise PermissionDenied(f"options.dataset_prefix: must be under datasets/{team}/")
        if bool(job.prompt) == bool(job.audio):
            raise InvalidInput("input", "give either a prompt or audio")
        if not 1 <= job.n <= s.max_n:
            raise InvalidInput("n", f"between 1 and {s.max_n}, got {job.n}")
        if job.prompt:
            if len(job.prompt) > s.max_prompt_chars:
                raise InvalidInput(
                    "prompt", f"{len(job.prompt)} characters; the limit is {s.max_prompt_chars}"
                )
            if not job.prompt.strip():
                raise InvalidInput("prompt", "blank")
            return
        if job.n != 1:
            raise InvalidInput("n", "audio input makes exactly one conversation")
        slots = set(job.audio)
        if not (slots == {"track_a", "track_b"} or slots == {"stereo"}):
            raise InvalidInput("audio", "give track_a and track_b, or stereo")
        for slot, ref in job.audio.items():
            self._check_audio(team, f"audio.{slot}", ref)

    def _check_audio(self, team: str, fld: str, ref: ArtifactRef) -> None:
        key = self.store.key_of(ref.uri, field=f"{fld}.uri")
        if not (key.startswith(CAS_PREFIX + "/") or key.startswith(f"uploads/{team}/")):
            raise PermissionDenied(
                f"{fld}.uri: teams may reference {CAS_PREFIX}/… or uploads/{team}/… only"
            )
        size = self.store._size(key)
        if size is None:
            raise InvalidInput(f"{fld}.uri", f"no artefact at {ref.uri}")
        if size > self.settings.max_audio_bytes:
            raise InvalidInput(fld, f"{size} bytes; the limit is {self.settings.max_audio_bytes}")
        with self.store._open(key) as f:
            head = f.read(_HEAD_BYTES)
            duration = wav_duration_s(head, size)
            if duration is None:  # not WAV: let libsndfile read the whole (bounded) file
                duration = _any_audio_duration_s(head + f.read(), fld)
        limit = self.settings.max_audio_duration_s
        if duration > limit:
            raise InvalidInput(fld, f"{duration:.1f} s of audio; the limit is {limit:g} s")

    # --- single jobs ------------------------------------------------------------------
    def record(self, team: str, job_id: str) -> JobRecord:
        """The job if ``team`` owns it: NotFound / PermissionDenied otherwise."""
        manifest_key(job_id)  # InvalidInput("job_id") for a malformed id
        rec = self.queue.get(job_id)
        if rec.team != team:
            raise PermissionDenied(f"job {job_id} belongs to another team")
        return rec

    def get(self, team: str, job_id: str) -> JobView:
        return self.view(self.record(team, job_id))

    def cancel(self, team: str, job_id: str) -> JobView:
        self.record(team, job_id)
        rec = self.queue.cancel(job_id)
        log.info("cancel of job %s requested (now %s)", job_id, rec.status.value)
        return self.view(rec)

    def poll_events(
        self, team: str, job_id: str, after: str = "0", block_s: float | None = None
    ) -> tuple[list[JobEvent], bool]:
        """Events after ``after`` (waiting up to ``block_s``), and whether the job is over.

        Over means a terminal event was read *and* the job is still terminal (a dead-lettered
        job requeued by an operator goes on).
        """
        self.record(team, job_id)
        wait = self.settings.watch_poll_s if block_s is None else block_s
        try:
            events = list(self.queue.watch(job_id, after=after, block_s=wait, timeout_s=wait))
        except redis.ResponseError as e:
            if "Invalid stream ID" in str(e):
                raise InvalidInput("after_event_id", "not an event id of this job") from None
            raise
        over = bool(events) and events[-1].status.terminal
        if over:
            over = self.queue.get(job_id).status.terminal
        return events, over

    # --- lists ------------------------------------------------------------------------
    def list(
        self,
        team: str,
        *,
        statuses: tuple[JobStatus, ...] = (),
        created_after: float = 0.0,
        created_before: float | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[JobView], str]:
        """The team's jobs newest first; the token continues after the page's last job."""
        s = self.settings
        size = page_size or s.list_page_size
        if not 1 <= size <= s.max_list_page_size:
            raise InvalidInput("page_size", f"between 1 and {s.max_list_page_size}")
        until, after_id = _untoken(page_token) if page_token else (created_before, "")
        if created_before is not None and until is not None:
            until = min(until, created_before)

        def keep(r: JobRecord) -> bool:
            if statuses and r.status not in statuses:
                return False
            if created_before is not None and r.created_at >= created_before:
                return False
            # Within one creation time the index lists ids in reverse order; skip those shown.
            return not (page_token and r.created_at == until and r.job_id >= after_id)

        status = statuses[0] if len(statuses) == 1 else None
        limit = size + 1
        while True:
            found = self.queue.list_jobs(
                status=status, team=team, since=created_after, until=until, limit=limit
            )
            kept = [r for r in found if keep(r)]
            if len(kept) > size or len(found) < limit:
                break
            limit *= 2
        page = kept[:size]
        token = _token(page[-1].created_at, page[-1].job_id) if len(kept) > size else ""
        return [self.view(r, presign=False) for r in page], token

    # --- results ----------------------------------------------------------------------
    def view(self, rec: JobRecord, *, presign: bool = True) -> JobView:
        if rec.status != JobStatus.SUCCEEDED:
            return JobView(rec)
        artifacts = result_artifacts(rec)
        urls: dict[str, str] = {}
        if presign:
            expires = timedelta(seconds=self.settings.presign_expiry_s)
            for name, ref in artifacts.items():
                try:
                    urls[name] = self.store.presign(ref.uri, expires)
                except DyadError as e:  # expired by a lifecycle rule, or another store
                    log.warning("no download URL for %s of job %s: %s", name, rec.job_id, e)
        return JobView(rec, artifacts, urls)


def _any_audio_duration_s(data: bytes, fld: str) -> float:
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
    except Exception:
        raise InvalidInput(fld, "not a readable audio file") from None
    return float(info.duration)


def as_ref(value: Any) -> ArtifactRef | None:
    """An ArtifactRef from a result value: an ArtifactRef dict or a bare URI.

    A bare URI of a CAS blob still gets its sha256 (it is in the key).
    """
    if isinstance(value, dict) and isinstance(value.get("uri"), str):
        return ArtifactRef(
            value["uri"],
            str(value.get("sha256") or ""),
            int(value.get("size_bytes") or 0),
            str(value.get("content_type") or ""),
        )
    if isinstance(value, str) and "://" in value:
        m = _CAS_URI.search(value)
        ctype = mimetypes.guess_type(value)[0] or ""
        return ArtifactRef(value, m.group(1) if m else "", 0, ctype)
    return None


def result_artifacts(rec: JobRecord) -> dict[str, ArtifactRef]:
    """Named result artefacts of a finished job: manifest, video, then ``artifacts``."""
    r = rec.result or {}
    named: list[tuple[str, Any]] = [(k, r[k]) for k in ("manifest", "video") if k in r]
    extra = r.get("artifacts")
    if isinstance(extra, dict):
        named += [(str(k), v) for k, v in sorted(extra.items())]
    if "manifest" not in r and rec.result_uri:
        named.append(("manifest", rec.result_uri))
    out: dict[str, ArtifactRef] = {}
    for name, value in named:
        ref = as_ref(value)
        if ref is not None and name not in out:
            out[name] = ref
    return out
