"""The README's table: motion-model output before vs after refinement, and CHAT's ablations.

``python -m dyad.services.training.refiner.evaluate --data CORPUS --model DIR [--split test]
[--steps 50] [--json OUT]`` scores, on a held-out split of a ``dyad dataset synth`` corpus,
both speakers of every clip against the teacher's motion (partner = the teacher's partner
motion) with the motion service's metrics (``metrics.evaluate_clips``: FD, P-FD, MSE, SID,
rPCC per group, per clip then averaged). Rows:

- ``input``: the motion model's output (``data.ensure_inputs``) — the refiner's input;
- ``full``: SFBG → RFBG → TCR;
- ``no_sfbg``: silent segments linearly interpolated instead of SFBG (CHAT's ablation vi);
- ``no_sfbg_keep``: silent segments kept as the motion model made them;
- ``no_rfbg`` (vii), ``no_tcr`` (viii).

Extra column ``jump``: at each segment boundary ``b`` (where TCR acts), the largest L2 norm of
the three frame-to-frame changes ``x[b−1]−x[b−2]``, ``x[b]−x[b−1]``, ``x[b+1]−x[b]``, averaged
over boundaries (the teacher's own is printed as ``teacher``). Eq. 10 makes the two frames at
a boundary equal, so the middle change alone would read 0 after TCR. Both speakers' mel features are
given (the service's path with audio).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyad.services.refiner.core import MAX_SPAN_FRAMES, RefineOptions, refine_conversation
from dyad.services.refiner.denoiser import RefinerDenoiser, load_pretrained
from dyad.services.refiner.turns import boundaries, turn_spans
from dyad.services.training.metrics import evaluate_clips
from dyad.services.training.refiner.data import RefinerClip, ensure_inputs, load_clips

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {"blocks": ("sfbg", "rfbg", "tcr")},
    "no_sfbg": {"blocks": ("rfbg", "tcr"), "silent_fallback": "interpolate"},
    "no_sfbg_keep": {"blocks": ("rfbg", "tcr"), "silent_fallback": "keep"},
    "no_rfbg": {"blocks": ("sfbg", "tcr")},
    "no_tcr": {"blocks": ("sfbg", "rfbg")},
}
NAMES = {
    "input": "motion model (input)",
    "full": "refined: SFBG+RFBG+TCR",
    "no_sfbg": "w/o SFBG (interpolation)",
    "no_sfbg_keep": "w/o SFBG (input kept)",
    "no_rfbg": "w/o RFBG",
    "no_tcr": "w/o TCR",
    "teacher": "teacher",
}
METRICS = {"fd": "FD", "p_fd": "P-FD", "mse": "MSE", "sid": "SID", "rpcc": "rPCC"}


def boundary_jump(motion: np.ndarray, bounds: list[int]) -> float:
    """The module doc's ``jump`` of one clip (NaN without boundaries)."""
    steps = np.linalg.norm(np.diff(motion, axis=0), axis=1)  # steps[i] = |x[i+1] − x[i]|
    vals = [steps[max(b - 2, 0) : b + 1].max() for b in bounds if 0 < b < len(motion)]
    return float(np.mean(vals)) if vals else float("nan")


def refine_clip(
    model: RefinerDenoiser, clip: RefinerClip, opts: RefineOptions
) -> tuple[np.ndarray, np.ndarray]:
    return refine_conversation(
        model,
        clip.model_out["a"],
        clip.model_out["b"],
        clip.timeline,
        rig="arkit55",
        features_a=clip.feats["a"],
        features_b=clip.feats["b"],
        options=opts,
    )


def evaluate(
    clips: list[RefinerClip],
    model: RefinerDenoiser,
    *,
    steps: int = 50,
    seed: int = 0,
    strength: float = 0.5,
    guidance: float = 1.0,
    variants: tuple[str, ...] = tuple(VARIANTS),
) -> dict[str, dict[str, Any]]:
    """``{row: {"scores": group → metric → value, "jump": float, "seconds": float}}``."""
    gts = [c.teacher[s] for c in clips for s in ("a", "b")]
    partners = [c.teacher[s] for c in clips for s in ("b", "a")]
    bounds = [
        boundaries(turn_spans(c.timeline, c.num_frames, max_frames=MAX_SPAN_FRAMES)) for c in clips
    ]

    def row(preds: list[np.ndarray], seconds: float) -> dict[str, Any]:
        jumps = [boundary_jump(p, bounds[i // 2]) for i, p in enumerate(preds)]
        return {
            "scores": evaluate_clips(preds, gts, partners, "arkit55"),
            "jump": float(np.nanmean(jumps)),
            "seconds": seconds,
        }

    out = {
        "teacher": {
            "jump": float(np.nanmean([boundary_jump(g, bounds[i // 2]) for i, g in enumerate(gts)]))
        }
    }
    out["input"] = row([c.model_out[s] for c in clips for s in ("a", "b")], 0.0)
    for name in variants:
        opts = RefineOptions(
            steps=steps, seed=seed, strength=strength, guidance=guidance, **VARIANTS[name]
        )
        t0 = time.perf_counter()
        preds = [m for c in clips for m in refine_clip(model, c, opts)]
        out[name] = row(preds, time.perf_counter() - t0)
    return out


def table(results: dict[str, dict[str, Any]], digits: int = 4) -> str:
    """Markdown: rows × (metric, group), then the boundary jump."""
    first = next(v["scores"] for v in results.values() if "scores" in v)
    groups = list(first)
    cols = [(m, g) for m in METRICS for g in groups]
    head = "| Method | " + " | ".join(f"{METRICS[m]} {g}" for m, g in cols) + " | jump |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for name, res in results.items():
        if "scores" in res:
            cells = [f"{res['scores'][g][m]:.{digits}g}" for m, g in cols]
        else:
            cells = [""] * len(cols)
        lines.append(
            f"| {NAMES.get(name, name)} | " + " | ".join(cells) + f" | {res['jump']:.{digits}g} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dyad.services.training.refiner.evaluate")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--split", default="test")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strength", type=float, default=0.5)
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--limit", type=int, default=0, help="first N clips only (0: all)")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ensure_inputs(args.data, args.split)
    clips = load_clips(args.data, args.split)
    if args.limit:
        clips = clips[: args.limit]
    model = load_pretrained(args.model)
    res = evaluate(
        clips,
        model,
        steps=args.steps,
        seed=args.seed,
        strength=args.strength,
        guidance=args.guidance,
        variants=tuple(v for v in args.variants.split(",") if v),
    )
    print(f"{args.split}: {len(clips)} clips, {args.steps} steps\n\n{table(res)}")
    for name, r in res.items():
        if r.get("seconds"):
            print(f"{name}: {r['seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
