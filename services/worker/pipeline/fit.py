"""The fit-avatar job: a team's video → ``fit_from_video`` → the team's avatar ``name``.

What the gateway queued (``dyad.services.gateway.fitjobs``; the video already checked)::

    {"input": "fit_avatar", "n": 1, "team": "red", "options": {},
     "fit": {"video": ArtifactRef dict, "name": "ana", "iters": 300, "size_px": 256}}

The fit itself is capture's (``dyad.services.capture.fitting.pipeline.fit_from_video``),
imported only when a fit job runs: a worker that never takes one never pays for it, and one
whose image lacks it fails the job with FAILED_PRECONDITION (not retried) instead of at start.
The fitted directory is stored through ``TeamAvatars`` — the same checks and layout as an
upload — then ``metrics.json`` and the job manifest, last. A rerun after a crash fits again
(the fit has no stage cache) and stores the same content-addressed files.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from dyad.errors import FailedPrecondition
from dyad.services.gateway.avatars import TeamAvatars
from dyad.services.worker.pipeline.orchestrator import Reporter
from dyad.storage import ArtifactRef, ArtifactStore

FIT_STAGES = ("fit", "store")
#: The renderer's default bound on a stored avatar (DYAD_RENDER_MAX_AVATAR_BYTES): a fitted
#: avatar larger than that could not be rendered.
MAX_FITTED_AVATAR_BYTES = 128 * 1024 * 1024


def _fit_from_video() -> tuple[Any, tuple[str, ...]]:
    """capture's ``fit_from_video`` and its ``STAGES`` (imported when a fit job runs)."""
    try:
        from dyad.services.capture.fitting.pipeline import STAGES, fit_from_video
    except ImportError as e:
        raise FailedPrecondition(f"this worker cannot fit avatars: {e}") from None
    return fit_from_video, STAGES


def run_fit(
    job_id: str, spec: dict[str, Any], store: ArtifactStore, report: Reporter
) -> dict[str, Any]:
    """Fit, store the avatar as the team's ``name``; the runner's result dict (with
    ``avatar``: the stored avatar's ``AvatarInfo`` dict plus its ``uri``)."""
    fit_from_video, stages = _fit_from_video()
    fit, team = spec["fit"], str(spec["team"])
    video = ArtifactRef.from_dict(fit["video"])
    report.stage("fit", 0.0)
    with tempfile.TemporaryDirectory(prefix="dyad-fit-") as tmp:
        local = store.get_file(video, Path(tmp) / "video", field="fit_avatar.video")
        out = Path(tmp) / "avatar"

        def progress(stage: str, fraction: float) -> None:
            # one bar over capture's stages (track, geometry, fit, score), each an equal share
            done = min(max(float(fraction), 0.0), 1.0)
            overall = (stages.index(stage) + done) / len(stages) if stage in stages else done
            report.stage("fit", overall, f"{stage} {done:.0%}")
            report.check_cancelled()

        metrics = fit_from_video(
            local, out, iters=fit.get("iters"), size=fit.get("size_px"), progress=progress
        )
        report.stage("fit", 1.0)
        report.check_cancelled()
        files = [(out / n).read_bytes() for n in ("config.json", "model.safetensors")]
    avatars = TeamAvatars(store, MAX_FITTED_AVATAR_BYTES)
    info, _ = avatars.put(team, str(fit["name"]), *files, source=f"fit:{job_id}")
    metrics_ref = store.put_bytes(
        json.dumps(metrics, sort_keys=True, indent=2, default=str).encode(), "application/json"
    )
    avatar = {**info.to_dict(), "uri": store.uri(info.key)}
    manifest = store.put_manifest(
        job_id, {"job_id": job_id, "input": "fit_avatar", "fit": fit, "avatar": avatar}
    )
    report.stage("store", 1.0)
    artifacts = {
        "metrics.json": metrics_ref.to_dict(),
        "avatar/config.json": {"uri": f"{avatar['uri']}/config.json"},
        "avatar/model.safetensors": {"uri": f"{avatar['uri']}/model.safetensors"},
    }
    return {"manifest": manifest.to_dict(), "avatar": avatar, "artifacts": artifacts}
