"""``JobGateway``: the Job API's behaviour on the queue and the store — no grpc, no ray.

Every call names the calling ``team`` (from its bearer token, see ``auth``): a team sees,
cancels and lists only its own jobs (``PermissionDenied`` otherwise), reuses idempotency keys
only within itself (and only for the same request: ``AlreadyExists`` otherwise), and may
reference as input audio only content-addressed blobs (``cas/…``; knowing a blob's hash is the
capability to read it) or its own uploads (``uploads/<team>/…``), whose headers are checked
(``dyad.media.probe``) before the job is queued. Redis unreachable is ``Unavailable``.

Results are what the worker's runner returned (see ``dyad.services.worker.runner``): a dict
whose ``manifest``, ``video`` and ``artifacts[name]`` values are ArtifactRef dicts or URIs.
Single-job views carry presigned HTTP GET URLs for them; list views do not (a presign costs a
HEAD request on S3).
"""

from __future__ import annotations

import base64
import functools
import logging
import math
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import redis

from dyad.domain.limits import check_seed
from dyad.errors import DyadError, InvalidInput, NotFound, PermissionDenied, Unavailable
from dyad.media.probe import MediaLimits, is_riff_wave, probe_audio, probe_audio_file
from dyad.queue import JobEvent, JobQueue, JobRecord, JobStatus, Priority
from dyad.services.gateway.avatars import AvatarInfo, TeamAvatars
from dyad.services.gateway.fitjobs import (
    FitInput,
    check_fit,
    kind_queue,
    team_input_key,
    upload_video,
)
from dyad.services.gateway.results import result_artifacts
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import ArtifactRef, ArtifactStore, manifest_key
from dyad.storage.base import validate_key

log = logging.getLogger("dyad.gateway")

AUDIO_SLOTS = ("track_a", "track_b", "stereo")
AVATAR_OPTIONS = ("avatar_a", "avatar_b")
_CAS_KEY = re.compile(r"^cas/sha256/([0-9a-f]{2})/([0-9a-f]{64})$")
_HEAD_BYTES = 64 * 1024
_COPY_CHUNK = 1024 * 1024


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
    #: A fit-avatar job (``fitjobs``): no prompt, no audio, no options.
    fit: FitInput | None = None

    @property
    def kind(self) -> str:
        return "fit_avatar" if self.fit is not None else "generate"

    def spec(self) -> dict[str, Any]:
        if self.fit is not None:
            return self.fit.spec()
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


#: Control characters a prompt may hold; every other one (NUL, ESC, CR, DEL, C1, …) is refused.
_ALLOWED_CONTROLS = frozenset("\n\t")


def check_text(fld: str, text: str) -> None:
    """Refuse control characters other than newline and tab, naming the first one."""
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS:
            raise InvalidInput(
                fld, f"control character U+{ord(ch):04X} at {i}; only newline and tab are allowed"
            )


