"""The orchestrator: prompt (or two recorded tracks) → dialogue → speech → features → motion →
refinement → video, composed over the stage protocol (``stages.py``).

Every stage's result is remembered under a key hashed from its inputs and the code/model
versions (``cache/stages/<stage>/<sha256>.json`` in the artefact store), and every output is a
content-addressed artefact, so a rerun — or a job redelivered after a worker died — skips
the stages that already finished and produces byte-identical references.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from dyad.domain import Dialogue, Relation, StoredConversation, Timeline
from dyad.errors import InvalidInput
from dyad.services.worker.stages import RenderedVideos, Stages
from dyad.storage import ArtifactRef

PROMPT_STAGES = ("dialogue", "speech", "features", "motion", "refine", "render")
AUDIO_STAGES = ("segment", "features", "motion", "refine", "render")
LAYOUTS = ("side", "pip", "single")
T = TypeVar("T")


class Reporter(Protocol):
    def stage(self, name: str, fraction: float, message: str = "") -> None: ...
    def check_cancelled(self) -> None: ...


class NullReporter:
    def stage(self, name: str, fraction: float, message: str = "") -> None:
        pass

    def check_cancelled(self) -> None:
        pass


@dataclass(frozen=True)
class GenerateOptions:
    n: int = 1
    seed: int = 0
    turns: tuple[int, int] | None = None
    relation: Relation | None = None
    motion_backend: str = "procedural"
    rig: str = "arkit55"
    refine: bool = True
    refine_steps: int = 10
    layout: str = "side"
    head_px: int = 512

    def validate(self, max_n: int = 100) -> GenerateOptions:
        if not 1 <= self.n <= max_n:
            raise InvalidInput("n", f"{self.n} dialogues; expected 1–{max_n}")
        if self.motion_backend not in ("procedural", "neural"):
            raise InvalidInput("motion_backend", "expected procedural or neural")
        if self.layout not in LAYOUTS:
            raise InvalidInput("layout", f"expected one of {', '.join(LAYOUTS)}")
        if self.turns is not None and not 5 <= self.turns[0] <= self.turns[1] <= 10:
            raise InvalidInput("turns", f"{self.turns[0]}–{self.turns[1]}; expected within 5–10")
        if not 1 <= self.refine_steps <= 1000:
            raise InvalidInput("refine_steps", "expected 1–1000")
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["relation"] = self.relation.to_dict() if self.relation else None
        return d


@dataclass
class DialogueOutput:
    """Everything one conversation produced, by output file name: the three videos, both
    tracks and the mix, ``timeline.json``, ``motion_{a,b}.npz``, ``features_{a,b}.npy`` and,
    for a written dialogue, ``dialogue.json``."""

    dialogue_id: str
    dialogue: Dialogue | None
    timeline: Timeline
    artifacts: dict[str, ArtifactRef]
    timings_s: dict[str, float] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _ref(d: dict[str, Any]) -> ArtifactRef:
    return ArtifactRef.from_dict(d)


class Orchestrator:
    def __init__(self, stages: Stages) -> None:
        self.stages = stages
        self.store = stages.store
        self.versions = stages.versions()
        self.last_hit = False  # whether the last stage came from the cache

    # --- the stage cache ------------------------------------------------------------------
    def _cached(
        self,
        stage: str,
        inputs: dict[str, Any],
        compute: Callable[[], T],
        encode: Callable[[T], Any],
        decode: Callable[[Any], T],
        out: DialogueOutput | None = None,
    ) -> T:
        key = f"cache/stages/{stage}/{_digest({'inputs': inputs, 'versions': self.versions})}.json"
        t0 = time.perf_counter()
        self.last_hit = self.store.exists(key)
        if self.last_hit:
            value = decode(json.loads(self.store.get_bytes(key)))
            if out is not None:
                out.cached.append(stage)
        else:
            value = compute()
            self.store.put_named(key, json.dumps(encode(value)).encode(), "application/json")
        if out is not None:
            out.timings_s[stage] = round(time.perf_counter() - t0, 4)
        return value

    # --- entry points ---------------------------------------------------------------------
    def generate(
        self, prompt: str, opts: GenerateOptions, report: Reporter | None = None
    ) -> list[DialogueOutput]:
        """``opts.n`` conversations from one prompt, one after another (first result first)."""
        report = report or NullReporter()
        opts.validate()
        report.stage("dialogue", 0.0, "writing")
        t0 = time.perf_counter()
        dialogues = self._cached(
            "dialogue",
            {"prompt": prompt, "n": opts.n, "seed": opts.seed, "turns": opts.turns,
             "relation": opts.relation.to_dict() if opts.relation else None},
            lambda: self.stages.write(
                prompt, opts.n, seed=opts.seed, relation=opts.relation, turns=opts.turns
            ),
            lambda ds: [d.to_dict() for d in ds],
            lambda raw: [Dialogue.from_dict(d) for d in raw],
        )  # fmt: skip
        write_s, write_hit = round(time.perf_counter() - t0, 4), self.last_hit
        report.stage("dialogue", 1.0, f"{len(dialogues)} written")
        results = []
        for i, dialogue in enumerate(dialogues):
            report.check_cancelled()
            out = DialogueOutput(dialogue.dialogue_id, dialogue, None, {})
            out.timings_s["dialogue"] = write_s
            if write_hit:
                out.cached.append("dialogue")
            conv = self._cached(
                "speech",
                {"dialogue": dialogue.to_dict(), "seed": opts.seed + i},
                lambda d=dialogue, s=opts.seed + i: self.stages.speak(d, seed=s),  # type: ignore[misc]
                StoredConversation.to_dict,
                StoredConversation.from_dict,
                out,
            )
            report.stage("speech", (i + 1) / len(dialogues))
            results.append(self._animate_and_render(conv, opts, report, out, i, len(dialogues)))
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
        out = DialogueOutput("conversation", None, None, {})
        conv = self._cached(
            "segment", key, lambda: self.stages.segment(audio_a, audio_b), StoredConversation.to_dict,
            StoredConversation.from_dict, out,
        )  # fmt: skip
        out.dialogue_id = f"audio-{audio_a.sha256[:12]}"
        report.stage("segment", 1.0)
        return self._animate_and_render(conv, opts, report, out, 0, 1)

    def _animate_and_render(
        self,
        conv: StoredConversation,
        opts: GenerateOptions,
        report: Reporter,
        out: DialogueOutput,
        i: int,
        n: int,
    ) -> DialogueOutput:
        out.timeline = conv.timeline
        tracks = {"a": conv.track_a.sha256, "b": conv.track_b.sha256}
        done = (i + 1) / n
        report.check_cancelled()
        features = self._cached(
            "features", tracks,
            lambda: tuple(self.stages.encode([conv.track_a, conv.track_b])),
            lambda fs: [f.to_dict() for f in fs],
            lambda raw: tuple(_ref(f) for f in raw),
            out,
        )  # fmt: skip
        report.stage("features", done)
        report.check_cancelled()
        settings = {"backend": opts.motion_backend, "rig": opts.rig, "seed": opts.seed + i}
        motion = self._cached(
            "motion",
            {**tracks, "timeline": conv.timeline.to_dict(), **settings},
            lambda: self.stages.animate(
                conv, backend=opts.motion_backend, rig=opts.rig, seed=opts.seed + i
            ),
            lambda pair: [r.to_dict() for r in pair],
            lambda raw: (_ref(raw[0]), _ref(raw[1])),
            out,
        )
        report.stage("motion", done)
        if opts.refine:
            report.check_cancelled()
            motion = self._cached(
                "refine",
                {"motion": [m.sha256 for m in motion], "tracks": tracks,
                 "timeline": conv.timeline.to_dict(), "steps": opts.refine_steps,
                 "seed": opts.seed + i},
                lambda: self.stages.refine(
                    motion, conv, steps=opts.refine_steps, seed=opts.seed + i
                ),
                lambda pair: [r.to_dict() for r in pair],
                lambda raw: (_ref(raw[0]), _ref(raw[1])),
                out,
            )  # fmt: skip
        report.stage("refine", done, "" if opts.refine else "skipped")
        report.check_cancelled()
        identities = (conv.timeline.speakers["a"], conv.timeline.speakers["b"])
        videos = self._cached(
            "render",
            {"motion": [m.sha256 for m in motion], "tracks": tracks,
             "mix": conv.mix.sha256 if conv.mix else None, "layout": opts.layout,
             "head_px": opts.head_px, "identities": [x.to_dict() for x in identities]},
            lambda: self.stages.render(
                motion, conv, identities, layout=opts.layout, head_px=opts.head_px,
                progress=lambda f: report.stage("render", (i + f) / n),
            ),
            lambda v: {k: (x.to_dict() if isinstance(x, ArtifactRef) else x)
                       for k, x in asdict(v).items()},
            lambda raw: RenderedVideos(_ref(raw["conversation"]), _ref(raw["speaker_a"]),
                                       _ref(raw["speaker_b"]), int(raw["num_frames"])),
            out,
        )  # fmt: skip
        report.stage("render", done)
        out.artifacts = self._artifacts(conv, motion, videos)
        out.artifacts["features_a.npy"], out.artifacts["features_b.npy"] = features
        return out

    def _artifacts(
        self,
        conv: StoredConversation,
        motion: tuple[ArtifactRef, ArtifactRef],
        videos: RenderedVideos,
    ) -> dict[str, ArtifactRef]:
        put_json = self._put_json
        arts = {
            "conversation.mp4": videos.conversation,
            "speaker_a.mp4": videos.speaker_a,
            "speaker_b.mp4": videos.speaker_b,
            "speaker_a.wav": conv.track_a,
            "speaker_b.wav": conv.track_b,
            "timeline.json": put_json(conv.timeline.to_dict()),
            "motion_a.npz": motion[0],
            "motion_b.npz": motion[1],
        }
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
        code and model versions and the per-stage timings (``cached`` lists skipped stages)."""
        return {
            "dialogue_id": out.dialogue_id,
            "duration_s": out.timeline.duration_s,
            "artifacts": {k: v.to_dict() for k, v in sorted(out.artifacts.items())},
            "settings": opts.to_dict(),
            "versions": self.versions,
            "timings_s": out.timings_s,
            "cached_stages": out.cached,
            **extra,
        }


def build_runner() -> Any:
    """The default ``DYAD_WORKER_RUNNER``: see ``pipeline_runner.build_runner``."""
    from dyad.services.worker.pipeline_runner import build_runner as build

    return build()
