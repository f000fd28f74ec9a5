"""``ServedStages``: the stage protocol over gRPC — standalone servers or Ray Serve's ingress.

Artefacts stay in the shared store and only references travel (DESIGN §4). With one endpoint
(``DYAD_PIPELINE_ENDPOINT``, Ray Serve's gRPC proxy) each call carries the ``application``
metadata that routes it to that service's Serve application; per-service endpoints
(``DYAD_PIPELINE_<SERVICE>_ENDPOINT``) override it, for standalone servers. Errors come back as
``dyad.errors`` (status → error), so the orchestrator and the job record see the same error a
local call would raise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc

from dyad import __version__
from dyad.domain import Dialogue, Identity, Relation, StoredConversation, StoredFeatures
from dyad.errors import ConfigError, DyadError, ResourceExhausted, Unavailable
from dyad.observability import stage_metrics
from dyad.protoconv import (
    conversation_from_pb,
    dialogue_from_pb,
    dialogue_to_pb,
    features_from_pb,
    features_to_pb,
    identity_to_pb,
    relation_to_pb,
    timeline_to_pb,
    track_to_pb,
)
from dyad.rpc.client import error_from_rpc
from dyad.rpc.tls import sync_channel
from dyad.services.worker.pipeline.settings import SERVICES, PipelineSettings
from dyad.services.worker.pipeline.stages import (
    FeaturePair,
    MotionPair,
    RenderedVideos,
    render_environment,
)
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
STUBS = {
    "dialogue": (dialogue_grpc.DialogueServiceStub, "dialogue"),
    "audio": (audio_grpc.AudioEncoderServiceStub, "audio_encoder"),
    "motion": (motion_grpc.MotionServiceStub, "motion"),
    "refiner": (refiner_grpc.RefinerServiceStub, "refiner"),
    "renderer": (renderer_grpc.RendererServiceStub, "renderer"),
}
LAYOUTS = {
    "side": c.LAYOUT_SIDE_BY_SIDE,
    "pip": c.LAYOUT_PICTURE_IN_PICTURE,
    "single": c.LAYOUT_SINGLE,
}
# round_robin: behind a headless Service a name resolves to every replica; spread calls over them
_OPTIONS = [
    ("grpc.max_send_message_length", 8 << 20),
    ("grpc.max_receive_message_length", 8 << 20),
    ("grpc.lb_policy_name", "round_robin"),
]
assert set(STUBS) == set(SERVICES)
log = logging.getLogger("dyad.pipeline")


#: How Ray Serve's gRPC proxy reports a replica that died under a call (its actor killed, its
#: process or node lost): INTERNAL, with Ray's exception text (actor id, pid, address) as the
#: details. Serve starts a replacement, so for the caller the service is briefly unavailable.
_REPLICA_LOST = (
    "The actor died unexpectedly",
    "The actor is dead",
    "ActorDiedError",
    "ActorUnavailableError",
    "RayActorError",
)


def stage_error(exc: grpc.RpcError) -> DyadError:
    """``error_from_rpc``, except for two ways a server going away shows up, both
    ``Unavailable`` (retryable): a Serve replica lost mid-call (Ray's text, which names hosts
    and pids, is not passed on), and CANCELLED — a stage call is never cancelled by the worker
    (it blocks until it ends), so CANCELLED is a server or proxy cancelling it while shutting
    down; as ``Cancelled`` it would mark the user's job cancelled."""
    err = error_from_rpc(exc)
    if err.code == "INTERNAL" and any(s in err.message for s in _REPLICA_LOST):
        return Unavailable("the replica serving the call died; Serve is replacing it")
    if err.code == "CANCELLED":
        return Unavailable(f"the server cancelled the call (shutting down?): {err.message}")
    return err


def _clip(ref: ArtifactRef, speaker: Any) -> c.MotionClip:
    return c.MotionClip(speaker=speaker, artifact=ref.to_proto())


