"""The real ``JobRunner``: a queued job's spec → the orchestrator → manifests in the store.

``build_runner()`` is what ``DYAD_WORKER_RUNNER`` names by default. The stages run in the
worker's process (``EmbeddedStages``) unless ``DYAD_PIPELINE_STAGES=served``, in which case
they are called over gRPC (``ServedStages``): each service standalone or behind the Ray Serve
gRPC ingress, all sharing the worker's artefact store (``PipelineSettings``).
"""

from __future__ import annotations

import json
import threading
from typing import Any

from dyad.domain import Identity, Relation
from dyad.errors import InvalidInput
from dyad.services.worker.pipeline.dataset_export import export_dataset
from dyad.services.worker.pipeline.embedded import EmbeddedStages
from dyad.services.worker.pipeline.fit import FIT_STAGES, run_fit
from dyad.services.worker.pipeline.orchestrator import (
    AUDIO_STAGES,
    PROMPT_STAGES,
    DialogueOutput,
    GenerateOptions,
    Orchestrator,
    Reporter,
)
from dyad.services.worker.pipeline.settings import PipelineSettings
from dyad.services.worker.pipeline.stages import Stages
from dyad.storage import ArtifactRef, ArtifactStore


def options_from_spec(spec: dict[str, Any]) -> GenerateOptions:
    """``spec["options"]`` (what the gateway enqueued) → validated ``GenerateOptions``."""
    o = spec.get("options") or {}
    relation = o.get("relation")
    turns = o.get("turns")
    return GenerateOptions(
        n=int(spec.get("n") or 1),
        seed=int(o.get("seed") or 0),
        turns=(int(turns[0]), int(turns[1])) if turns else None,
        relation=Relation.from_dict({"label": "", **relation}) if relation else None,
        motion_backend=o.get("motion_backend") or "procedural",
        rig=o.get("rig") or "arkit55",
        refine=bool(o.get("refine", True)),
        refine_steps=int(o.get("refine_steps") or 10),
        layout=o.get("layout") or "side",
        head_px=int(o.get("head_px") or 512),
        identities={
            s: Identity.from_dict(o[f"identity_{s}"], f"options.identity_{s}")
            for s in ("a", "b")
            if o.get(f"identity_{s}")
        },
        voices={s: str(o[f"voice_{s}"]) for s in ("a", "b") if o.get(f"voice_{s}")},
        avatars={s: str(o[f"avatar_{s}"]) for s in ("a", "b") if o.get(f"avatar_{s}")},
        per_speaker_videos=_flag(o, "per_speaker_videos", default=True),
    ).validate()


def _flag(options: dict[str, Any], name: str, *, default: bool) -> bool:
    """A boolean option as the gateway enqueued it (JSON true/false); absent: ``default``."""
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"options.{name}", f"expected true or false, got {value!r}")
    return value


def _audio_refs(spec: dict[str, Any]) -> tuple[ArtifactRef, ArtifactRef | None]:
    audio = spec.get("audio") or {}
    if audio.get("stereo"):
        return ArtifactRef.from_dict(audio["stereo"]), None
    if audio.get("track_a") and audio.get("track_b"):
        return ArtifactRef.from_dict(audio["track_a"]), ArtifactRef.from_dict(audio["track_b"])
    raise InvalidInput("audio", "give `stereo` or both `track_a` and `track_b`")


class PipelineRunner:
    stages = PROMPT_STAGES

    def __init__(self, stages_factory: Any = None) -> None:
        self._factory = stages_factory or EmbeddedStages
        self._stages: dict[int, Stages] = {}
        self._lock = threading.Lock()  # worker slots share one runner

    def stages_for(self, spec: dict[str, Any]) -> tuple[str, ...]:
        if spec.get("input") == "fit_avatar":
            return FIT_STAGES
        return AUDIO_STAGES if spec.get("input") == "audio" else PROMPT_STAGES

    def _orchestrator(self, store: ArtifactStore) -> Orchestrator:
        # One set of loaded cores per store, reused across jobs (models stay warm).
        key = id(store)
        with self._lock:
            if key not in self._stages:
                self._stages[key] = self._factory(store)
            return Orchestrator(self._stages[key])

    def run(
        self, job_id: str, spec: dict[str, Any], store: ArtifactStore, report: Reporter
    ) -> dict[str, Any]:
        if spec.get("input") == "fit_avatar":  # a fit job (fit.py): no conversation stages
            return run_fit(job_id, spec, store, report)
        orch = self._orchestrator(store)
        opts = options_from_spec(spec)
        if spec.get("input") == "audio":
            a, b = _audio_refs(spec)
            outputs = [orch.animate(a, b, opts, report)]
        else:
            outputs = orch.generate(str(spec.get("prompt", "")), opts, report)
        result = write_job_manifest(orch, job_id, spec, opts, outputs)
        o = spec.get("options") or {}
        if o.get("dataset_prefix"):  # checked against the team by the gateway
            report.check_cancelled()
            result["dataset"] = export_dataset(
                store, o["dataset_prefix"], o.get("dataset_split") or "train", job_id, outputs
            )
        return result


def write_job_manifest(
    orch: Orchestrator,
    job_id: str,
    spec: dict[str, Any],
    opts: GenerateOptions,
    outputs: list[DialogueOutput],
) -> dict[str, Any]:
    """Per-conversation manifests as artefacts, then ``jobs/<job_id>/manifest.json`` last (its
    presence means the job's outputs are complete). Returns the runner's result dict."""
    store = orch.store
    conversations = []
    artifacts: dict[str, dict[str, Any]] = {}
    for out in outputs:
        m = orch.manifest(out, opts, job_id=job_id)
        ref = store.put_bytes(json.dumps(m, indent=2).encode(), "application/json")
        conversations.append({"dialogue_id": out.dialogue_id, "manifest": ref.to_dict()})
        for name, r in out.artifacts.items():
            artifacts[f"{out.dialogue_id}/{name}"] = r.to_dict()
        artifacts[f"{out.dialogue_id}/manifest.json"] = ref.to_dict()
    job_manifest = {
        "job_id": job_id,
        "input": spec.get("input", "prompt"),
        "prompt": spec.get("prompt"),
        "settings": opts.to_dict(),
        "versions": orch.versions,
        "conversations": conversations,
    }
    manifest = store.put_manifest(job_id, job_manifest)
    first = outputs[0].artifacts["conversation.mp4"]
    return {"manifest": manifest.to_dict(), "video": first.to_dict(), "artifacts": artifacts}


def build_runner() -> PipelineRunner:
    """The default ``DYAD_WORKER_RUNNER``: the stages ``DYAD_PIPELINE_*`` configure."""
    settings = PipelineSettings.from_env()
    if settings.served:
        from dyad.services.worker.pipeline.served import ServedStages

        return PipelineRunner(lambda store: ServedStages.from_settings(store, settings))
    return PipelineRunner()
