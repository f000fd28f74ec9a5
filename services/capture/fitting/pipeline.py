"""``fit_from_video``: a person's video → a fitted avatar (tracking, geometry, photometry).

The stages, each its own module:

1. **Tracking** (``capture.tracking``): the largest face of the video at 25 fps — landmarks,
   ARKit blendshapes and head angles per frame; the frames themselves are kept as they are
   tracked (``on_frame``), so the fit sees exactly the pixels the landmarks refer to.
2. **Geometry** (``geometry.fit_geometry``): the human head's identity shape fitted to the
   landmarks, the clip's camera, the per-frame head angles refined.
3. **Photometry** (``run.fit_avatar``): the bound Gaussians (and per-frame motion corrections)
   fitted to the frames — RSATalker eq. 10–12, density control with bindings, validation on
   the held-out last 10 %.
4. **Scoring** (``heldout``): the held-out frames' motion tracked photometrically with the
   avatar frozen, then the final scores (``metrics.json``).

Between 2 and 3 the clip becomes an ordinary capture folder (``capture.folder``) in a work
directory beside the output: one camera, the geometry's motion, and only the frames in which
a face was detected (a frame without one has interpolated motion, which the photometric loss
must not learn from; the frames are renumbered and the held-out tail stays the clip's end).
The folder is kept as ``AVATAR_DIR/.fit/capture`` (with the fitted shape in
``.fit/shape_fit.json``) for inspection and ``--resume``, which skips stages 1–2.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import atomic_output
from dyad.media.image import write_png
from dyad.motion_io import save_motion
from dyad.services.capture.folder import CameraSpec, write_cameras

#: The stages, in order, as ``StageProgress`` names them.
STAGES = ("track", "geometry", "fit", "score")
#: Progress of the whole fit: (stage, fraction of that stage done 0–1).
StageProgress = Callable[[str, float], None]
#: Shortest clip worth fitting: the held-out tail is 10 % of it and must hold a few frames.
MIN_DETECTED_FRAMES = 20


def _check_out(out: Path, resume: bool) -> None:
    if (out / "config.json").exists() and not resume:
        raise InvalidInput("--out", f"{out} already holds an avatar (use another directory)")
    if out.exists() and not out.is_dir():
        raise InvalidInput("--out", f"{out} is not a directory")


def capture_from_video(
    video: Path,
    work: Path,
    *,
    identity: str = "",
    max_side: int = 1280,
    progress: StageProgress | None = None,
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Track ``video`` and fit its geometry; write the capture folder ``work``.

    Returns the folder, the fitted ``head_config`` (with ``shape_fit``) and a summary (frames,
    detected, reprojection px). ``work`` is replaced if it exists."""
    from dyad.services.capture.tracking import track_video
    from dyad.services.renderer.avatars.avatar import create_avatar

    from .geometry import fit_geometry

    if work.exists():
        shutil.rmtree(work)
    staged = work / "frames" / "cam00"
    staged.mkdir(parents=True)

    def keep_frame(t: int, rgb: np.ndarray) -> None:
        write_png(staged / f"{t:06d}.png", rgb)

    def tracked(done: int, total: int) -> None:
        if progress is not None and total > 0:
            progress("track", min(1.0, done / total))

    (track,) = track_video(
        video, face="largest", max_side=max_side, progress=tracked, on_frame=keep_frame
    )
    kept = np.flatnonzero(track.detected)  # [T'] frame indices with a face
    if kept.size < MIN_DETECTED_FRAMES:
        raise InvalidInput(
            "--video",
            f"a face was found in {kept.size} frames; fitting needs at least "
            f"{MIN_DETECTED_FRAMES} (about a second)",
        )
    if progress is not None:
        progress("geometry", 0.0)
    start = create_avatar(identity, head="human").head_config
    geometry = fit_geometry(start, track.landmarks, track.detected, track.motion, track.intrinsics)
    if progress is not None:
        progress("geometry", 1.0)
    # Only frames with a face, renumbered 0…T'−1 (the held-out tail stays the clip's end).
    all_frames = sorted(staged.iterdir())
    for new, old in enumerate(kept):
        all_frames[old].rename(staged / f"n{new:06d}.png")
    for leftover in staged.glob("0*.png"):
        leftover.unlink()
    for path in staged.glob("n*.png"):
        path.rename(staged / path.name[1:])
    cam = geometry.camera
    save_motion(work / "motion.npz", geometry.motion[kept], "arkit55")
    spec = CameraSpec(cam.width, cam.height, cam.K, cam.viewmat)
    write_cameras(work, {"cam00": spec}, num_frames=int(kept.size))
    summary = {
        "frames": int(track.detected.shape[0]),
        "detected": int(kept.size),
        "reprojection_px": round(geometry.median_reprojection_px, 3),
        "start_shape_px": round(float(geometry.start_shape_px), 3),
    }
    return work, geometry.head_config, summary