def _cas_digest(key: str) -> str:
    """The sha256 a CAS key names (``cas/sha256/ab/ab12…``); empty for any other key."""
    m = _CAS_KEY.match(key)
    return m.group(2) if m and m.group(2).startswith(m.group(1)) else ""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def queue_call(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Redis unreachable (refused, reset, timed out, still loading its AOF) → ``Unavailable``:
    the call was not served and may be retried unchanged. The client sees no address."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as e:
            log.warning("job queue unavailable in %s: %s", fn.__name__, e)
            raise Unavailable("the job queue is unavailable; retry later") from None

    return wrapper


def _token(created_at: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at!r}|{job_id}".encode()).decode()


def _untoken(token: str) -> tuple[float, str]:
    try:
        ts, _, jid = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        created = float(ts)
    except (ValueError, UnicodeDecodeError):
        created, jid = math.nan, ""
    if not math.isfinite(created):
        raise InvalidInput("page_token", "not a token from a previous ListJobs")
    return created, jid


class JobGateway:
    def __init__(
        self,
        queue: JobQueue,
        store: ArtifactStore,
        settings: GatewaySettings,
        media: MediaLimits | None = None,
    ) -> None:
        self.queue, self.store, self.settings = queue, store, settings
        media = media or MediaLimits.from_env()
        #: The media limits (``DYAD_MEDIA_*``) tightened by the gateway's own audio limits.
        self.media_limits = replace(
            media,
            max_audio_s=min(media.max_audio_s, settings.max_audio_duration_s),
            max_audio_bytes=min(media.max_audio_bytes, settings.max_audio_bytes),
        )
        self.avatars = TeamAvatars(store, settings.max_avatar_bytes)
        #: Each job kind's queue (``fitjobs.JOB_KINDS``): fit jobs go to their own streams.
        self.queues = {"generate": queue}
        if queue is not None:  # None: a gateway that only checks input (tests)
            self.queues["fit_avatar"] = kind_queue(queue, "fit_avatar")

    def ensure_groups(self) -> None:
        """Every kind's consumer groups (the gateway's warm-up: fails without Redis)."""
        for q in self.queues.values():
            q.ensure_groups()

    # --- submit -----------------------------------------------------------------------
    @queue_call
    def submit(
        self,
        team: str,
        job: JobInput,
        *,
        priority: Priority | str = Priority.NORMAL,
        idempotency_key: str = "",
    ) -> tuple[JobView, bool]:
        """Validate the limits and enqueue; ``created`` is False for a known idempotency key
        (the same request again; another request under that key is ``AlreadyExists``)."""
        job = self.check_input(team, job)
        rec, created = self.queues[job.kind].submit(
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

    def check_input(self, team: str, job: JobInput) -> JobInput:
        """Refuse what the worker could only fail on; the job as it will be queued (audio
        references carry the stored size and, for CAS blobs, the hash their key names; avatar
        references are resolved to the team's avatar's store key)."""
        if job.fit is not None:
            if job.prompt or job.audio or job.options or job.n != 1:
                raise InvalidInput("fit_avatar", "a fit job takes no prompt, audio or options")
            return replace(job, fit=check_fit(self.store, self.settings, team, job.fit))
        options = self.avatars.resolve_options(team, job.options, AVATAR_OPTIONS)
        job = replace(job, options=options) if options is not job.options else job
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
        if "seed" in job.options:  # the pipeline's own range (numpy seeds; seed + i is int64)
            check_seed(job.options["seed"], n=job.n, field="options.seed")
        if job.prompt:
            if len(job.prompt) > s.max_prompt_chars:
                raise InvalidInput(
                    "prompt", f"{len(job.prompt)} characters; the limit is {s.max_prompt_chars}"
                )
            if not job.prompt.strip():
                raise InvalidInput("prompt", "blank")
            check_text("prompt", job.prompt)
            return job
        if job.n != 1:
            raise InvalidInput("n", "audio input makes exactly one conversation")
        slots = set(job.audio)
        if not (slots == {"track_a", "track_b"} or slots == {"stereo"}):
            raise InvalidInput("audio", "give track_a and track_b, or stereo")
        audio = {
            slot: self._check_audio(team, slot, ref) for slot, ref in sorted(job.audio.items())
        }
        return replace(job, audio=audio)

    # --- avatars ----------------------------------------------------------------------
    def upload_avatar(
        self, team: str, name: str, config_json: bytes, model_safetensors: bytes
    ) -> tuple[AvatarInfo, bool]:
        """Check the avatar directory's two files, then store them as the team's ``name``."""
        info, created = self.avatars.put(team, name, config_json, model_safetensors)
        log.info(
            "avatar %s (%s) %s for team %s",
            info.name,
            info.avatar_id,
            "stored" if created else "already stored",
            team,
        )
        return info, created

    def list_avatars(self, team: str) -> list[AvatarInfo]:
        return self.avatars.list(team)

    def upload_video(
        self, team: str, data: bytes, content_type: str = ""
    ) -> tuple[ArtifactRef, float]:
        """A fit job's video, checked, as the team's upload; its reference and duration."""
        return upload_video(self.store, self.settings, team, data, content_type)

    def _check_audio(self, team: str, slot: str, ref: ArtifactRef) -> ArtifactRef:
        """Where the track is, what it claims and what its header says, before any worker
        sees it: the header is checked with ``dyad.media.probe`` (rate, channels, length,
        truncation) under the smaller of the gateway's and the media limits."""
        fld = f"audio.{slot}"
        key, size = team_input_key(self.store, team, fld, ref)
        digest = _cas_digest(key)
        if digest and ref.sha256 and ref.sha256 != digest:
            raise InvalidInput(f"{fld}.sha256", "not the hash its content address names")
        limits = self.media_limits
        if size > limits.max_audio_bytes:
            raise InvalidInput(fld, f"{size} bytes; the limit is {limits.max_audio_bytes}")
        with self.store._open(key) as f:
            head = f.read(_HEAD_BYTES)
            if is_riff_wave(head):
                header = probe_audio(head, field=fld, total_size=size, limits=limits)
            else:  # other formats: spooled to disk, libsndfile reads the header from there
                with tempfile.TemporaryFile() as spool:
                    spool.write(head)
                    shutil.copyfileobj(f, spool, _COPY_CHUNK)
                    spool.seek(0)
                    header = probe_audio_file(spool, field=fld, total_size=size, limits=limits)
        if slot == "stereo" and header.channels != 2:
            raise InvalidInput(fld, f"{header.channels} channel(s); stereo needs exactly 2 (A, B)")
        return ArtifactRef(ref.uri, digest or ref.sha256, size, ref.content_type)

    # --- single jobs ------------------------------------------------------------------
    def record(self, team: str, job_id: str) -> JobRecord:
        """The job if ``team`` owns it: NotFound / PermissionDenied otherwise."""
        return self._locate(team, job_id)[1]

    def _locate(self, team: str, job_id: str) -> tuple[JobQueue, JobRecord]:
        """The job's queue (the one of its kind) and record, if ``team`` owns it."""
        manifest_key(job_id)  # InvalidInput("job_id") for a malformed id
        for q in self.queues.values():
            try:
                rec = q.get(job_id)
            except NotFound:
                continue
            if rec.team != team:
                raise PermissionDenied(f"job {job_id} belongs to another team")
            return q, rec
        raise NotFound(f"no job {job_id!r}")

    @queue_call
    def get(self, team: str, job_id: str) -> JobView:
        return self.view(self.record(team, job_id))

    @queue_call
    def cancel(self, team: str, job_id: str) -> JobView:
        queue, _ = self._locate(team, job_id)
        rec = queue.cancel(job_id)
        log.info("cancel of job %s requested (now %s)", job_id, rec.status.value)
        return self.view(rec)

    @queue_call
    def poll_events(
        self, team: str, job_id: str, after: str = "0", block_s: float | None = None
    ) -> tuple[list[JobEvent], bool]:
        """Events after ``after`` (waiting up to ``block_s``), and whether the job is over.

        Over means a terminal event was read *and* the job is still terminal (a dead-lettered
        job requeued by an operator goes on).
        """
        queue, _ = self._locate(team, job_id)
        wait = self.settings.watch_poll_s if block_s is None else block_s
        try:
            events = list(queue.watch(job_id, after=after, block_s=wait, timeout_s=wait))
        except redis.ResponseError as e:
            if "Invalid stream ID" in str(e):
                raise InvalidInput("after_event_id", "not an event id of this job") from None
            raise
        over = bool(events) and events[-1].status.terminal
        if over:
            over = queue.get(job_id).status.terminal
        return events, over

    # --- lists ------------------------------------------------------------------------
    @queue_call
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
            # Every kind's newest ``limit``, merged: the merged newest ``limit`` are among them.
            found = sorted(
                (
                    r
                    for q in self.queues.values()
                    for r in q.list_jobs(
                        status=status, team=team, since=created_after, until=until, limit=limit
                    )
                ),
                key=lambda r: (r.created_at, r.job_id),
                reverse=True,
            )[:limit]
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
