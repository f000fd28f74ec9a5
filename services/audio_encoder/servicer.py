"""``AudioEncoderService`` over gRPC: validate, proto ↔ domain, call core — nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

from dyad.errors import InvalidInput
from dyad.protoconv import check_clip_claims
from dyad.services.audio_encoder.core import EncodedFeatures, FeatureService
from dyad.services.audio_encoder.settings import BACKENDS
from dyad.storage import ArtifactRef
from dyad.v1 import audio_encoder_service_pb2 as pb
from dyad.v1 import audio_encoder_service_pb2_grpc as pb_grpc
from dyad.v1 import common_pb2

#: One call's parsed request: (artefacts, backend, fps, field names).
Call = tuple[list[ArtifactRef], str, int, list[str]]


def parse_request(req: pb.EncodeAudioRequest) -> Call:
    """Check the request's fields; return (artefacts, backend, fps, field names)."""
    if not req.tracks:
        raise InvalidInput("tracks", "at least one track is required")
    if req.backend and req.backend not in BACKENDS:
        raise InvalidInput(
            "backend", f"unknown backend {req.backend!r}; expected one of {list(BACKENDS)}"
        )
    if req.model_id:
        raise InvalidInput(
            "model_id", "not supported yet: a deployment serves one wav2vec2 (DYAD_AUDIO_MODEL_DIR)"
        )
    refs, fields = [], []
    for i, track in enumerate(req.tracks):
        field = f"tracks[{i}]"
        check_clip_claims(track, field)
        if not track.artifact.uri:
            raise InvalidInput(f"{field}.artifact.uri", "required")
        sha = track.artifact.sha256
        if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise InvalidInput(f"{field}.artifact.sha256", "64 lower-case hex digits, or empty")
        refs.append(ArtifactRef.from_proto(track.artifact))
        fields.append(field)
    return refs, req.backend, req.fps or 25, fields


def to_response(
    req: pb.EncodeAudioRequest, results: list[EncodedFeatures]
) -> pb.EncodeAudioResponse:
    out = pb.EncodeAudioResponse()
    for track, r in zip(req.tracks, results, strict=True):
        clip = common_pb2.FeatureClip(
            speaker=track.speaker,
            backend=r.backend,
            fps=r.fps,
            num_frames=r.num_frames,
            dim=r.dim,
            artifact=r.artifact.to_proto(),
        )
        out.features.append(pb.EncodedTrack(clip=clip, cache_hit=r.cache_hit))
    return out


def merged_encode(service: FeatureService, calls: list[Call]) -> list[list[EncodedFeatures]]:
    """Calls sharing (backend, fps) encoded in one pass; each call's results, in order."""
    _, backend, fps, _ = calls[0]
    refs = [r for call in calls for r in call[0]]
    fields = [f for call in calls for f in call[3]]
    merged = service.encode_artifacts(refs, backend=backend, fps=fps, fields=fields)
    out, pos = [], 0
    for call in calls:
        out.append(merged[pos : pos + len(call[0])])
        pos += len(call[0])
    return out


class AudioEncoderServicer(pb_grpc.AudioEncoderServiceServicer):
    def __init__(self, service: FeatureService) -> None:
        self.service = service

    async def EncodeAudio(
        self, request: pb.EncodeAudioRequest, context: Any
    ) -> pb.EncodeAudioResponse:
        refs, backend, fps, fields = parse_request(request)
        # Encoding is CPU/GPU-bound: keep the event loop free for health checks and other calls.
        results = await asyncio.to_thread(
            self.service.encode_artifacts, refs, backend=backend, fps=fps, fields=fields
        )
        return to_response(request, results)
