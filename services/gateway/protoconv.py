"""``dyad.v1`` JobService messages ↔ the gateway's domain (``JobInput``, ``JobView``, events)."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from dyad.domain import Identity
from dyad.domain.limits import check_head_px, check_voice_id
from dyad.errors import InvalidInput, Unimplemented
from dyad.queue import JobEvent, JobRecord, JobStatus, Priority
from dyad.services.gateway.avatars import AvatarInfo, check_name
from dyad.services.gateway.core import AUDIO_SLOTS, AVATAR_OPTIONS, JobInput, JobView, check_text
from dyad.services.gateway.fitjobs import FitInput
from dyad.storage import ArtifactRef
from dyad.v1 import common_pb2 as c
from dyad.v1 import job_service_pb2 as pb

MOTION_BACKENDS = ("", "procedural", "neural")
RIGS = ("", "arkit55", "flame56")
#: The pipeline's (and renderer's) layout names.
LAYOUTS = {
    c.LAYOUT_SIDE_BY_SIDE: "side",
    c.LAYOUT_PICTURE_IN_PICTURE: "pip",
    c.LAYOUT_SINGLE: "single",
}


def status_to_pb(status: JobStatus) -> Any:
    return pb.JobStatus.Value(f"JOB_STATUS_{status.value.upper()}")


def status_from_pb(value: int, fld: str = "statuses") -> JobStatus:
    if value not in pb.JobStatus.values() or value == pb.JOB_STATUS_UNSPECIFIED:
        raise InvalidInput(fld, f"unknown job status {value}")
    return JobStatus(pb.JobStatus.Name(value).removeprefix("JOB_STATUS_").lower())


def priority_to_pb(priority: Priority) -> Any:
    return pb.Priority.Value(f"PRIORITY_{priority.value.upper()}")


def priority_from_pb(value: int) -> Priority:
    if value == pb.PRIORITY_UNSPECIFIED:
        return Priority.NORMAL
    if value not in pb.Priority.values():
        raise InvalidInput("priority", f"unknown priority {value}")
    return Priority(pb.Priority.Name(value).removeprefix("PRIORITY_").lower())


def _timestamp(t: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(int(t * 1e9))
    return ts


#: google.protobuf.Timestamp's valid range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_TIMESTAMP_S, MAX_TIMESTAMP_S = -62_135_596_800, 253_402_300_799


def seconds(ts: Timestamp, fld: str) -> float | None:
    """A request timestamp in seconds; None when unset. Outside Timestamp's documented range
    (years 1–9999, ``0 ≤ nanos < 10^9``) it is InvalidInput naming ``fld``."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    if not MIN_TIMESTAMP_S <= ts.seconds <= MAX_TIMESTAMP_S:
        raise InvalidInput(fld, "seconds outside 0001-01-01 – 9999-12-31")
    if not 0 <= ts.nanos < 1_000_000_000:
        raise InvalidInput(fld, "nanos outside 0–999999999")
    return ts.seconds + ts.nanos / 1e9


def options_from_pb(o: pb.JobOptions) -> dict[str, Any]:
    """The options a client set, in the pipeline's vocabulary; unset ones are left out so the
    runner applies its own defaults (e.g. refinement on)."""
    if o.motion_backend not in MOTION_BACKENDS:
        raise InvalidInput("options.motion_backend", f"one of {list(MOTION_BACKENDS[1:])}")
    if o.rig not in RIGS:
        raise InvalidInput("options.rig", f"one of {list(RIGS[1:])}")
    if o.layout not in c.Layout.values():
        raise InvalidInput("options.layout", f"unknown layout {o.layout}")
    out: dict[str, Any] = {}
    if o.motion_backend:
        out["motion_backend"] = o.motion_backend
    if o.rig:
        out["rig"] = o.rig
    if o.HasField("refine"):
        out["refine"] = o.refine
    if o.layout != c.LAYOUT_UNSPECIFIED:
        out["layout"] = LAYOUTS[o.layout]
    if o.HasField("seed"):
        out["seed"] = o.seed
    axes = [o.relation.HasField(a) for a in ("blood", "equal")]
    if any(axes):
        if not all(axes):
            raise InvalidInput(
                "options.relation", "give both blood and equal, or neither (inferred)"
            )
        out["relation"] = {"blood": o.relation.blood, "equal": o.relation.equal}
    if o.HasField("head_size_px"):
        out["head_px"] = check_head_px(o.head_size_px, field="options.head_size_px")
    turns = [o.HasField(a) for a in ("min_turns", "max_turns")]
    if any(turns):
        if not all(turns) or not 5 <= o.min_turns <= o.max_turns <= 10:
            raise InvalidInput("options.min_turns", "give min_turns ≤ max_turns, both in 5–10")
        out["turns"] = [o.min_turns, o.max_turns]
    if o.HasField("refine_steps"):
        if not 1 <= o.refine_steps <= 1000:
            raise InvalidInput("options.refine_steps", "1–1000")
        out["refine_steps"] = o.refine_steps
    if o.dataset_prefix:  # the team check happens in the core, which knows the team
        out["dataset_prefix"] = o.dataset_prefix.strip("/")
        if o.dataset_split not in ("", "train", "test", "ood"):
            raise InvalidInput("options.dataset_split", "train, test or ood")
        out["dataset_split"] = o.dataset_split or "train"
    elif o.dataset_split:
        raise InvalidInput("options.dataset_split", "only with options.dataset_prefix")
    if o.HasField("per_speaker_videos"):  # unset: the pipeline's default (on)
        out["per_speaker_videos"] = o.per_speaker_videos
    for name in AVATAR_OPTIONS:  # resolved against the team's avatars by the core
        if getattr(o, name):
            out[name] = check_name(getattr(o, name).strip(), f"options.{name}")
    for name in ("voice_a", "voice_b"):
        if getattr(o, name):
            check_voice_id(getattr(o, name), field=f"options.{name}")
            out[name] = getattr(o, name).strip()
    for name in ("identity_a", "identity_b"):
        if o.HasField(name):
            identity = getattr(o, name)
            for f, value in identity.ListFields():  # free text meant for the dialogue writer
                for text in [value] if isinstance(value, str) else value:
                    check_text(f"options.{name}.{f.name}", text)
            if identity.avatar_uri:
                raise Unimplemented(
                    f"options.{name}.avatar_uri: avatars by reference are not yet taken by "
                    "jobs; describe the speaker (appearance, age_band, gender_presentation)"
                )
            out[name] = MessageToDict(identity, preserving_proto_field_name=True)
            Identity.from_dict(out[name], f"options.{name}")  # what the worker will read
    return out