def _pair(resp: Any) -> MotionPair:
    return ArtifactRef.from_proto(resp.motion_a.artifact), ArtifactRef.from_proto(
        resp.motion_b.artifact
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a call that failed ``UNAVAILABLE`` or ``RESOURCE_EXHAUSTED``: at most
    ``retries`` more attempts, waiting ``base · 2^(attempt-1)`` seconds (capped at ``max_s``),
    all within the one deadline the caller gives; any other error is raised at once."""

    retries: int = 4
    base_s: float = 0.5
    max_s: float = 15.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.base_s * 2 ** (attempt - 1)))

    def run(
        self,
        attempt: Callable[[float], Any],
        deadline_s: float,
        *,
        what: str = "call",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Any:
        end = clock() + deadline_s
        tries = 0
        while True:
            try:
                return attempt(max(0.001, end - clock()))
            except (Unavailable, ResourceExhausted) as e:
                tries += 1
                wait = self.delay(tries)
                if tries > self.retries or clock() + wait >= end:
                    raise
                stage_metrics().retries.labels(what.split(".", 1)[0], e.code).inc()
                log.warning("%s failed %s (%s); retry %d in %.1f s", what, e.code, e, tries, wait)
                sleep(wait)


class ServedStages:
    mode = "served"

    def __init__(
        self,
        store: ArtifactStore,
        endpoints: dict[str, str],
        *,
        timeout_s: float = 1800.0,
        route_by_application: bool = True,
        retry: RetryPolicy | None = None,
    ) -> None:
        missing = sorted(set(STUBS) - set(endpoints))
        if missing:
            raise ConfigError("DYAD_PIPELINE_ENDPOINT", f"no endpoint for {', '.join(missing)}")
        self.store = store
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        stage_metrics().prepare_retries(sorted(STUBS))
        targets = set(endpoints.values())
        self._channels = {t: sync_channel(t, options=_OPTIONS) for t in targets}  # TLS: env
        self._stubs = {s: STUBS[s][0](self._channels[endpoints[s]]) for s in STUBS}
        self._metadata = {
            s: ((("application", STUBS[s][1]),) if route_by_application else ()) for s in STUBS
        }

    @classmethod
    def from_settings(cls, store: ArtifactStore, settings: PipelineSettings) -> ServedStages:
        """Per-service endpoints are standalone servers; the shared one is Serve's proxy, so
        its calls carry the ``application`` metadata."""
        endpoints = {s: settings.endpoint_of(s) for s in SERVICES if settings.endpoint_of(s)}
        return cls(
            store,
            endpoints,
            timeout_s=settings.timeout_s,
            route_by_application=bool(settings.endpoint),
            retry=RetryPolicy(settings.retries, settings.backoff_base_s, settings.backoff_max_s),
        )

    @classmethod
    def from_env(cls, store: ArtifactStore) -> ServedStages:
        return cls.from_settings(store, PipelineSettings.from_env())

    def _call(self, service: str, method: str, request: Any) -> Any:
        """One stage call under one deadline (``timeout_s``), retried with backoff while the
        service is unavailable or overloaded (a replica starting, Serve's queue full)."""
        rpc: Callable[..., Any] = getattr(self._stubs[service], method)

        def attempt(timeout_s: float) -> Any:
            try:
                return rpc(request, timeout=timeout_s, metadata=self._metadata[service])
            except grpc.RpcError as e:
                raise stage_error(e) from None

        return self.retry.run(attempt, self.timeout_s, what=f"{service}.{method}")

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()

    # --- the stage protocol ----------------------------------------------------------------
    def versions(self) -> dict[str, str]:
        return {"dyad": __version__, "stages": "served"}

    def write(
        self,
        prompt: str,
        n: int,
        *,
        seed: int,
        relation: Relation | None,
        turns: tuple[int, int] | None = None,
    ) -> list[Dialogue]:
        req = dialogue_pb.WriteDialoguesRequest(prompt=prompt, num_dialogues=n, seed=seed)
        if relation is not None:
            req.relation.CopyFrom(relation_to_pb(relation))
        if turns is not None:
            req.min_turns, req.max_turns = turns
        resp = self._call("dialogue", "WriteDialogues", req)
        return [dialogue_from_pb(d) for d in resp.dialogues]

    def speak(
        self, dialogue: Dialogue, *, seed: int, voices: Mapping[str, str] | None = None
    ) -> StoredConversation:
        voices = voices or {}
        req = dialogue_pb.SynthesizeConversationRequest(
            dialogue=dialogue_to_pb(dialogue),
            seed=seed,
            voice_a=voices.get("a", ""),
            voice_b=voices.get("b", ""),
        )
        resp = self._call("dialogue", "SynthesizeConversation", req)
        return conversation_from_pb(resp.conversation)

    def segment(self, audio_a: ArtifactRef, audio_b: ArtifactRef | None) -> StoredConversation:
        if audio_b is None:
            req = dialogue_pb.SegmentConversationRequest(stereo=audio_a.to_proto())
        else:
            pair = dialogue_pb.TrackPair(track_a=audio_a.to_proto(), track_b=audio_b.to_proto())
            req = dialogue_pb.SegmentConversationRequest(tracks=pair)
        return conversation_from_pb(self._call("dialogue", "SegmentConversation", req).conversation)

    def encode(self, tracks: list[ArtifactRef]) -> list[StoredFeatures]:
        req = audio_pb.EncodeAudioRequest(
            tracks=[track_to_pb(t, c.SPEAKER_UNSPECIFIED) for t in tracks]
        )
        resp = self._call("audio", "EncodeAudio", req)
        out = [features_from_pb(f.clip, f"features[{i}]") for i, f in enumerate(resp.features)]
        return [f for f in out if f is not None]

    def animate(
        self,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        backend: str,
        rig: str,
        seed: int,
    ) -> MotionPair:
        req = motion_pb.GenerateMotionRequest(
            track_a=track_to_pb(conv.track_a, c.SPEAKER_A),
            track_b=track_to_pb(conv.track_b, c.SPEAKER_B),
            features_a=features_to_pb(features[0], c.SPEAKER_A),
            features_b=features_to_pb(features[1], c.SPEAKER_B),
            timeline=timeline_to_pb(conv.timeline),
            relation=relation_to_pb(conv.timeline.relation),
            backend=backend,
            rig=rig,
            seed=seed,
        )
        return _pair(self._call("motion", "GenerateMotion", req))

    def refine(
        self,
        motion: MotionPair,
        conv: StoredConversation,
        features: FeaturePair,
        *,
        steps: int,
        seed: int,
    ) -> MotionPair:
        req = refiner_pb.RefineMotionRequest(
            motion_a=_clip(motion[0], c.SPEAKER_A),
            motion_b=_clip(motion[1], c.SPEAKER_B),
            timeline=timeline_to_pb(conv.timeline),
            num_steps=steps,
            seed=seed,
            features_a=features_to_pb(features[0], c.SPEAKER_A),
            features_b=features_to_pb(features[1], c.SPEAKER_B),
            relation=relation_to_pb(conv.timeline.relation),
        )
        return _pair(self._call("refiner", "RefineMotion", req))

    def render(
        self,
        motion: MotionPair,
        conv: StoredConversation,
        identities: tuple[Identity, Identity],
        *,
        layout: str,
        head_px: int,
        per_speaker: bool = True,
        progress: Callable[[float], None] | None = None,
        avatars: Mapping[str, str] | None = None,
    ) -> RenderedVideos:
        avatars = avatars or {}
        req = renderer_pb.RenderVideoRequest(
            motion_a=_clip(motion[0], c.SPEAKER_A),
            motion_b=_clip(motion[1], c.SPEAKER_B),
            track_a=conv.track_a.to_proto(),
            track_b=conv.track_b.to_proto(),
            identity_a=identity_to_pb(identities[0]),
            identity_b=identity_to_pb(identities[1]),
            layout=LAYOUTS[layout],
            head_size_px=head_px,
            per_speaker_videos=per_speaker,
            relation=relation_to_pb(conv.timeline.relation),
            sound_environment=render_environment(conv.timeline),
            avatar_a_uri=avatars.get("a", ""),
            avatar_b_uri=avatars.get("b", ""),
        )
        if conv.mix is not None:
            req.audio.CopyFrom(conv.mix.to_proto())
        resp = self._call("renderer", "RenderVideo", req)
        singles = [  # what the renderer made: none unless asked for
            ArtifactRef.from_proto(r) if r.uri else None
            for r in (resp.speaker_a_video, resp.speaker_b_video)
        ]
        return RenderedVideos(ArtifactRef.from_proto(resp.video), *singles, resp.num_frames)
