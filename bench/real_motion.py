"""Realism on real faces: our motion generators against motion tracked from real people.

``dyad dataset from-video`` (``services/corpus/from_video.py``) turns the fixture videos in
``../shared/fixtures/real/video/`` into a small corpus in DualTalk's layout: speaker A is the
talking speaker of ``WDA_AlexandriaOcasioCortez_000.mp4`` (8 s of speech to camera), speaker B
the actress of ``WolfgangLanger_Pexels.mp4`` (emotions, a silent sound track), trimmed to the
shorter (8 s) and cut into ``--seconds`` clips. So A is a real talker and B a real face that
does not talk (the fixtures hold no real two-person video with faces; see PROVENANCE.md).

Each generator then animates every clip from the clip's own two audio tracks, and
``dyad metrics motion`` (``training.metrics.evaluate_dirs``: FD, P-FD, MSE, SID, rPCC per
channel group, means over clips and both speakers) scores it against the tracked motion:

- ``procedural``: the motion service's procedural animator, on the timeline that the dialogue
  service's segmentation finds in the two tracks (``segment_conversation``);
- ``neural``: the bundled DualTalk-style model (``dyad motion generate``: mel features, two
  passes, relation unknown → (not blood, equal));
- ``refiner``: the bundled refiner on the procedural motion (``dyad refine --fast``, with the
  mel features);
- ``rest``: the rig's neutral pose (a floor: a generator should beat a still face);
- ``swap``: the real tracked motion of the OTHER speaker (real motion, wrong person and
  moment: a reference for what "real but not this" scores);
- ``real``: the tracked motion itself (FD 0 by construction; its SID is the real diversity).

``python -m bench.real_motion [--seconds 4] [--corpus DIR] [--out PATH.md]`` writes
``bench/results/real_motion-<hostname>.{json,md}``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import machine, write_result_and_markdown

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "video"
VIDEO_A = FIXTURES / "WDA_AlexandriaOcasioCortez_000.mp4"
VIDEO_B = FIXTURES / "WolfgangLanger_Pexels.mp4"
RIG = "arkit55"
SPLIT = "test"
GROUPS_SHOWN = ("mouth", "face", "pose")  # arkit55's channel groups (dyad.rigs)
METRICS = ("fd", "p_fd", "mse", "sid", "rpcc")
HEADERS = {"fd": "FD↓", "p_fd": "P-FD↓", "mse": "MSE↓", "sid": "SID↑", "rpcc": "rPCC↓"}

Generator = Callable[[Any, Any], tuple[np.ndarray, np.ndarray]]


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def build_corpus(out: Path, seconds: float) -> dict[str, Any]:
    from dyad.services.corpus.from_video import corpus_from_video

    report = corpus_from_video(
        out,
        video_a=VIDEO_A,
        video_b=VIDEO_B,
        split=SPLIT,
        window_s=seconds,
        min_window_s=min(seconds, 2.0),
        max_side=640,
        progress=log,
    )
    return {"clips": report.clips, "frames": report.frames_total, "kept": report.frames_kept}


def generators(steps: int) -> dict[str, Generator]:
    """name → (timeline, PairData) → (motion A, motion B), each ``[T, 55]``."""
    from dyad.rigs import get_rig
    from dyad.services.motion.neural.backend import BUNDLED
    from dyad.services.motion.neural.generate import generate_pair
    from dyad.services.motion.neural.model import load_pretrained
    from dyad.services.motion.procedural.animator import ProceduralAnimator
    from dyad.services.refiner.core import RefinerCore
    from dyad.services.refiner.settings import RefinerSettings
    from dyad.services.training.features import encode_wave

    model = load_pretrained(BUNDLED, setting="model")
    refiner = RefinerCore(None, RefinerSettings())
    animator = ProceduralAnimator()

    def procedural(timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        return animator.animate(d.audio_a, d.audio_b, timeline, seed=0, rig=RIG)

    def features(d: Any) -> tuple[np.ndarray, np.ndarray]:
        return encode_wave(d.audio_a, d.frames), encode_wave(d.audio_b, d.frames)

    def neural(_timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        fa, fb = features(d)
        rest = np.zeros((d.frames, model.config.motion_dim), np.float32)
        ma, mb = generate_pair(model, fa, fb, rest, rest, (False, True), seed=0)
        return generate_pair(model, fa, fb, ma, mb, (False, True), seed=0)

    def refined(timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = procedural(timeline, d)
        pair = refiner.refine_arrays(a, b, timeline, rig=RIG, features=features(d), steps=steps)
        return pair.motion_a, pair.motion_b

    def rest(_timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        still = get_rig(RIG).neutral(d.frames)
        return still, still

    def swap(_timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        return d.motion_b, d.motion_a

    def real(_timeline: Any, d: Any) -> tuple[np.ndarray, np.ndarray]:
        return d.motion_a, d.motion_b

    return {
        "procedural": procedural,
        "neural": neural,
        "refiner": refined,
        "rest": rest,
        "swap": swap,
        "real": real,
    }


def run(corpus: Path, steps: int) -> dict[str, Any]:
    from dyad.dataset.layout import motion_arrays, npz_bytes
    from dyad.dataset.reader import load_pair, scan
    from dyad.services.dialogue.segmentation import segment_with_report
    from dyad.services.training.metrics import evaluate_dirs

    pairs = scan(corpus, SPLIT)
    gens = generators(steps)
    scores: dict[str, Any] = {}
    scores_a: dict[str, Any] = {}
    seconds: dict[str, float] = {name: 0.0 for name in gens}
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="real_motion.") as tmp:
        for pair in pairs:
            data = load_pair(pair, RIG)
            timeline, said = segment_with_report(data.audio_a, data.audio_b)
            warnings += [f"{pair.clip}: {w}" for w in said]
            for name, gen in gens.items():
                start = time.perf_counter()
                ma, mb = gen(timeline, data)
                seconds[name] += time.perf_counter() - start
                folder = Path(tmp) / name
                folder.mkdir(exist_ok=True)
                only_a = Path(tmp) / f"{name}.a"  # speaker A alone: the one who talks
                only_a.mkdir(exist_ok=True)
                for tag, m in (("speaker1", ma), ("speaker2", mb)):
                    arrays = motion_arrays(np.asarray(m, np.float32)[: data.frames], RIG)
                    (folder / f"{pair.clip}_{tag}.npz").write_bytes(npz_bytes(arrays))
                    if tag == "speaker1":
                        (only_a / f"{pair.clip}_{tag}.npz").write_bytes(npz_bytes(arrays))
            log(f"{pair.clip}: {data.frames} frames generated")
        for name in gens:
            scores[name] = evaluate_dirs(Path(tmp) / name, corpus, RIG, SPLIT)
            scores_a[name] = evaluate_dirs(Path(tmp) / f"{name}.a", corpus, RIG, SPLIT)
    return {
        "clips": [p.clip for p in pairs],
        "scores": scores,
        "scores_speaker_a": scores_a,
        "generate_s": {k: round(v, 2) for k, v in seconds.items()},
        "segmentation_warnings": sorted(set(warnings)),
        "refiner_steps": steps,
    }


def markdown(result: dict[str, Any]) -> str:
    m = machine()
    lines = [
        "# Motion realism on real faces (`python -m bench.real_motion`)",
        "",
        f"Machine: {m['hostname']} ({m['cpus']} CPUs, {m['platform']}); {result['time']}.",
        f"Corpus: `dyad dataset from-video --video-a {VIDEO_A.name} --video-b {VIDEO_B.name}` "
        f"→ {len(result['clips'])} clips of {result['seconds']:g} s "
        f"({result['corpus']['kept']} of {result['corpus']['frames']} frames kept). "
        "A talks to camera; B (the Pexels actress) acts emotions in silence.",
        "Metrics: `training.metrics.evaluate_dirs` (the `dyad metrics motion` numbers), mean "
        "over clips and both speakers; ↓ lower is closer to the real motion, SID ↑ more "
        "diverse; rPCC is |PCC(pred, partner) − PCC(gt, partner)|.",
        f"Refiner: bundled checkpoint, {result['refiner_steps']} steps, on the procedural "
        "motion. Neural: bundled checkpoint, two passes. rPCC is nan where a prediction is "
        "constant over a clip (PCC undefined: `rest`, and silent B's mouth under the "
        "procedural animator).",
        "",
    ]
    for key, title in (("scores", "both speakers"), ("scores_speaker_a", "speaker A only")):
        for group in GROUPS_SHOWN:
            lines += [
                f"## {group} — {title}",
                "",
                "| generator | " + " | ".join(HEADERS[k] for k in METRICS) + " |",
                "|---|" + "---:|" * len(METRICS),
            ]
            for name, scores in result[key].items():
                row = " | ".join(f"{scores[group][k]:.4g}" for k in METRICS)
                lines.append(f"| {name} | {row} |")
            lines.append("")
    lines += [
        "Generation time (s, all clips): "
        + ", ".join(f"{k} {v}" for k, v in result["generate_s"].items())
        + ".",
        "",
        "Segmentation warnings: " + ("; ".join(result["segmentation_warnings"]) or "none") + ".",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="clip length of the real corpus")
    p.add_argument("--corpus", type=Path, help="an existing from-video corpus (split test)")
    p.add_argument("--steps", type=int, default=10, help="refiner steps (10: --fast)")
    p.add_argument("--out", type=Path, help="markdown path (default bench/results/…)")
    args = p.parse_args(argv)
    import numba
    import torch

    torch.set_num_threads(1)
    numba.set_num_threads(1)
    if args.corpus is None and not (VIDEO_A.is_file() and VIDEO_B.is_file()):
        print(f"no fixture videos in {FIXTURES}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="real_corpus.") as tmp:
        corpus = args.corpus or Path(tmp) / "real"
        info: dict[str, Any] = {}
        if args.corpus is None:
            log("building the real corpus")
            info = build_corpus(corpus, args.seconds)
        result = run(corpus, args.steps)
    result.update(
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": args.seconds,
            "corpus": info or {"kept": "?", "frames": "?"},
            "wall_s": round(time.perf_counter() - t0, 1),
        }
    )
    text = markdown(result)
    if args.out is not None:
        print(text)
        args.out.write_text(text)
        return 0
    write_result_and_markdown("real_motion", result, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
