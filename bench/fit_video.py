"""Avatar fitting on a real person's video (``dyad avatar fit --video``), end to end.

Tracking → geometry (identity shape, camera, head angles) → photometric fit on the frames in
which a face was found; the last 10 % of the clip is held out and scored (PSNR, SSIM, L1 over
the head's matte). The issue's bar on a real talking-face video: held-out PSNR ≥ 26 dB and
SSIM ≥ 0.90 at 512².

``python -m bench.fit_video [--video V] [--size 512] [--iters 1000]`` writes
``bench/results/fit_video-<hostname>.json`` and the held-out preview beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import torch

from bench.common import write_result
from dyad.services.capture.fitting.pipeline import fit_from_video

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "real" / "video"
DEFAULT_VIDEO = REAL / "WDA_AlexandriaOcasioCortez_000.mp4"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iters", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--track-steps", type=int, default=None, help="per held-out frame (20)")
    a = p.parse_args()
    if not a.video.is_file():
        raise SystemExit(f"bench.fit_video: no video at {a.video} (../shared/fixtures/real)")
    torch.set_num_threads(a.threads)
    printed: set[tuple[str, int]] = set()

    def progress(stage: str, done: float) -> None:
        tenth = (stage, int(done * 10))  # one line per stage and tenth
        if tenth not in printed:
            printed.add(tenth)
            print(f"{stage} {done:.0%}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "avatar"
        metrics = fit_from_video(
            a.video, out, iters=a.iters, size=a.size, track_steps=a.track_steps, progress=progress
        )
        result = {"video": a.video.name, "threads": a.threads, "fit": metrics}
        path = write_result("fit_video", result)
        shutil.copyfile(out / "preview.png", path.with_suffix(".png"))
    print(json.dumps(result, indent=2))
    print(path)


if __name__ == "__main__":
    main()
