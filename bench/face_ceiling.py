"""The face reader's ceiling on REAL faces: what MediaPipe's Face Landmarker reports per ARKit
channel on real recordings, so that a channel it never moves on a real face is not held
against our renders.

The reader (``bench.face_judge.FaceReader``, the pinned model) reads every frame of the real
videos in ``../shared/fixtures/real/video/`` (see its ``PROVENANCE.md``: an expressive face,
``WolfgangLanger_Pexels.mp4``, sad → hand over the mouth → broad smiles and laughter; and a
talking head, ``WDA_AlexandriaOcasioCortez_000.mp4``). For each channel it reports the 1st,
50th and 99th percentile and the maximum score over all frames with a face, per video and
pooled, and the spread p99 − p1. A channel whose pooled p99 stays below ``CEILING_LOW`` is one
the reader hardly moves on real faces, however expressive: its r on our renders is no measure of
our face units (MediaPipe's blendshape head is known to be weak on cheekPuff, noseSneer*,
cheekSquint*). Frames are decoded with PyAV; the recordings are never copied.

``python -m bench.face_ceiling [--fixtures DIR] [--step N]`` writes
``bench/results/face_ceiling-<hostname>.{json,md}`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import write_result_and_markdown
from bench.face_judge import MODEL_PACKAGE, MODEL_SHA256, FaceReader

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
VIDEOS = ("video/WolfgangLanger_Pexels.mp4", "video/WDA_AlexandriaOcasioCortez_000.mp4")
PERCENTILES = (1, 50, 99)
#: A channel whose pooled p99 on real faces stays below this is "hardly moved by the reader".
CEILING_LOW = 0.1


def frames(path: Path, step: int) -> list[np.ndarray]:
    """Every ``step``-th frame of a video as ``[H, W, 3]`` uint8 RGB."""
    import av

    out = []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k % step == 0:
                out.append(frame.to_ndarray(format="rgb24"))
    return out


def read_video(reader: FaceReader, path: Path, step: int) -> tuple[int, list[dict[str, float]]]:
    images = frames(path, step)
    scores = []
    for im in images:
        r = reader.read(im)
        if r is not None:
            scores.append(r[0])
    return len(images), scores


def stats(scores: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    names = sorted(k for k in scores[0] if k != "_neutral")
    out = {}
    for n in names:
        x = np.array([s[n] for s in scores])
        p = np.percentile(x, PERCENTILES)
        out[n] = {f"p{q}": float(v) for q, v in zip(PERCENTILES, p, strict=True)}
        out[n]["max"] = float(x.max())
    return out


def run(fixtures: Path, step: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    per_video: dict[str, Any] = {}
    pooled: list[dict[str, float]] = []
    with FaceReader() as reader:
        for rel in VIDEOS:
            path = fixtures / rel
            if not path.is_file():
                print(f"skip {path}: not there", file=sys.stderr)
                continue
            n, scores = read_video(reader, path, step)
            print(f"{rel}: {n} frames, {len(scores)} faces", file=sys.stderr)
            per_video[Path(rel).name] = {"frames": n, "faces": len(scores), **stats(scores)}
            pooled += scores
    if not pooled:
        raise SystemExit(f"no real video with a face under {fixtures}")
    pooled_stats = stats(pooled)
    low = [n for n, s in pooled_stats.items() if s["p99"] < CEILING_LOW]
    return {
        "model": {"package": f"{MODEL_PACKAGE}==0.1.1", "sha256": MODEL_SHA256},
        "fixtures": str(fixtures),
        "step": step,
        "videos": per_video,
        "pooled": pooled_stats,
        "pooled_faces": len(pooled),
        "ceiling_low": CEILING_LOW,
        "hardly_moved": low,
        "wall_s": time.perf_counter() - t0,
    }


def markdown(res: dict[str, Any]) -> str:
    vids = list(res["videos"])
    lines = [
        "# The face reader's ceiling on real faces (MediaPipe Face Landmarker)",
        "",
        f"Model {res['model']['package']} sha256 `{res['model']['sha256']}`; every "
        f"{res['step']}. frame of "
        + ", ".join(
            f"`{v}` ({res['videos'][v]['faces']}/{res['videos'][v]['frames']} frames with a face)"
            for v in vids
        )
        + f" from `{Path(res['fixtures']).name}/` (see its PROVENANCE.md). Wall "
        f"{res['wall_s']:.0f} s.",
        "",
        f"- channels the reader hardly moves on real faces (pooled p99 < {res['ceiling_low']}): "
        f"**{len(res['hardly_moved'])}**: {', '.join(res['hardly_moved']) or '—'}",
        "",
        "Scores 0–1. pooled = both videos together; per video p1/p50/p99.",
        "",
        "| channel | pooled p1 | p50 | p99 | max | "
        + " | ".join(f"{v[:12]} p1/p50/p99" for v in vids)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(vids),
    ]
    order = sorted(res["pooled"].items(), key=lambda kv: -kv[1]["p99"])
    for name, s in order:
        cells = [
            "/".join(f"{res['videos'][v][name][f'p{q}']:.2f}" for q in PERCENTILES) for v in vids
        ]
        lines.append(
            f"| {name} | {s['p1']:.3f} | {s['p50']:.3f} | {s['p99']:.3f} | {s['max']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.face_ceiling", description=__doc__)
    p.add_argument("--fixtures", type=Path, default=FIXTURES, help="the real fixtures folder")
    p.add_argument("--step", type=int, default=1, help="read every N-th frame")
    args = p.parse_args(argv)
    res = run(args.fixtures, args.step)
    write_result_and_markdown("face_ceiling", res, markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
