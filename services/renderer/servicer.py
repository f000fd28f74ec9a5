"""``RendererService`` over gRPC: validate, proto ↔ domain, call core — nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dyad.domain import ENVIRONMENTS
from dyad.domain.limits import check_seed
from dyad.errors import InvalidInput
from dyad.protoconv import check_clip_claims, identity_from_pb, relation_from_pb
from dyad.services.renderer.core import RenderArgs, RendererCore
from dyad.services.renderer.layout import frame_size
from dyad.storage import ArtifactRef
from dyad.v1 import common_pb2 as c
from dyad.v1 import renderer_service_pb2 as pb
from dyad.v1 import renderer_service_pb2_grpc as pb_grpc

LAYOUTS = {
    c.LAYOUT_UNSPECIFIED: "",
    c.LAYOUT_SIDE_BY_SIDE: "side",
    c.LAYOUT_PICTURE_IN_PICTURE: "pip",
    c.LAYOUT_SINGLE: "single",
}


def _ref(msg: Any, field: str, *, required: bool) -> ArtifactRef | None:
    if not msg.uri:
        if required:
            raise InvalidInput(f"{field}.uri", "required")
        return None
    return ArtifactRef.from_proto(msg)


def parse_render(req: pb.RenderVideoRequest) -> RenderArgs:
    if req.layout not in LAYOUTS:
        raise InvalidInput("layout", f"unknown layout {req.layout}")
    layout = LAYOUTS[req.layout]
    head_px = req.head_size_px
    if head_px < 0:
        raise InvalidInput("head_size_px", "must not be negative")
    check_clip_claims(req.motion_a, "motion_a")
    check_clip_claims(req.motion_b, "motion_b")
    motion_a = _ref(req.motion_a.artifact, "motion_a.artifact", required=True)
    motion_b = _ref(req.motion_b.artifact, "motion_b.artifact", required=layout != "single")
    track_a = _ref(req.track_a, "track_a", required=False)
    track_b = _ref(req.track_b, "track_b", required=False)
    if (track_a is None) != (track_b is None):
        raise InvalidInput("track_b" if track_b is None else "track_a", "give both tracks or none")
    if req.per_speaker_videos and (track_a is None or motion_b is None):
        raise InvalidInput("per_speaker_videos", "needs motion_b and both tracks")
    identities = {
        s: identity_from_pb(m, f"identity_{s}")
        for s, m in (("a", req.identity_a), ("b", req.identity_b))
        if m.name or m.appearance
    }
    relation = relation_from_pb(req.relation)
    if req.sound_environment and req.sound_environment not in ENVIRONMENTS:
        raise InvalidInput(
            "sound_environment",
            f"{req.sound_environment!r} is not one of {', '.join(ENVIRONMENTS)} (or empty)",
        )
    assert motion_a is not None
    return RenderArgs(
        motion=(motion_a, motion_b),
        audio=_ref(req.audio, "audio", required=False),
        tracks=(track_a, track_b) if track_a is not None and track_b is not None else None,
        identities=identities,
        avatar_uris={s: u for s, u in (("a", req.avatar_a_uri), ("b", req.avatar_b_uri)) if u},
        layout=layout,
        head_px=head_px,
        per_speaker=req.per_speaker_videos,
        relation=(relation.blood, relation.equal) if relation else (False, True),
        environment=req.sound_environment,
    )


class RendererServicer(pb_grpc.RendererServiceServicer):
    def __init__(self, core: RendererCore) -> None:
        self.core = core

    async def RenderVideo(
        self, request: pb.RenderVideoRequest, context: Any
    ) -> pb.RenderVideoResponse:
        args = parse_render(request)
        out = await asyncio.to_thread(self.core.render_request, args)
        layout = args.layout or self.core.settings.layout
        height, width = frame_size(layout, args.head_px or self.core.settings.head_px)
        resp = pb.RenderVideoResponse(
            video=out["conversation"].to_proto(),
            num_frames=out["num_frames"],
            width=width,
            height=height,
        )
        if args.per_speaker:
            resp.speaker_a_video.CopyFrom(out["speaker_a"].to_proto())
            resp.speaker_b_video.CopyFrom(out["speaker_b"].to_proto())
        return resp

    async def StreamFrames(
        self, request: pb.RenderVideoRequest, context: Any
    ) -> AsyncIterator[pb.FrameChunk]:
        args = parse_render(request)
        chunks = await asyncio.to_thread(self.core.stream_request, args)
        while True:
            item = await asyncio.to_thread(next, chunks, None)
            if item is None:
                return
            start, pngs = item
            yield pb.FrameChunk(start_frame=start, png_frames=pngs)

    async def CreateAvatar(
        self, request: pb.CreateAvatarRequest, context: Any
    ) -> pb.CreateAvatarResponse:
        identity = identity_from_pb(request.identity, "identity") if request.identity.name else ""
        if not identity and request.identity.appearance:
            identity = ", ".join(request.identity.appearance)
        seed = check_seed(request.seed) if request.HasField("seed") else 0
        uri, preview = await asyncio.to_thread(
            self.core.create_avatar,
            identity,
            head_model=request.head_model or self.core.settings.head,
            seed=seed,
        )
        return pb.CreateAvatarResponse(avatar_uri=uri, preview_png=preview.to_proto())
