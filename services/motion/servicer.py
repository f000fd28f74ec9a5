"""``MotionService`` over gRPC: validate, proto ↔ domain, call core — nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from dyad.errors import InvalidInput
from dyad.protoconv import (
    feature_pair_from_pb,
    identity_from_pb,
    relation_from_pb,
    timeline_from_pb,
)
from dyad.rigs import get_rig
from dyad.services.motion.core import AnimatedPair, MotionCore
from dyad.storage import ArtifactRef
from dyad.timebase import FPS
from dyad.v1 import common_pb2 as c
from dyad.v1 import motion_service_pb2 as pb
from dyad.v1 import motion_service_pb2_grpc as pb_grpc


def parse_request(req: pb.GenerateMotionRequest) -> dict[str, Any]:
    """Keyword arguments for ``MotionCore.animate`` from a request (field-checked)."""
    refs = []
    for name in ("track_a", "track_b"):
        track = getattr(req, name)
        if not track.artifact.uri:
            raise InvalidInput(f"{name}.artifact.uri", "required")
        refs.append(ArtifactRef.from_proto(track.artifact))
    if not req.HasField("timeline") or req.timeline.duration_s <= 0:
        raise InvalidInput("timeline", "required, with duration_s > 0")
    speakers = {
        "a": identity_from_pb(req.identity_a, "identity_a") if req.identity_a.name else None,
        "b": identity_from_pb(req.identity_b, "identity_b") if req.identity_b.name else None,
    }
    timeline = timeline_from_pb(
        req.timeline,
        relation=relation_from_pb(req.relation),
        speakers={k: v for k, v in speakers.items() if v} if all(speakers.values()) else None,
    )
    return {
        "track_a": refs[0],
        "track_b": refs[1],
        "features": feature_pair_from_pb(req.features_a, req.features_b),
        "timeline": timeline,
        "backend": req.backend,
        "rig": req.rig,
        "seed": req.seed if req.HasField("seed") else 0,
        "model_id": req.model_id,
    }


def clip_pb(speaker: Any, pair: AnimatedPair, ref: ArtifactRef | None) -> c.MotionClip:
    rig = get_rig(pair.rig)
    motion = pair.motion_a if speaker == c.SPEAKER_A else pair.motion_b
    clip = c.MotionClip(
        speaker=speaker,
        rig=rig.name,
        channel_names=list(rig.channels),
        fps=FPS,
        num_frames=int(motion.shape[0]),
    )
    if ref is not None:
        clip.artifact.CopyFrom(ref.to_proto())
    return clip


class MotionServicer(pb_grpc.MotionServiceServicer):
    def __init__(self, core: MotionCore) -> None:
        self.core = core

    async def GenerateMotion(
        self, request: pb.GenerateMotionRequest, context: Any
    ) -> pb.GenerateMotionResponse:
        pair = await asyncio.to_thread(lambda: self.core.animate(**parse_request(request)))
        return pb.GenerateMotionResponse(
            motion_a=clip_pb(c.SPEAKER_A, pair, pair.ref_a),
            motion_b=clip_pb(c.SPEAKER_B, pair, pair.ref_b),
        )

    async def StreamMotion(
        self, request: pb.GenerateMotionRequest, context: Any
    ) -> AsyncIterator[pb.MotionChunk]:
        pair = await asyncio.to_thread(lambda: self.core.animate(**parse_request(request)))
        step = self.core.settings.stream_chunk_frames
        for start in range(0, pair.motion_a.shape[0], step):
            a, b = pair.motion_a[start : start + step], pair.motion_b[start : start + step]
            chunk = pb.MotionChunk(
                start_frame=start,
                num_frames=a.shape[0],
                values_a=a.ravel().tolist(),
                values_b=b.ravel().tolist(),
            )
            if start == 0:
                chunk.channel_names.extend(get_rig(pair.rig).channels)
            yield chunk
