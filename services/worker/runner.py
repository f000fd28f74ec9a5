"""What a batch worker runs: the ``JobRunner`` contract and how the worker finds one.

A runner turns one job's spec into result artefacts. The worker hands it the store and a
``StageReporter``; the runner reports each stage's progress and calls ``check_cancelled``
between stages (that is where cancellation, a lost lease and a shutdown take effect).

Runs are at-least-once: a job whose worker died is run again elsewhere, so a runner must be
idempotent. Writing content-addressed outputs and checking for them before recomputing a
stage makes a rerun cheap (DESIGN.md §4); writing ``jobs/<job_id>/manifest.json`` last makes
it appear once the job's outputs are complete.

``spec`` (what the gateway enqueued, JSON)::

    {"input": "prompt", "prompt": "…", "n": 1, "options": {…}}
    {"input": "audio", "audio": {"track_a": ArtifactRef dict, "track_b": …} | {"stereo": …},
     "n": 1, "options": {…}}
    {"input": "fit_avatar", "team": "…", "fit": {"video": ArtifactRef dict, "name": "…", …},
     "n": 1, "options": {}}   # on the fit queue only (pipeline/fit.py)

``options`` holds only what the client set (the runner applies its defaults otherwise):
``motion_backend`` (procedural | neural), ``rig`` (arkit55 | flame56), ``refine`` (bool),
``layout`` (side | pip | single), ``seed`` (int), ``relation`` ``{blood, equal}`` (both
booleans; absent = infer), ``identity_a``/``identity_b`` (``dyad.v1.Identity`` as a dict),
``per_speaker_videos`` (bool; absent = on: ``speaker_a.mp4``/``speaker_b.mp4`` beside the
composite), ``avatar_a``/``avatar_b`` (the store key of the team's avatar each speaker is
rendered with, ``avatars/teams/<team>/<id>``: resolved from the request's name by the gateway).

The result (JSON)::

    {"manifest": ref, "video": ref, "artifacts": {name: ref, …}, …any other keys}

where each ``ref`` is an ArtifactRef dict (``ArtifactRef.to_dict()``: uri, sha256, size_bytes,
content_type — preferred: clients verify downloads against it) or a bare URI. ``manifest`` is
required. The gateway presigns a download URL for every named artefact.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from dyad.errors import ConfigError
from dyad.storage import ArtifactStore

RUNNER_SETTING = "DYAD_WORKER_RUNNER"


class StageReporter(Protocol):
    def stage(self, name: str, fraction: float, message: str = "") -> None:
        """Progress of a named stage, 0–1 (also extends the worker's lease)."""

    def check_cancelled(self) -> None:
        """Raise ``dyad.errors.Cancelled`` if the job must stop here (call between stages)."""


@runtime_checkable
class JobRunner(Protocol):
    #: Stage names in order; overall progress is the mean of their fractions. A runner whose
    #: stages depend on the input may also define ``stages_for(spec) -> tuple[str, ...]``;
    #: the worker then declares that plan for the job instead.
    stages: tuple[str, ...]

    def run(
        self, job_id: str, spec: dict[str, Any], store: ArtifactStore, report: StageReporter
    ) -> dict[str, Any]:
        """Run the job; return the result dict (see the module docstring)."""
        ...


def load_runner(path: str) -> JobRunner:
    """The runner ``module:attr`` names: a JobRunner, or a zero-argument factory of one.

    Errors name ``DYAD_WORKER_RUNNER`` so a worker fails at start, not at its first job.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(RUNNER_SETTING, f"expected module:attr, got {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(RUNNER_SETTING, f"cannot import {module_name}: {e}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise ConfigError(RUNNER_SETTING, f"{module_name} has no attribute {attr!r}")
    try:
        runner = obj if isinstance(obj, JobRunner) else obj() if callable(obj) else None
    except ImportError as e:  # a factory whose pieces are missing
        raise ConfigError(RUNNER_SETTING, f"{path} failed to build: {e}") from None
    if not isinstance(runner, JobRunner):
        raise ConfigError(
            RUNNER_SETTING, f"{path} is neither a JobRunner nor a factory returning one"
        )
    if not runner.stages or not all(isinstance(s, str) and s for s in runner.stages):
        raise ConfigError(RUNNER_SETTING, f"{path}: `stages` must name at least one stage")
    return runner


def stage_plan(runner: JobRunner, spec: dict[str, Any]) -> list[str]:
    """The stages this job will report: ``runner.stages_for(spec)`` if defined, else ``stages``."""
    plan = getattr(runner, "stages_for", None)
    return list(plan(spec) if callable(plan) else runner.stages)
