"""The orchestrator: prompt (or two recorded tracks) → dialogue → speech → features → motion →
refinement → video, composed over the stage protocol (``stages.py``).

Every stage's result is remembered under a key hashed from its inputs and the code/model
versions (``cache/stages/<stage>/<sha256>.json`` in the artefact store), and every output is a
content-addressed artefact, so a rerun — or a job redelivered after a worker died — skips
the stages that already finished and produces byte-identical references. The audio features
are computed once and handed to the motion and refinement stages.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dyad.domain import Dialogue, StoredConversation, StoredFeatures, Timeline
from dyad.observability import observe_stage, prepare_stages
from dyad.services.worker.pipeline.options import GenerateOptions
from dyad.services.worker.pipeline.stages import (
    FeaturePair,
    MotionPair,
    RenderedVideos,
    Stages,
    render_environment,
)
from dyad.storage import ArtifactRef, ArtifactStore

PROMPT_STAGES = ("dialogue", "speech", "features", "motion", "refine", "render")
AUDIO_STAGES = ("segment", "features", "motion", "refine", "render")
#: The backends a job may choose per stage (the metrics' ``backend`` label; ``default``: the
#: service's own setting decides).
STAGE_BACKENDS = {s: ("default",) for s in PROMPT_STAGES + AUDIO_STAGES} | {
    "motion": ("procedural", "neural")
}
T = TypeVar("T")
#: Bumped when what a stage-cache entry holds changes, so old entries are never misread.
CACHE_FORMAT = 2


class Reporter(Protocol):
    def stage(self, name: str, fraction: float, message: str = "") -> None: ...
    def check_cancelled(self) -> None: ...


class NullReporter:
    def stage(self, name: str, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


@dataclass
class StageLog:
    """How one conversation's stages went: seconds each, where each ran (``embedded``,
    ``served`` or ``cached``) and which were skipped because their result was cached."""

    timings_s: dict[str, float] = field(default_factory=dict)
    ran: dict[str, str] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DialogueOutput:
    """Everything one conversation produced, by output file name: the three videos, both
    tracks and the mix, ``timeline.json``, ``motion_{a,b}.npz``, ``features_{a,b}.npy`` and,
    for a written dialogue, ``dialogue.json``."""

    dialogue_id: str
    dialogue: Dialogue | None
    timeline: Timeline
    artifacts: dict[str, ArtifactRef]
    log: StageLog

    @property
    def timings_s(self) -> dict[str, float]:
        return self.log.timings_s

    @property
    def cached(self) -> list[str]:
        return self.log.cached


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _pair_to_json(pair: MotionPair) -> list[dict[str, Any]]:
    return [pair[0].to_dict(), pair[1].to_dict()]


def _pair_from_json(raw: list[dict[str, Any]]) -> MotionPair:
    return ArtifactRef.from_dict(raw[0]), ArtifactRef.from_dict(raw[1])


def _features_to_json(pair: FeaturePair) -> list[dict[str, Any]]:
    return [pair[0].to_dict(), pair[1].to_dict()]


def _features_from_json(raw: list[dict[str, Any]]) -> FeaturePair:
    return StoredFeatures.from_dict(raw[0]), StoredFeatures.from_dict(raw[1])


class Orchestrator:
    def __init__(self, stages: Stages) -> None:
        self.stages = stages
        self.store = stages.store
        self.versions = stages.versions()
        self.last_hit = False  # whether the last stage came from the cache
        prepare_stages(STAGE_BACKENDS, getattr(stages, "mode", "embedded"))

    # --- the stage cache ------------------------------------------------------------------
    def _cached(
        self,
        stage: str,
        inputs: dict[str, Any],
        compute: Callable[[], T],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        log: StageLog | None = None,
    ) -> T:
        digest = _digest({"inputs": inputs, "versions": self.versions, "format": CACHE_FORMAT})
        key = f"cache/stages/{stage}/{digest}.json"
        t0 = time.perf_counter()
        self.last_hit = self.store.exists(key)
        if self.last_hit:
            value = decode(json.loads(self.store.get_bytes(key)))
        else:
            value = compute()
            self.store.put_named(key, json.dumps(encode(value)).encode(), "application/json")
        seconds, mode = time.perf_counter() - t0, getattr(self.stages, "mode", "embedded")
        backend = str(inputs.get("backend", "default"))
        observe_stage(stage, "cached" if self.last_hit else mode, seconds, backend)
        if log is not None:
            self._record(log, stage, seconds, self.last_hit)
        return value

    def _record(self, log: StageLog, stage: str, seconds: float, hit: bool) -> None:
        log.timings_s[stage] = round(seconds, 4)
        log.ran[stage] = "cached" if hit else getattr(self.stages, "mode", "embedded")
        if hit:
            log.cached.append(stage)

    # --- entry points ---------------------------------------------------------------------
    def generate(
        self, prompt: str, opts: GenerateOptions, report: Reporter | None = None
    ) -> list[DialogueOutput]:
        """``opts.n`` conversations from one prompt, one after another (first result first)."""
        report = report or NullReporter()
        opts.validate()
        report.stage("dialogue", 0.0, "writing")
        t0 = time.perf_counter()
        inputs = {
            "prompt": prompt,
            "n": opts.n,
            "seed": opts.seed,
            "turns": opts.turns,
            "relation": opts.relation.to_dict() if opts.relation else None,
        }
        dialogues = self._cached(
            "dialogue",
            inputs,
            lambda: self.stages.write(
                prompt, opts.n, seed=opts.seed, relation=opts.relation, turns=opts.turns
            ),
            lambda ds: [d.to_dict() for d in ds],
            lambda raw: [Dialogue.from_dict(d) for d in raw],
        )
        write_s, write_hit = time.perf_counter() - t0, self.last_hit
        report.stage("dialogue", 1.0, f"{len(dialogues)} written")
        results = []
        for i, dialogue in enumerate(dialogues):
            report.check_cancelled()
            log = StageLog()
            self._record(log, "dialogue", write_s, write_hit)
            conv = self._cached(
                "speech",
                {"dialogue": dialogue.to_dict(), "seed": opts.seed + i, "voices": opts.voices},
                lambda d=dialogue, s=opts.seed + i: self.stages.speak(  # type: ignore[misc]
                    d, seed=s, voices=opts.voices
                ),
                StoredConversation.to_dict,
                StoredConversation.from_dict,
                log,
            )
            report.stage("speech", (i + 1) / len(dialogues))
            results.append(
                self._animate_and_render(
                    dialogue.dialogue_id, conv, opts, report, log, i, len(dialogues)
                )
            )
        return results

    def animate(
        self,
        audio_a: ArtifactRef,
        audio_b: ArtifactRef | None,
        opts: GenerateOptions,
        report: Reporter | None = None,
    ) -> DialogueOutput:
        """A recorded conversation (two tracks, or one stereo file) → motion and video."""
        report = report or NullReporter()
        opts.validate()
        key = {"a": audio_a.sha256, "b": audio_b.sha256 if audio_b else None}
        log = StageLog()
        conv = self._cached(
            "segment",
            key,
            lambda: self.stages.segment(audio_a, audio_b),
            StoredConversation.to_dict,
            StoredConversation.from_dict,
            log,
        )
        report.stage("segment", 1.0)
        return self._animate_and_render(
            f"audio-{audio_a.sha256[:12]}", conv, opts, report, log, 0, 1
        )

    def _animate_and_render(
        self,
        dialogue_id: str,
        conv: StoredConversation,
        opts: GenerateOptions,
        report: Reporter,
        log: StageLog,
        i: int,
        n: int,
    ) -> DialogueOutput:
        seed = opts.seed + i
        tracks = {"a": conv.track_a.sha256, "b": conv.track_b.sha256}
        done = (i + 1) / n
        report.check_cancelled()
        features = self._cached(
            "features",
            tracks,
            lambda: _two(self.stages.encode([conv.track_a, conv.track_b])),
            _features_to_json,
            _features_from_json,
            log,
        )
        report.stage("features", done)
        report.check_cancelled()
        feature_shas = [f.artifact.sha256 for f in features]
        motion = self._cached(
            "motion",
            {
                **tracks,
                "features": feature_shas,
                "timeline": conv.timeline.to_dict(),
                "backend": opts.motion_backend,
                "rig": opts.rig,
                "seed": seed,
            },
            lambda: self.stages.animate(
                conv, features, backend=opts.motion_backend, rig=opts.rig, seed=seed
            ),
            _pair_to_json,
            _pair_from_json,
            log,
        )
        report.stage("motion", done)
        if opts.refine:
            report.check_cancelled()
            first = motion
            motion = self._cached(
                "refine",
                {
                    "motion": [m.sha256 for m in first],
                    "features": feature_shas,
                    "timeline": conv.timeline.to_dict(),
                    "steps": opts.refine_steps,
                    "seed": seed,
                },
                lambda: self.stages.refine(
                    first, conv, features, steps=opts.refine_steps, seed=seed
                ),
                _pair_to_json,
                _pair_from_json,
                log,
            )
        report.stage("refine", done, "" if opts.refine else "skipped")
        report.check_cancelled()
        videos = self._render(conv, motion, opts, report, log, i, n)
        report.stage("render", done)
        artifacts = self._artifacts(conv, motion, videos)
        artifacts["features_a.npy"] = features[0].artifact
        artifacts["features_b.npy"] = features[1].artifact
        return DialogueOutput(dialogue_id, conv.dialogue, conv.timeline, artifacts, log)

    def _render(
        self,
        conv: StoredConversation,
        motion: MotionPair,
        opts: GenerateOptions,
        report: Reporter,
        log: StageLog,
        i: int,
        n: int,
    ) -> RenderedVideos:
        speakers = conv.timeline.speakers
        identities = (
            opts.identities.get("a", speakers["a"]),
            opts.identities.get("b", speakers["b"]),
        )
        inputs = {
            "motion": [m.sha256 for m in motion],
            "tracks": {"a": conv.track_a.sha256, "b": conv.track_b.sha256},
            "mix": conv.mix.sha256 if conv.mix else None,
            "layout": opts.layout,
            "head_px": opts.head_px,
            "identities": [x.to_dict() for x in identities],
            "environment": render_environment(conv.timeline),
        }
        if not opts.per_speaker_videos:  # only then: the cache keys of earlier renders hold
            inputs["per_speaker_videos"] = False
        if opts.avatars:  # content-addressed keys (the avatar's id is its files' hash)
            inputs["avatars"] = dict(opts.avatars)
        return self._cached(
            "render",
            inputs,
            lambda: self.stages.render(
                motion,
                conv,
                identities,
                layout=opts.layout,
                head_px=opts.head_px,
                per_speaker=opts.per_speaker_videos,
                progress=lambda f: report.stage("render", (i + f) / n),
                avatars=opts.avatars,
            ),
            RenderedVideos.to_dict,
            RenderedVideos.from_dict,
            log,
        )

    def _artifacts(
        self, conv: StoredConversation, motion: MotionPair, videos: RenderedVideos
    ) -> dict[str, ArtifactRef]:
        put_json = self._put_json
        arts = {
            "conversation.mp4": videos.conversation,
            "speaker_a.wav": conv.track_a,
            "speaker_b.wav": conv.track_b,
            "timeline.json": put_json(conv.timeline.to_dict()),
            "motion_a.npz": motion[0],
            "motion_b.npz": motion[1],
        }
        if videos.speaker_a is not None and videos.speaker_b is not None:
            arts["speaker_a.mp4"], arts["speaker_b.mp4"] = videos.speaker_a, videos.speaker_b
        if conv.mix is not None:
            arts["mix.wav"] = conv.mix
        if conv.dialogue is not None:
            arts["dialogue.json"] = put_json(conv.dialogue.to_dict())
        return arts

    def _put_json(self, obj: Any) -> ArtifactRef:
        data = (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()
        return self.store.put_bytes(data, "application/json")

    def manifest(self, out: DialogueOutput, opts: GenerateOptions, **extra: Any) -> dict[str, Any]:
        """The per-conversation manifest: every artefact with its sha256, the settings, the
        code and model versions, the per-stage timings, where each stage ran (``stages``:
        embedded, served or cached) and which were skipped (``cached_stages``)."""
        return {
            "dialogue_id": out.dialogue_id,
            "duration_s": out.timeline.duration_s,
            "artifacts": {k: v.to_dict() for k, v in sorted(out.artifacts.items())},
            "settings": opts.to_dict(),
            "versions": self.versions,
            "timings_s": out.log.timings_s,
            "stages": out.log.ran,
            "cached_stages": out.log.cached,
            **extra,
        }


def export(
    out: DialogueOutput, store: ArtifactStore, manifest: dict[str, Any], directory: Path
) -> Path:
    """Copy one conversation's artefacts into ``directory/<dialogue_id>/`` (manifest last)."""
    d = directory / out.dialogue_id
    d.mkdir(parents=True, exist_ok=True)
    for name, ref in sorted(out.artifacts.items()):
        store.get_file(ref, d / name)
    tmp = d / ".manifest.json.part"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(d / "manifest.json")
    return d


def _two(features: list[StoredFeatures]) -> FeaturePair:
    if len(features) != 2:
        raise ValueError(f"the audio encoder returned {len(features)} feature clips for 2 tracks")
    return features[0], features[1]