def input_from_pb(req: pb.SubmitJobRequest) -> JobInput:
    which = req.WhichOneof("input")
    if which is None:
        raise InvalidInput("input", "give a prompt or audio")
    if which == "fit_avatar":
        if req.HasField("options") and req.options.ByteSize():
            raise InvalidInput("options", "a fit job takes no options")
        if req.n > 1:
            raise InvalidInput("n", "a fit job makes exactly one avatar")
        f = req.fit_avatar
        if not f.video.uri:
            raise InvalidInput("fit_avatar.video.uri", "required")
        return JobInput(
            fit=FitInput(
                video=ArtifactRef.from_proto(f.video),
                name=f.name,
                iters=f.iters if f.HasField("iters") else None,
                size_px=f.size_px if f.HasField("size_px") else None,
            )
        )
    options = options_from_pb(req.options)
    n = req.n or 1
    if which == "prompt":
        return JobInput(prompt=req.prompt, n=n, options=options)
    audio: dict[str, ArtifactRef] = {}
    for slot in AUDIO_SLOTS:
        ref = getattr(req.audio, slot)
        if ref.uri:
            audio[slot] = ArtifactRef.from_proto(ref)
    if not audio:
        raise InvalidInput("audio", "give track_a and track_b, or stereo")
    return JobInput(audio=audio, n=n, options=options)


def avatar_to_pb(info: AvatarInfo, uri: str) -> pb.Avatar:
    return pb.Avatar(
        avatar_id=info.avatar_id,
        name=info.name,
        rig=info.rig,
        num_gaussians=info.num_gaussians,
        size_bytes=info.size_bytes,
        head=info.head,
        uri=uri,
        create_time=_timestamp(info.created_at),
    )


def _stage_status(job: JobRecord, fraction: float) -> Any:
    if fraction >= 1.0:
        return pb.JOB_STATUS_SUCCEEDED
    if job.status.terminal or job.status == JobStatus.RETRYING:
        return status_to_pb(job.status)
    return pb.JOB_STATUS_RUNNING if fraction > 0 else pb.JOB_STATUS_QUEUED


def ordered_stages(job: JobRecord) -> list[tuple[str, float]]:
    """Stages in the runner's declared order, then any others it reported."""
    names = list(job.stage_plan) + sorted(set(job.stages) - set(job.stage_plan))
    return [(n, job.stages.get(n, 0.0)) for n in names]


def job_to_pb(view: JobView) -> pb.Job:
    job = view.record
    msg = pb.Job(
        job_id=job.job_id,
        status=status_to_pb(job.status),
        priority=priority_to_pb(job.priority),
        progress=job.progress,
        attempts=job.attempts,
        team=job.team,
        cancel_requested=job.cancel_requested,
        create_time=_timestamp(job.created_at),
        update_time=_timestamp(job.updated_at),
    )
    for name, fraction in ordered_stages(job):
        msg.stages.add(stage=name, progress=fraction, status=_stage_status(job, fraction))
    if job.error:
        msg.error.code = str(job.error.get("code", ""))
        msg.error.message = str(job.error.get("message", ""))
        msg.error.error_id = str(job.error.get("error_id", ""))
    for name, ref in view.artifacts.items():
        msg.result.artifacts[name].CopyFrom(ref.to_proto())
        if name == "manifest":
            msg.result.manifest.CopyFrom(ref.to_proto())
        elif name == "video":
            msg.result.video.CopyFrom(ref.to_proto())
    for name, url in view.download_urls.items():
        msg.result.download_urls[name] = url
    avatar = (job.result or {}).get("avatar") if view.artifacts else None
    if isinstance(avatar, dict) and avatar.get("key"):  # a fit job's stored avatar
        info = AvatarInfo.from_dict(avatar)
        msg.result.avatar.CopyFrom(avatar_to_pb(info, str(avatar.get("uri", ""))))
    return msg


def event_to_pb(ev: JobEvent) -> pb.JobEvent:
    msg = pb.JobEvent(
        job_id=ev.job_id,
        status=status_to_pb(ev.status),
        progress=ev.progress,
        event=c.Event(time=_timestamp(ev.time), message=ev.message),
        event_id=ev.event_id,
    )
    if ev.stage:
        status = pb.JOB_STATUS_SUCCEEDED if ev.stage_progress >= 1.0 else status_to_pb(ev.status)
        msg.stage.CopyFrom(
            pb.StageProgress(stage=ev.stage, progress=ev.stage_progress, status=status)
        )
    return msg
