"""``DyadClient``'s avatar calls: upload and list a team's avatars, fit one to a video."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dyad import errors
from dyad.client.models import PRIORITIES, Artifact, Avatar, Job, artifact_ref_pb
from dyad.v1 import job_service_pb2 as pb


class AvatarCalls:
    """Mixed into ``DyadClient`` (which provides ``_stub`` and ``_call``)."""

    _stub: Any
    _call: Callable[..., Any]  # (method, request, timeout=None) → the response

    def upload_avatar(self, directory: str | Path, name: str) -> Avatar:
        """Store the avatar directory (``config.json`` + ``model.safetensors``, as ``dyad avatar
        create`` writes it) as the team's avatar ``name``; the gateway checks the files first.
        Uploading under a taken name points the name at the new avatar."""
        d = Path(directory)
        files = {}
        for fld, filename in (
            ("config_json", "config.json"),
            ("model_safetensors", "model.safetensors"),
        ):
            path = d / filename
            if not path.is_file():
                raise errors.InvalidInput("directory", f"no {filename} in {d}")
            files[fld] = path.read_bytes()
        req = pb.UploadAvatarRequest(name=name, **files)
        resp = self._call(self._stub.UploadAvatar, req)
        return Avatar.from_pb(resp.avatar, created=resp.created)

    def upload_video(self, path: str | Path, content_type: str = "") -> Artifact:
        """Store a local video as the team's upload (checked by the gateway like a fit job's
        video; at most DYAD_GATEWAY_MAX_VIDEO_UPLOAD_BYTES); pass it to ``fit_avatar``."""
        p = Path(path)
        if not p.is_file():
            raise errors.InvalidInput("path", f"{p} is not a file")
        ctype = content_type or {".mp4": "video/mp4", ".mov": "video/quicktime"}.get(
            p.suffix.lower(), ""
        )
        req = pb.UploadVideoRequest(data=p.read_bytes(), content_type=ctype)
        v = self._call(self._stub.UploadVideo, req).video
        return Artifact(p.name, v.uri, v.sha256, int(v.size_bytes), v.content_type)

    def fit_avatar(
        self,
        video: Any,
        name: str,
        *,
        iters: int | None = None,
        size_px: int | None = None,
        priority: str = "normal",
        idempotency_key: str = "",
    ) -> Job:
        """Queue a fit-avatar job: ``video`` (a URI in the store — the team's
        ``uploads/<team>/…`` or a CAS blob —, an ArtifactRef, or what ``upload_video`` returned)
        of one person → the team's
        avatar ``name`` once the job succeeds (``Job.avatar``). Fit jobs run on the workers
        that take them (``DYAD_WORKER_JOB_KINDS``), e.g. a GPU group."""
        if priority not in PRIORITIES:
            raise errors.InvalidInput("priority", f"one of {list(PRIORITIES)}")
        req = pb.SubmitJobRequest(
            priority=pb.Priority.Value(f"PRIORITY_{priority.upper()}"),  # type: ignore[arg-type]
            idempotency_key=idempotency_key,
        )
        req.fit_avatar.name = name
        if isinstance(video, Artifact):
            video = {k: getattr(video, k) for k in ("uri", "sha256", "size_bytes", "content_type")}
        req.fit_avatar.video.CopyFrom(artifact_ref_pb(video, "fit_avatar.video"))
        if iters is not None:
            req.fit_avatar.iters = iters
        if size_px is not None:
            req.fit_avatar.size_px = size_px
        resp = self._call(self._stub.SubmitJob, req)
        return Job.from_pb(resp.job, created=resp.created)

    def list_avatars(self) -> list[Avatar]:
        """The team's avatars, by name."""
        resp = self._call(self._stub.ListAvatars, pb.ListAvatarsRequest())
        return [Avatar.from_pb(a) for a in resp.avatars]
