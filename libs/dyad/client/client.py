"""``DyadClient``: the Job API for product teams, as plain blocking Python calls."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.json_format import ParseDict

from dyad import errors
from dyad.client.avatars import AvatarCalls
from dyad.client.models import PRIORITIES, STATUSES, Artifact, Job, ProgressEvent, artifact_ref_pb
from dyad.rpc.client import error_from_rpc
from dyad.rpc.tls import channel_options
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

ENDPOINT_ENV = "DYAD_ENDPOINT"
TOKEN_ENV = "DYAD_TOKEN"
APPLICATION_ENV = "DYAD_APPLICATION"
_CHUNK = 1024 * 1024
_EXT = {
    "video/mp4": ".mp4",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "application/json": ".json",
    "application/x-npz": ".npz",
    "application/x-npy": ".npy",
}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_LAYOUTS = {
    "side": "LAYOUT_SIDE_BY_SIDE",
    "side_by_side": "LAYOUT_SIDE_BY_SIDE",
    "pip": "LAYOUT_PICTURE_IN_PICTURE",
    "picture_in_picture": "LAYOUT_PICTURE_IN_PICTURE",
    "single": "LAYOUT_SINGLE",
}


def _set_time(ts: Any, seconds: float, fld: str) -> None:
    """``ts`` = ``seconds`` since the epoch; InvalidInput naming ``fld`` outside Timestamp's
    range (years 1–9999), e.g. ``dyad jobs --since 99999999d``."""
    try:
        ts.FromNanoseconds(int(seconds * 1e9))
    except (ValueError, OverflowError):
        raise errors.InvalidInput(fld, "outside the years 1–9999") from None


def local_stack() -> tuple[str, str, str]:
    """(endpoint, token, application) of the stack ``dyad serve`` runs here, or empty strings."""
    from dyad.serving.stack import read_stack

    stack = read_stack()
    if not stack:
        return "", "", ""
    token = ""
    try:
        team_token = Path(stack["token_file"]).read_text().strip().splitlines()[0]
        token = team_token.partition(":")[2]
    except (OSError, KeyError, IndexError):
        pass
    return str(stack.get("endpoint", "")), token, str(stack.get("application", ""))


class DyadClient(AvatarCalls):
    """A connection to the gateway. ``endpoint``: ``host:port`` (plaintext) or
    ``grpcs://host:port`` (TLS); default ``$DYAD_ENDPOINT``. ``token``: the team's bearer token;
    default ``$DYAD_TOKEN``. ``timeout``: deadline of each unary call, seconds.
    ``application``: the Ray Serve application to route to (``gateway`` in
    ``deploy/ray/serve_config.yaml``; needed when Serve hosts several); default
    ``$DYAD_APPLICATION``, none for a standalone gateway. Without an endpoint from the
    argument or the environment, the local stack ``dyad serve`` runs is used
    (``.dyad/serve/stack.json``, or ``$DYAD_SERVE_DIR``): its endpoint, application and dev
    token.

    Errors are ``dyad.errors`` exceptions (``Unauthenticated``, ``PermissionDenied``,
    ``NotFound``, ``InvalidInput`` naming the field, ``Unavailable``, …).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        application: str | None = None,
        root_certificates: bytes | None = None,
    ) -> None:
        endpoint = endpoint or os.environ.get(ENDPOINT_ENV, "")
        token = token or os.environ.get(TOKEN_ENV, "")
        application = application or os.environ.get(APPLICATION_ENV, "")
        if not endpoint:
            endpoint, local_token, local_app = local_stack()
            token, application = token or local_token, application or local_app
        if not endpoint:
            raise errors.ConfigError(
                ENDPOINT_ENV, "no gateway endpoint: give --endpoint, or start one with `dyad serve`"
            )
        if not token:
            raise errors.ConfigError(TOKEN_ENV, "no bearer token (give --token)")
        self.timeout = timeout
        self._metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),)
        if application:
            self._metadata += (("application", application),)
        # round_robin: a gateway behind a headless Service resolves to every pod; spread over them
        options = channel_options()
        if endpoint.startswith("grpcs://"):
            creds = grpc.ssl_channel_credentials(root_certificates)
            self._channel = grpc.secure_channel(endpoint[len("grpcs://") :], creds, options)
        else:
            self._channel = grpc.insecure_channel(endpoint.removeprefix("grpc://"), options)
        self._stub = pb_grpc.JobServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> DyadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Any, request: Any, timeout: float | None = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise error_from_rpc(e) from None

    # --- the API ----------------------------------------------------------------------
    def submit(
        self,
        prompt: str | None = None,
        *,
        audio: Mapping[str, Any] | None = None,
        n: int = 1,
        priority: str = "normal",
        idempotency_key: str = "",
        motion_backend: str = "",
        rig: str = "",
        refine: bool | None = None,
        layout: str = "",
        seed: int | None = None,
        relation: Mapping[str, bool | None] | None = None,
        identity_a: Mapping[str, Any] | None = None,
        identity_b: Mapping[str, Any] | None = None,
        head_px: int | None = None,
        turns: tuple[int, int] | None = None,
        refine_steps: int | None = None,
        dataset_prefix: str = "",
        dataset_split: str = "",
        voice_a: str = "",
        voice_b: str = "",
        per_speaker_videos: bool | None = None,
        avatar_a: str = "",
        avatar_b: str = "",
    ) -> Job:
        """Submit a prompt (or ``audio={"track_a": uri, "track_b": uri}`` / ``{"stereo": uri}``).

        The returned job's ``created`` is False when ``idempotency_key`` matched a job the
        team submitted before (that job is returned, whatever this call asked for).
        ``per_speaker_videos=False`` asks for the composite video only (no ``speaker_a.mp4`` /
        ``speaker_b.mp4``); None leaves the pipeline's default (on). ``avatar_a``/``avatar_b``
        render a speaker with one of the team's avatars (its name or id, ``list_avatars``).
        """
        if priority not in PRIORITIES:
            raise errors.InvalidInput("priority", f"one of {list(PRIORITIES)}")
        req = pb.SubmitJobRequest(
            n=n,
            priority=pb.Priority.Value(f"PRIORITY_{priority.upper()}"),  # type: ignore[arg-type]
            idempotency_key=idempotency_key,
        )
        if (prompt is None) == (audio is None):
            raise errors.InvalidInput("input", "give either a prompt or audio")
        if prompt is not None:
            req.prompt = prompt
        else:
            assert audio is not None
            for slot, value in audio.items():
                if slot not in ("track_a", "track_b", "stereo"):
                    raise errors.InvalidInput(f"audio.{slot}", "track_a, track_b or stereo")
                getattr(req.audio, slot).CopyFrom(artifact_ref_pb(value, f"audio.{slot}"))
        o = req.options
        o.motion_backend, o.rig = motion_backend, rig
        if refine is not None:
            o.refine = refine
        if layout:
            if layout not in _LAYOUTS:
                raise errors.InvalidInput("layout", "side, pip or single")
            o.layout = c.Layout.Value(_LAYOUTS[layout])  # type: ignore[assignment]
        if seed is not None:
            o.seed = seed
        if head_px is not None:
            o.head_size_px = head_px
        if turns is not None:
            o.min_turns, o.max_turns = turns
        if refine_steps is not None:
            o.refine_steps = refine_steps
        o.dataset_prefix, o.dataset_split = dataset_prefix, dataset_split
        o.voice_a, o.voice_b = voice_a, voice_b
        o.avatar_a, o.avatar_b = avatar_a, avatar_b
        if per_speaker_videos is not None:  # None: the pipeline's default (on)
            o.per_speaker_videos = per_speaker_videos
        for axis, value in (relation or {}).items():
            if value is not None:
                setattr(o.relation, axis, bool(value))
        for name, ident in (("identity_a", identity_a), ("identity_b", identity_b)):
            if ident:
                ParseDict(dict(ident), getattr(o, name))
        resp = self._call(self._stub.SubmitJob, req)
        return Job.from_pb(resp.job, created=resp.created)

    def get(self, job_id: str) -> Job:
        return Job.from_pb(self._call(self._stub.GetJob, pb.GetJobRequest(job_id=job_id)).job)

    def cancel(self, job_id: str) -> Job:
        resp = self._call(self._stub.CancelJob, pb.CancelJobRequest(job_id=job_id))
        return Job.from_pb(resp.job)

    def list_page(
        self,
        *,
        statuses: tuple[str, ...] = (),
        created_after: float | None = None,
        created_before: float | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> tuple[list[Job], str]:
        """One page of the team's jobs, newest first, and the token of the next ('' at the end)."""
        req = pb.ListJobsRequest(page_size=page_size, page_token=page_token)
        for s in statuses:
            if s not in STATUSES:
                raise errors.InvalidInput("statuses", f"{s!r}: one of {list(STATUSES)}")
            req.statuses.append(pb.JobStatus.Value(f"JOB_STATUS_{s.upper()}"))  # type: ignore[arg-type]
        if created_after:
            _set_time(req.created_after, created_after, "created_after")
        if created_before:
            _set_time(req.created_before, created_before, "created_before")
        resp = self._call(self._stub.ListJobs, req)
        return [Job.from_pb(j) for j in resp.jobs], resp.next_page_token

    def list(
        self,
        *,
        statuses: tuple[str, ...] = (),
        created_after: float | None = None,
        created_before: float | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Up to ``limit`` of the team's jobs, newest first, following pages."""
        out: list[Job] = []
        token = ""
        while len(out) < limit:
            page, token = self.list_page(
                statuses=statuses,
                created_after=created_after,
                created_before=created_before,
                page_size=min(limit - len(out), 500),
                page_token=token,
            )
            out += page
            if not token:
                break
        return out[:limit]

    def events(
        self, job_id: str, *, after_event_id: str = "", timeout: float = 3600.0
    ) -> Iterator[ProgressEvent]:
        """The job's events until a terminal one; resumes once after a dropped connection."""
        last, retried = after_event_id, False
        deadline = time.monotonic() + timeout
        while True:
            req = pb.WatchJobRequest(job_id=job_id, after_event_id=last)
            stream = self._stub.WatchJob(
                req,
                timeout=max(0.0, deadline - time.monotonic()),
                metadata=self._metadata,
                # The resumed call waits for the gateway (a restarting replica) instead of
                # failing at once on a channel that is still reconnecting.
                wait_for_ready=retried,
            )
            try:
                for msg in stream:
                    ev = ProgressEvent.from_pb(msg)
                    last = ev.event_id or last
                    yield ev
                return
            except grpc.RpcError as e:
                err = error_from_rpc(e)
                if isinstance(err, errors.Unavailable) and not retried:
                    retried = True  # resume after the last event seen: nothing twice
                    continue
                raise err from None

    def watch(
        self,
        job_id: str,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        *,
        timeout: float = 3600.0,
    ) -> Job:
        """Follow the job until it ends, calling ``on_progress`` per event; the final job."""
        for ev in self.events(job_id, timeout=timeout):
            if on_progress is not None:
                on_progress(ev)
        return self.get(job_id)

    def download(
        self, job: Job | str, dest_dir: str | Path, *, timeout: float = 300.0
    ) -> dict[str, Path]:
        """Fetch every result artefact through its presigned URL into ``dest_dir``.

        Files are named after the artefact (``video.mp4``, ``manifest.json``; a name with
        slashes, like ``<dialogue_id>/conversation.mp4``, becomes subfolders), written
        atomically and checked against the artefact's sha256 when the job records one.
        """
        if isinstance(job, str) or not job.download_urls:
            job = self.get(job if isinstance(job, str) else job.job_id)
        if not job.succeeded:
            raise errors.FailedPrecondition(f"job {job.job_id} is {job.status}, not succeeded")
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for name, art in job.artifacts.items():
            if art.url:
                path = dest.joinpath(*_local_name(name, art))
                path.parent.mkdir(parents=True, exist_ok=True)
                out[name] = fetch(art.url, path, art.sha256, timeout)
        return out


def _local_name(name: str, art: Artifact) -> list[str]:
    """Safe path parts for an artefact name: no ``..``, an extension from its type if none."""
    parts = [_SAFE.sub("_", p) for p in name.split("/") if p not in ("", ".", "..")] or ["file"]
    if not Path(parts[-1]).suffix:
        parts[-1] += _EXT.get(art.content_type) or Path(art.uri).suffix or ".bin"
    return parts


def fetch(url: str, path: Path, sha256: str = "", timeout: float = 300.0) -> Path:
    """GET ``url`` into ``path`` atomically, verifying ``sha256`` when given."""
    h = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as r:
            while chunk := r.read(_CHUNK):
                h.update(chunk)
                f.write(chunk)
        if sha256 and h.hexdigest() != sha256:
            raise errors.IntegrityError(f"{path.name}: downloaded bytes do not match their sha256")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise errors.PermissionDenied(f"{path.name}: download refused (URL expired?)") from None
        if e.code == 404:
            raise errors.NotFound(f"{path.name}: the artefact is gone") from None
        raise errors.Unavailable(f"{path.name}: download failed with HTTP {e.code}") from None
    except urllib.error.URLError as e:
        raise errors.Unavailable(f"{path.name}: download failed: {e.reason}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
