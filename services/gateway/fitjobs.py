"""Fit-avatar jobs: what one asks for, the checks before it is queued, and its own queue.

A fit job is a ``SubmitJob`` kind (``FitAvatarInput``), so it is watched, cancelled and listed
like any job; it only goes on its own queue — the same Redis, the key prefix
``<DYAD_QUEUE_PREFIX>:fit`` — so the workers that claim it can be a separate (GPU) group: a
worker takes the job kinds ``DYAD_WORKER_JOB_KINDS`` names (``kind_queue`` gives each kind's
queue; the worker imports it from here, the gateway never imports the worker).

The video is checked before the job is queued: where it is (a CAS blob or the team's own
``uploads/<team>/…``, as input audio), its size, that ffprobe finds a video stream in it, and its
duration — a worker never downloads what could only fail.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from dyad.errors import InvalidInput, PermissionDenied
from dyad.queue import JobQueue
from dyad.services.gateway.avatars import check_name
from dyad.services.gateway.settings import GatewaySettings
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.storage.base import CAS_PREFIX

#: Job kinds and the suffix of their queue's key prefix ("": the queue jobs always used).
JOB_KINDS = {"generate": "", "fit_avatar": ":fit"}
FIT_SIZE_PX = (64, 1024)
_COPY_CHUNK = 1024 * 1024


def kind_queue(queue: JobQueue, kind: str) -> JobQueue:
    """The queue of job ``kind`` on ``queue``'s Redis (``queue`` itself for ``generate``)."""
    suffix = JOB_KINDS[kind]
    if not suffix:
        return queue
    cfg = dataclasses.replace(queue.cfg, prefix=queue.cfg.prefix + suffix)
    return JobQueue(queue.r, cfg)


@dataclass(frozen=True)
class FitInput:
    """``FitAvatarInput`` in plain values; ``team`` is set by the gateway from the token."""

    video: ArtifactRef
    name: str
    iters: int | None = None
    size_px: int | None = None
    team: str = ""

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"video": self.video.to_dict(), "name": self.name}
        if self.iters is not None:
            out["iters"] = self.iters
        if self.size_px is not None:
            out["size_px"] = self.size_px
        return {"input": "fit_avatar", "n": 1, "team": self.team, "fit": out, "options": {}}


def team_input_key(store: ArtifactStore, team: str, fld: str, ref: ArtifactRef) -> tuple[str, int]:
    """The key and stored size of an input a team references: a CAS blob or its own upload."""
    key = store.key_of(ref.uri, field=f"{fld}.uri")
    if not (key.startswith(CAS_PREFIX + "/") or key.startswith(f"uploads/{team}/")):
        raise PermissionDenied(
            f"{fld}.uri: teams may reference {CAS_PREFIX}/… or uploads/{team}/… only"
        )
    if ref.size_bytes < 0:
        raise InvalidInput(f"{fld}.size_bytes", "must not be negative")
    size = store.size(key)
    if size is None:
        raise InvalidInput(f"{fld}.uri", f"no artefact at {ref.uri}")
    if ref.size_bytes and ref.size_bytes != size:
        raise InvalidInput(f"{fld}.size_bytes", f"{ref.size_bytes}; the artefact has {size}")
    return key, size


def check_fit(
    store: ArtifactStore, settings: GatewaySettings, team: str, fit: FitInput
) -> FitInput:
    """Refuse a fit the worker could only fail on (see the module docstring)."""
    check_name(fit.name, "fit_avatar.name")
    if fit.iters is not None and not 1 <= fit.iters <= settings.max_fit_iters:
        raise InvalidInput("fit_avatar.iters", f"1–{settings.max_fit_iters}, got {fit.iters}")
    lo, hi = FIT_SIZE_PX
    if fit.size_px is not None and not lo <= fit.size_px <= hi:
        raise InvalidInput("fit_avatar.size_px", f"{lo}–{hi}, got {fit.size_px}")
    fld = "fit_avatar.video"
    key, size = team_input_key(store, team, fld, fit.video)
    if size > settings.max_video_bytes:
        raise InvalidInput(fld, f"{size} bytes; the limit is {settings.max_video_bytes}")
    fd, tmp = tempfile.mkstemp(prefix="dyad-fit-", suffix=".video")
    try:
        with os.fdopen(fd, "wb") as out, store._open(key) as src:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
        check_video_file(tmp, settings, fld)
    finally:
        os.unlink(tmp)
    video = ArtifactRef(fit.video.uri, fit.video.sha256, size, fit.video.content_type)
    return dataclasses.replace(fit, video=video, team=team)


def check_video_file(path: str, settings: GatewaySettings, fld: str) -> float:
    """The local video's duration, seconds, within DYAD_GATEWAY_MAX_VIDEO_DURATION_S;
    InvalidInput naming ``fld`` (never a server path) when ffprobe finds no video stream."""
    from dyad.media import probe_video

    try:
        info = probe_video(path)
    except InvalidInput:
        raise InvalidInput(fld, "not a video container ffprobe can read") from None
    stream = info.get("video")
    if not stream:
        raise InvalidInput(fld, "holds no video stream")
    duration = float(info.get("duration_s") or stream.get("duration_s") or 0.0)
    if not duration > 0:
        raise InvalidInput(fld, "a video of unknown or zero length")
    if duration > settings.max_video_duration_s:
        raise InvalidInput(
            fld, f"{duration:.1f} s long; the limit is {settings.max_video_duration_s:g} s"
        )
    return duration


def upload_video(
    store: ArtifactStore, settings: GatewaySettings, team: str, data: bytes, content_type: str
) -> tuple[ArtifactRef, float]:
    """Check ``data`` as a fit job's video, then store it as ``uploads/<team>/videos/<sha256>``
    (content-addressed within the team's prefix: the same video twice is one object)."""
    limit = min(settings.max_video_upload_bytes, settings.max_video_bytes)
    if not data:
        raise InvalidInput("data", "required")
    if len(data) > limit:
        raise InvalidInput("data", f"{len(data)} bytes; the limit is {limit}")
    if content_type and not content_type.isprintable():
        raise InvalidInput("content_type", "printable characters only")
    fd, tmp = tempfile.mkstemp(prefix="dyad-upload-", suffix=".video")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        duration = check_video_file(tmp, settings, "data")
    finally:
        os.unlink(tmp)
    digest = hashlib.sha256(data).hexdigest()
    key = f"uploads/{team}/videos/{digest}"
    ctype = content_type or "application/octet-stream"
    if store.size(key) != len(data):
        store.put_named(key, data, ctype)
    return ArtifactRef(store.uri(key), digest, len(data), ctype), duration
