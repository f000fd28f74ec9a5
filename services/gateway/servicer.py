"""``JobService`` over gRPC: authenticate, validate, proto ↔ domain, call ``JobGateway``.

The team comes from the call's ``authorization: Bearer <token>`` metadata (``auth``). Redis and
S3 calls block, so they run in threads; WatchJob polls the job's event stream in short blocking
reads so a client that goes away frees its thread within ``DYAD_GATEWAY_WATCH_POLL_S``; on
shutdown (``drain``) open streams end with UNAVAILABLE after their current read.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from dyad.errors import DeadlineExceeded, InvalidInput, Unavailable
from dyad.services.gateway import protoconv as conv
from dyad.services.gateway.auth import Authenticator
from dyad.services.gateway.core import JobGateway
from dyad.v1 import job_service_pb2 as pb
from dyad.v1 import job_service_pb2_grpc as pb_grpc

MAX_IDEMPOTENCY_KEY_CHARS = 256


def _metadata(context: Any) -> Any:
    return context.invocation_metadata() if context is not None else None


def _job_id(value: str) -> str:
    if not value:
        raise InvalidInput("job_id", "required")
    return value


class JobServiceServicer(pb_grpc.JobServiceServicer):
    def __init__(self, gateway: JobGateway, auth: Authenticator) -> None:
        self.gateway, self.auth = gateway, auth
        self._draining = threading.Event()

    def drain(self) -> None:
        """The server is stopping (``DyadServer.stop``): open WatchJob streams end after their
        current poll with UNAVAILABLE, so clients resume elsewhere from their last event and
        the process need not wait out its grace period for them. Unary calls finish."""
        self._draining.set()

    def team(self, context: Any) -> str:
        return self.auth.authenticate(_metadata(context))

    async def SubmitJob(self, request: pb.SubmitJobRequest, context: Any) -> pb.SubmitJobResponse:
        team = self.team(context)
        if len(request.idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
            raise InvalidInput("idempotency_key", f"at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")
        if request.n < 0:
            raise InvalidInput("n", "must not be negative")
        job = conv.input_from_pb(request)
        priority = conv.priority_from_pb(request.priority)
        view, created = await asyncio.to_thread(
            self.gateway.submit,
            team,
            job,
            priority=priority,
            idempotency_key=request.idempotency_key,
        )
        return pb.SubmitJobResponse(job=conv.job_to_pb(view), created=created)

    async def GetJob(self, request: pb.GetJobRequest, context: Any) -> pb.GetJobResponse:
        team = self.team(context)
        view = await asyncio.to_thread(self.gateway.get, team, _job_id(request.job_id))
        return pb.GetJobResponse(job=conv.job_to_pb(view))

    async def CancelJob(self, request: pb.CancelJobRequest, context: Any) -> pb.CancelJobResponse:
        team = self.team(context)
        view = await asyncio.to_thread(self.gateway.cancel, team, _job_id(request.job_id))
        return pb.CancelJobResponse(job=conv.job_to_pb(view))

    async def ListJobs(self, request: pb.ListJobsRequest, context: Any) -> pb.ListJobsResponse:
        team = self.team(context)
        if request.page_size < 0:
            raise InvalidInput("page_size", "must not be negative")
        statuses = tuple(
            dict.fromkeys(conv.status_from_pb(v, "statuses") for v in request.statuses)
        )
        created_after = conv.seconds(request.created_after, "created_after") or 0.0
        created_before = conv.seconds(request.created_before, "created_before")
        views, token = await asyncio.to_thread(
            lambda: self.gateway.list(
                team,
                statuses=statuses,
                created_after=created_after,
                created_before=created_before,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        )
        return pb.ListJobsResponse(jobs=[conv.job_to_pb(v) for v in views], next_page_token=token)

    async def UploadAvatar(
        self, request: pb.UploadAvatarRequest, context: Any
    ) -> pb.UploadAvatarResponse:
        team = self.team(context)
        info, created = await asyncio.to_thread(
            self.gateway.upload_avatar,
            team,
            request.name,
            request.config_json,
            request.model_safetensors,
        )
        uri = self.gateway.store.uri(info.key)
        return pb.UploadAvatarResponse(avatar=conv.avatar_to_pb(info, uri), created=created)

    async def UploadVideo(
        self, request: pb.UploadVideoRequest, context: Any
    ) -> pb.UploadVideoResponse:
        team = self.team(context)
        ref, duration = await asyncio.to_thread(
            self.gateway.upload_video, team, request.data, request.content_type
        )
        return pb.UploadVideoResponse(video=ref.to_proto(), duration_s=duration)

    async def ListAvatars(
        self, request: pb.ListAvatarsRequest, context: Any
    ) -> pb.ListAvatarsResponse:
        team = self.team(context)
        infos = await asyncio.to_thread(self.gateway.list_avatars, team)
        store = self.gateway.store
        return pb.ListAvatarsResponse(
            avatars=[conv.avatar_to_pb(i, store.uri(i.key)) for i in infos]
        )

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: Any
    ) -> AsyncIterator[pb.JobEvent]:
        team = self.team(context)
        job_id = _job_id(request.job_id)
        after = request.after_event_id or "0"
        deadline = time.monotonic() + self.gateway.settings.watch_max_s
        while True:
            events, over = await asyncio.to_thread(self.gateway.poll_events, team, job_id, after)
            for ev in events:
                after = ev.event_id
                yield conv.event_to_pb(ev)
            if over:
                return
            if self._draining.is_set():
                raise Unavailable("the gateway is shutting down; resume with after_event_id")
            if time.monotonic() > deadline:
                raise DeadlineExceeded(
                    "watched for DYAD_GATEWAY_WATCH_MAX_S; resume with after_event_id"
                )
