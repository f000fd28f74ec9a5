"""``RefinerService`` over gRPC: validate, proto ↔ domain, call core — nothing else."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from dyad.domain import Identity
from dyad.errors import InvalidInput
from dyad.protoconv import (
    check_clip_claims,
    feature_pair_from_pb,
    identity_from_pb,
    relation_from_pb,
    timeline_from_pb,
)
from dyad.rigs import get_rig
from dyad.services.refiner.core import RefinedPair, RefinerCore, Runner
from dyad.services.refiner.schedule import check_steps, check_strength
from dyad.storage import ArtifactRef
from dyad.timebase import FPS
from dyad.v1 import common_pb2 as c
from dyad.v1 import refiner_service_pb2 as pb
from dyad.v1 import refiner_service_pb2_grpc as pb_grpc

BLOCK_NAMES = {
    pb.REFINER_BLOCK_SFBG: "sfbg",
    pb.REFINER_BLOCK_RFBG: "rfbg",
    pb.REFINER_BLOCK_TCR: "tcr",
}


def parse_request(req: pb.RefineMotionRequest) -> dict[str, Any]:
    """Keyword arguments for ``RefinerCore.refine`` from a request (field-checked)."""
    refs = []
    for name in ("motion_a", "motion_b"):
        clip = getattr(req, name)
        check_clip_claims(clip, name)
        if not clip.artifact.uri:
            raise InvalidInput(f"{name}.artifact.uri", "required")
        if clip.rig:
            get_rig(clip.rig, field_name=f"{name}.rig")
        refs.append(ArtifactRef.from_proto(clip.artifact))
    a, b = req.motion_a, req.motion_b
    if a.rig and b.rig and a.rig != b.rig:
        raise InvalidInput("motion_b.rig", f"{b.rig}; motion_a is {a.rig}")
    if a.num_frames and b.num_frames and a.num_frames != b.num_frames:
        raise InvalidInput("motion_b.num_frames", f"{b.num_frames}; motion_a has {a.num_frames}")
    if not req.HasField("timeline") or req.timeline.duration_s <= 0:
        raise InvalidInput("timeline", "required, with duration_s > 0")
    kw: dict[str, Any] = {
        "motion_a": refs[0],
        "motion_b": refs[1],
        "model_id": req.model_id,
        "seed": req.seed if req.HasField("seed") else 0,
    }
    if req.HasField("num_steps"):
        kw["steps"] = check_steps(req.num_steps, "num_steps")
    if req.HasField("strength"):
        kw["strength"] = check_strength(req.strength, "strength")
    if req.HasField("guidance"):
        if not (math.isfinite(req.guidance) and 0.0 <= req.guidance <= 20.0):
            raise InvalidInput("guidance", f"{req.guidance} is outside [0, 20]")
        kw["guidance"] = float(req.guidance)
    blocks = []
    for i, blk in enumerate(req.blocks):
        if blk not in BLOCK_NAMES:
            raise InvalidInput(f"blocks[{i}]", f"unset or unknown block {blk}")
        blocks.append(BLOCK_NAMES[blk])
    kw["blocks"] = blocks
    kw["features"] = feature_pair_from_pb(req.features_a, req.features_b)
    speakers: dict[str, Identity] | None = None
    if req.identity_a.name and req.identity_b.name:
        speakers = {
            "a": identity_from_pb(req.identity_a, "identity_a"),
            "b": identity_from_pb(req.identity_b, "identity_b"),
        }
    kw["timeline"] = timeline_from_pb(
        req.timeline, relation=relation_from_pb(req.relation), speakers=speakers
    )
    return kw


def clip_pb(speaker: Any, pair: RefinedPair) -> c.MotionClip:
    rig = get_rig(pair.rig)
    motion, ref = (
        (pair.motion_a, pair.ref_a) if speaker == c.SPEAKER_A else (pair.motion_b, pair.ref_b)
    )
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


RunnerFactory = Callable[[str, asyncio.AbstractEventLoop], Runner]


class RefinerServicer(pb_grpc.RefinerServiceServicer):
    """``runner_for(model_id, loop)`` (the Ray deployment's) routes the denoising of windows
    through a batching queue; without it the core samples in this process."""

    def __init__(self, core: RefinerCore, runner_for: RunnerFactory | None = None) -> None:
        self.core = core
        self.runner_for = runner_for

    async def RefineMotion(
        self, request: pb.RefineMotionRequest, context: Any
    ) -> pb.RefineMotionResponse:
        kw = parse_request(request)
        if self.runner_for is not None:
            kw["runner"] = self.runner_for(kw["model_id"], asyncio.get_running_loop())
        pair = await asyncio.to_thread(lambda: self.core.refine(**kw))
        return pb.RefineMotionResponse(
            motion_a=clip_pb(c.SPEAKER_A, pair), motion_b=clip_pb(c.SPEAKER_B, pair)
        )
