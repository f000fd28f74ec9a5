"""Plain-python views of the Job API's messages: what ``DyadClient`` returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dyad import errors
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb

TERMINAL = ("succeeded", "failed", "cancelled")
STATUSES = ("queued", "running", "retrying", *TERMINAL)
PRIORITIES = ("low", "normal", "high")


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    try:
        return str(enum.Name(value)).removeprefix(prefix).lower()
    except ValueError:
        return "unspecified"


def _seconds(ts: Any) -> float:
    return float(ts.ToNanoseconds()) / 1e9


def _iso(t: float) -> str:
    if not t:
        return ""
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")


def artifact_ref_pb(value: Any, fld: str) -> Any:
    """An ``ArtifactRef`` message from a URI, a dict or an object with ``to_proto``."""
    if isinstance(value, str):
        return c.ArtifactRef(uri=value)
    if isinstance(value, Mapping):
        return c.ArtifactRef(
            **{k: v for k, v in value.items() if k in c.ArtifactRef.DESCRIPTOR.fields_by_name}
        )
    if hasattr(value, "to_proto"):
        return value.to_proto()
    raise errors.InvalidInput(fld, "expected a URI, an ArtifactRef or its dict")


@dataclass(frozen=True)
class Artifact:
    """A result artefact: where it lives, what it is, and a presigned URL when the view has one."""

    name: str
    uri: str
    sha256: str = ""
    size_bytes: int = 0
    content_type: str = ""
    url: str = ""


@dataclass(frozen=True)
class Stage:
    name: str
    #: 0–1.
    progress: float
    status: str


@dataclass(frozen=True)
class Job:
    job_id: str
    #: ``queued``, ``running``, ``retrying``, ``succeeded``, ``failed`` or ``cancelled``.
    status: str
    priority: str
    #: Overall 0–1.
    progress: float
    attempts: int
    team: str
    stages: tuple[Stage, ...] = ()
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    #: ``{"code", "message", "error_id"}`` of the last failure, if any.
    error: dict[str, str] | None = None
    cancel_requested: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    #: From ``submit`` only: False when the idempotency key matched an existing job.
    created: bool | None = None
    #: A fit job's avatar, once it succeeded.
    avatar: Avatar | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def result_uris(self) -> dict[str, str]:
        return {name: a.uri for name, a in self.artifacts.items()}

    @property
    def download_urls(self) -> dict[str, str]:
        return {name: a.url for name, a in self.artifacts.items() if a.url}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``dyad status --json`` prints."""
        out: dict[str, Any] = {
            "job_id": self.job_id,
            "status": self.status,
            "priority": self.priority,
            "progress": round(self.progress, 4),
            "attempts": self.attempts,
            "team": self.team,
            "stages": {
                s.name: {"progress": round(s.progress, 4), "status": s.status} for s in self.stages
            },
            "result": self.result_uris,
            "download_urls": self.download_urls,
            "artifacts": {
                name: {k: v for k, v in asdict(a).items() if k not in ("name", "url")}
                for name, a in self.artifacts.items()
            },
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }
        if self.created is not None:
            out["created"] = self.created
        if self.avatar is not None:
            out["avatar"] = self.avatar.to_dict()
        return out

    @classmethod
    def from_pb(cls, msg: Any, *, created: bool | None = None) -> Job:
        urls = dict(msg.result.download_urls)
        artifacts = {
            name: Artifact(
                name, ref.uri, ref.sha256, int(ref.size_bytes), ref.content_type, urls.get(name, "")
            )
            for name, ref in sorted(msg.result.artifacts.items())
        }
        error = None
        if msg.HasField("error") and (msg.error.code or msg.error.message):
            error = {
                "code": msg.error.code,
                "message": msg.error.message,
                "error_id": msg.error.error_id,
            }
        return cls(
            job_id=msg.job_id,
            status=_enum_name(pb.JobStatus, msg.status, "JOB_STATUS_"),
            priority=_enum_name(pb.Priority, msg.priority, "PRIORITY_"),
            progress=float(msg.progress),
            attempts=int(msg.attempts),
            team=msg.team,
            stages=tuple(
                Stage(s.stage, float(s.progress), _enum_name(pb.JobStatus, s.status, "JOB_STATUS_"))
                for s in msg.stages
            ),
            artifacts=artifacts,
            error=error,
            cancel_requested=msg.cancel_requested,
            created_at=_seconds(msg.create_time),
            updated_at=_seconds(msg.update_time),
            created=created,
            avatar=Avatar.from_pb(msg.result.avatar) if msg.result.avatar.avatar_id else None,
        )


@dataclass(frozen=True)
class Avatar:
    """One of the team's avatars (``upload_avatar``, ``list_avatars``); jobs name it by
    ``name`` (or ``avatar_id``) in ``submit(avatar_a=…, avatar_b=…)``."""

    avatar_id: str
    name: str
    rig: str
    num_gaussians: int
    size_bytes: int
    head: str
    uri: str
    created_at: float = 0.0
    #: ``upload_avatar``: False when the team already had these files under this name.
    created: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = _iso(self.created_at)
        if self.created is None:
            del d["created"]
        return d

    @classmethod
    def from_pb(cls, msg: Any, *, created: bool | None = None) -> Avatar:
        return cls(
            avatar_id=msg.avatar_id,
            name=msg.name,
            rig=msg.rig,
            num_gaussians=int(msg.num_gaussians),
            size_bytes=int(msg.size_bytes),
            head=msg.head,
            uri=msg.uri,
            created_at=_seconds(msg.create_time),
            created=created,
        )


@dataclass(frozen=True)
class ProgressEvent:
    """One event of ``watch``: the job's status, and a stage's progress when it names one."""

    job_id: str
    status: str
    #: Overall 0–1.
    progress: float
    stage: str = ""
    stage_progress: float = 0.0
    message: str = ""
    time: float = 0.0
    event_id: str = ""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_pb(cls, msg: Any) -> ProgressEvent:
        return cls(
            job_id=msg.job_id,
            status=_enum_name(pb.JobStatus, msg.status, "JOB_STATUS_"),
            progress=float(msg.progress),
            stage=msg.stage.stage,
            stage_progress=float(msg.stage.progress),
            message=msg.event.message,
            time=_seconds(msg.event.time),
            event_id=msg.event_id,
        )