def fit_from_video(
    video: Path,
    out_dir: Path,
    *,
    iters: int | None = None,
    size: int | None = None,
    identity: str = "",
    device: str = "cpu",
    seed: int = 0,
    refine_motion: bool = True,
    track_steps: int | None = None,
    resume: bool = False,
    progress: StageProgress | None = None,
) -> dict[str, Any]:
    """Fit an avatar to the person in ``video``; write it to ``out_dir`` (an ordinary avatar
    directory plus ``metrics.json`` and ``preview.png``). Returns the metrics (``psnr``,
    ``ssim``, ``l1``, ``iters``, ``gaussians``, ``seconds``, ``device``, …, and ``capture``:
    tracking and geometry figures). ``iters``/``size``/``track_steps`` (per held-out frame,
    ``heldout``): ``FitConfig``'s defaults when None.
    """
    from dyad.services.renderer.avatars.avatar import create_avatar

    from .data import load_fit_data
    from .run import FitConfig, fit_avatar

    video, out_dir = Path(video), Path(out_dir)
    defaults = FitConfig()
    cfg = FitConfig(
        iters=defaults.iters if iters is None else iters,
        size=defaults.size if size is None else size,
        device=device,
        seed=seed,
        refine_motion=refine_motion,
        track_steps=defaults.track_steps if track_steps is None else track_steps,
    )
    cfg.check()  # cheap argument checks before any decoding
    _check_out(out_dir, resume)
    if not video.is_file():
        raise InvalidInput("--video", f"{video} is not a file")
    began = time.perf_counter()
    created = not out_dir.exists()
    work = out_dir / ".fit" / "capture"
    shape_file = out_dir / ".fit" / "shape_fit.json"
    if resume and (work / "cameras.json").is_file() and shape_file.is_file():
        shape_fit = json.loads(shape_file.read_text()) or None
        summary: dict[str, Any] = {"resumed": True}
    else:
        try:
            work, head_config, summary = capture_from_video(
                video, work, identity=identity, progress=progress
            )
        except BaseException:
            # Nothing of a video without a usable face stays behind (a directory we made).
            shutil.rmtree(out_dir if created else work, ignore_errors=True)
            raise
        shape_fit = head_config.get("shape_fit") or None
        shape_file.write_text(json.dumps(shape_fit or {}))
    data = load_fit_data(work, cfg.size)
    avatar = create_avatar(identity, head="human", shape_fit=shape_fit)

    def fitted(it: int, total: int, _stats: dict[str, float]) -> None:
        if progress is not None:
            progress("fit", it / total)

    def scored(done: int, total: int) -> None:
        if progress is not None:
            progress("score", done / max(total, 1))

    result = fit_avatar(data, avatar, cfg, out_dir, resume=resume, progress=fitted, scoring=scored)
    if progress is not None:
        progress("score", 1.0)
    metrics = {
        **result.metrics,
        "capture": summary,
        "seconds_total": round(time.perf_counter() - began, 2),
    }
    with atomic_output(out_dir / "metrics.json") as tmp:
        Path(tmp).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
