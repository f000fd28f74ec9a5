"""``ServedStages``: the stage protocol over gRPC — standalone servers or Ray Serve's ingress.

Artefacts stay in the shared store and only references travel (DESIGN §4). With one endpoint
(``DYAD_PIPELINE_ENDPOINT``, Ray Serve's gRPC proxy) each call carries the ``application``
metadata that routes it to that service's Serve application; per-service endpoints
(``DYAD_PIPELINE_<SERVICE>_ENDPOINT``) override it, for standalone servers. Errors come back as
``dyad.errors`` (status → error), so the orchestrator and the job record see the same error a
local call would raise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import grpc

from dyad.domain import Dialogue, Identity, Relation, StoredConversation
from dyad.errors import ConfigError
from dyad.protoconv import (
    conversation_from_pb,
    dialogue_from_pb,
    dialogue_to_pb,
    identity_to_pb,
    relation_to_pb,
    timeline_to_pb,
)
from dyad.rpc.client import error_from_rpc
from dyad.services.worker.stages import RenderedVideos
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.v1 import audio_encoder_service_pb2 as audio_pb
from dyad.v1 import audio_encoder_service_pb2_grpc as audio_grpc
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as dialogue_pb
from dyad.v1 import dialogue_service_pb2_grpc as dialogue_grpc
from dyad.v1 import motion_service_pb2 as motion_pb
from dyad.v1 import motion_service_pb2_grpc as motion_grpc
from dyad.v1 import refiner_service_pb2 as refiner_pb
from dyad.v1 import refiner_service_pb2_grpc as refiner_grpc
from dyad.v1 import renderer_service_pb2 as renderer_pb
from dyad.v1 import renderer_service_pb2_grpc as renderer_grpc

#: service → (stub class, Serve application name in deploy/ray/serve_config.yaml)
SERVICES = {
    "dialogue": (dialogue_grpc.DialogueServiceStub, "dialogue"),
    "audio": (audio_grpc.AudioEncoderServiceStub, "audio_encoder"),
    "motion": (motion_grpc.MotionServiceStub, "motion"),
    "refiner": (refiner_grpc.RefinerServiceStub, "refiner"),
    "renderer": (renderer_grpc.RendererServiceStub, "renderer"),
}
LAYOUTS = {"side": c.LAYOUT_SIDE_BY_SIDE, "pip": c.LAYOUT_PICTURE_IN_PICTURE,
           "single": c.LAYOUT_SINGLE}  # fmt: skip
_OPTIONS = [("grpc.max_send_message_length", 8 << 20), ("grpc.max_receive_message_length", 8 << 20)]


def _track(ref: ArtifactRef, speaker: Any) -> c.AudioTrack:
    return c.AudioTrack(speaker=speaker, artifact=ref.to_proto(), sample_rate_hz=16000,
                        num_channels=1)  # fmt: skip


class ServedStages:
    def __init__(
        self,
        store: ArtifactStore,
        endpoints: dict[str, str],
        *,
        timeout_s: float = 1800.0,
        route_by_application: bool = True,
    ) -> None:
        missing = sorted(set(SERVICES) - set(endpoints))
        if missing:
            raise ConfigError("DYAD_PIPELINE_ENDPOINT", f"no endpoint for {', '.join(missing)}")
        self.store = store
        self.timeout_s = timeout_s
        self._channels = {t: grpc.insecure_channel(t, options=_OPTIONS)
                          for t in set(endpoints.values())}  # fmt: skip
        self._stubs = {s: SERVICES[s][0](self._channels[endpoints[s]]) for s in SERVICES}
        self._metadata = {
            s: ((("application", SERVICES[s][1]),) if route_by_application else ())
            for s in SERVICES
        }

    @classmethod
    def from_env(cls, store: ArtifactStore) -> ServedStages:
        shared = os.environ.get("DYAD_PIPELINE_ENDPOINT", "")
        endpoints = {}
        for s in SERVICES:
            own = os.environ.get(f"DYAD_PIPELINE_{s.upper()}_ENDPOINT", "")
            if own or shared:
                endpoints[s] = own or shared
        timeout = float(os.environ.get("DYAD_PIPELINE_TIMEOUT_S", "1800"))
        return cls(store, endpoints, timeout_s=timeout, route_by_application=bool(shared))

    def _call(self, service: str, method: str, request: Any) -> Any:
        rpc: Callable[..., Any] = getattr(self._stubs[service], method)
        try:
            return rpc(request, timeout=self.timeout_s, metadata=self._metadata[service])
        except grpc.RpcError as e:
            raise error_from_rpc(e) from None

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()

    # --- the stage protocol ----------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        from dyad import __version__

        return {"dyad": __version__, "stages": "served"}

    def write(
        self, prompt: str, n: int, *, seed: int, relation: Relation | None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]:  # fmt: skip
        req = dialogue_pb.WriteDialoguesRequest(prompt=prompt, num_dialogues=n, seed=seed)
        if relation is not None:
            req.relation.CopyFrom(relation_to_pb(relation))
        if turns is not None:
            req.min_turns, req.max_turns = turns
        resp = self._call("dialogue", "WriteDialogues", req)
        return [dialogue_from_pb(d) for d in resp.dialogues]

    def speak(self, dialogue: Dialogue, *, seed: int) -> StoredConversation:
        req = dialogue_pb.SynthesizeConversationRequest(dialogue=dialogue_to_pb(dialogue),
                                                        seed=seed)  # fmt: skip
        return conversation_from_pb(
            self._call("dialogue", "SynthesizeConversation", req).conversation
        )

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation:
        if audio_b is None:
            req = dialogue_pb.SegmentConversationRequest(stereo=audio_a.to_proto())
        else:
            req = dialogue_pb.SegmentConversationRequest(
                tracks=dialogue_pb.TrackPair(track_a=audio_a.to_proto(), track_b=audio_b.to_proto())
            )
        return conversation_from_pb(self._call("dialogue", "SegmentConversation", req).conversation)

    def encode(self, tracks: list[ArtifactRef]) -> list[ArtifactRef]:
        req = audio_pb.EncodeAudioRequest(tracks=[_track(t, c.SPEAKER_UNSPECIFIED) for t in tracks])
        resp = self._call("audio", "EncodeAudio", req)
        return [ArtifactRef.from_proto(f.clip.artifact) for f in resp.features]

    def animate(
        self, conv: StoredConversation, *, backend: str, rig: str, seed: int
    ) -> tuple[ArtifactRef, ArtifactRef]:
        req = motion_pb.GenerateMotionRequest(
            track_a=_track(conv.track_a, c.SPEAKER_A), track_b=_track(conv.track_b, c.SPEAKER_B),
            timeline=timeline_to_pb(conv.timeline), relation=relation_to_pb(conv.timeline.relation),
            backend=backend, rig=rig, seed=seed,
        )  # fmt: skip
        resp = self._call("motion", "GenerateMotion", req)
        return (ArtifactRef.from_proto(resp.motion_a.artifact),
                ArtifactRef.from_proto(resp.motion_b.artifact))  # fmt: skip

    def refine(
        self, motion: tuple[ArtifactRef, ArtifactRef], conv: StoredConversation, *, steps: int,
        seed: int,
    ) -> tuple[ArtifactRef, ArtifactRef]:  # fmt: skip
        req = refiner_pb.RefineMotionRequest(
            motion_a=c.MotionClip(speaker=c.SPEAKER_A, artifact=motion[0].to_proto()),
            motion_b=c.MotionClip(speaker=c.SPEAKER_B, artifact=motion[1].to_proto()),
            timeline=timeline_to_pb(conv.timeline), num_steps=steps, seed=seed,
            track_a=_track(conv.track_a, c.SPEAKER_A), track_b=_track(conv.track_b, c.SPEAKER_B),
            relation=relation_to_pb(conv.timeline.relation),
        )  # fmt: skip
        resp = self._call("refiner", "RefineMotion", req)
        return (ArtifactRef.from_proto(resp.motion_a.artifact),
                ArtifactRef.from_proto(resp.motion_b.artifact))  # fmt: skip

    def render(
        self,
        motion: tuple[ArtifactRef, ArtifactRef],
        conv: StoredConversation,
        identities: tuple[Identity, Identity],
        *,
        layout: str,
        head_px: int,
        progress: Callable[[float], None] | None = None,
    ) -> RenderedVideos:
        req = renderer_pb.RenderVideoRequest(
            motion_a=c.MotionClip(speaker=c.SPEAKER_A, artifact=motion[0].to_proto()),
            motion_b=c.MotionClip(speaker=c.SPEAKER_B, artifact=motion[1].to_proto()),
            track_a=conv.track_a.to_proto(), track_b=conv.track_b.to_proto(),
            identity_a=identity_to_pb(identities[0]), identity_b=identity_to_pb(identities[1]),
            layout=LAYOUTS[layout], head_size_px=head_px, per_speaker_videos=True,
            relation=relation_to_pb(conv.timeline.relation),
        )  # fmt: skip
        if conv.mix is not None:
            req.audio.CopyFrom(conv.mix.to_proto())
        resp = self._call("renderer", "RenderVideo", req)
        return RenderedVideos(
            ArtifactRef.from_proto(resp.video), ArtifactRef.from_proto(resp.speaker_a_video),
            ArtifactRef.from_proto(resp.speaker_b_video), resp.num_frames,
        )  # fmt: skip
