"""End to end, embedded: prompt → a ~30 s two-speaker conversation → video at 512×512 per
head on the default head model (``DYAD_RENDER_HEAD``, ``human``), on this machine, from an
empty store (no stage cached), per stage — twice, each from its own empty store: with the
per-speaker videos (the composite and ``speaker_a/b.mp4``, a job's default) and with the
composite only (``per_speaker_videos`` off).

The reference in the same run is the conversation's own duration: the goal is a wall time at
most real time (``wall_over_duration ≤ 1``) on 2 cores. A second run on the first store shows
what a rerun (a redelivered job) costs: every stage comes from the cache. The machine's load
average before and after is recorded (other processes share the cores).

``python -m bench.e2e [--quick] [--compare]`` writes ``bench/results/e2e-<hostname>.json``;
``--compare`` adds a composite-only run with the renderer's numpy reference paths
(``composite_only_numpy_paths``: issue 17 §5's old against new in one process).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import write_result
from dyad.services.renderer.avatars import avatar as avatar_module
from dyad.services.renderer.settings import RendererSettings
from dyad.services.worker.pipeline.embedded import EmbeddedStages
from dyad.services.worker.pipeline.orchestrator import GenerateOptions, Orchestrator
from dyad.storage import LocalStore

PROMPT = "Two old friends meet in a café and plan a weekend trip to Lisbon"
GOAL = 1.0


def _cpu_s() -> float:
    """CPU seconds of this process (every thread) and its finished children (speech
    engines): what the run cost the cores, which other processes' load disturbs far less
    than the wall time (2 cores give at most 2 CPU seconds per second)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def one(opts: GenerateOptions, rerun: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        orch = Orchestrator(EmbeddedStages(LocalStore(Path(tmp) / "store")))
        t0, c0 = time.perf_counter(), _cpu_s()
        out = orch.generate(PROMPT, opts)[0]
        wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
        again = None
        if rerun:
            t0 = time.perf_counter()
            again = orch.generate(PROMPT, opts)[0]
            again_wall = time.perf_counter() - t0
    duration = out.timeline.duration_s
    stages = dict(out.timings_s)
    row: dict[str, Any] = {
        "per_speaker_videos": opts.per_speaker_videos,
        "videos": sorted(k for k in out.artifacts if k.endswith(".mp4")),
        "conversation_s": duration,
        "wall_s": wall,
        "wall_over_duration": wall / duration,
        "cpu_s": cpu,
        "cpu_s_over_duration": cpu / duration,
        "render_over_duration": stages.get("render", 0.0) / duration,
        "stages_s": stages,
        "stage_share": {k: v / wall for k, v in stages.items()},
    }
    if again is not None:
        row["rerun_wall_s"] = again_wall
        row["rerun_cached_stages"] = again.cached
    return row


def run(quick: bool = False, compare: bool = False) -> dict[str, Any]:
    """``compare``: once more composite-only with the renderer's compiled shade/cull and
    surfel fit off (``avatar.COMPILED_PATHS``: their numpy references, what ran before issue
    17 §5) — old and new in one process, under the same load."""
    opts = GenerateOptions(
        n=1, seed=7, turns=(5, 5) if quick else (6, 6), head_px=128 if quick else 512
    )
    load_before = os.getloadavg()
    with_singles = one(opts, rerun=True)
    composite_only = one(dataclasses.replace(opts, per_speaker_videos=False), rerun=False)
    extra: dict[str, Any] = {}
    if compare:
        avatar_module.COMPILED_PATHS = False
        try:
            extra["composite_only_numpy_paths"] = one(
                dataclasses.replace(opts, per_speaker_videos=False), rerun=False
            )
        finally:
            avatar_module.COMPILED_PATHS = True
    return {
        "prompt": PROMPT,
        "head": RendererSettings.from_env().head,
        "head_px": opts.head_px,
        "refine_steps": opts.refine_steps,
        "goal_wall_over_duration": GOAL,
        "load_average_before": list(load_before),
        "load_average_after": list(os.getloadavg()),
        "with_per_speaker_videos": with_singles,
        "composite_only": composite_only,
        **extra,
        "note": (
            "model loading (first use of each core) is inside the stage that uses it; 2 CPU "
            "cores shared with other processes (see the load averages)"
        ),
    }


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:], compare="--compare" in sys.argv[1:])
    path = write_result("e2e", result)
    print(json.dumps(result, indent=2))
    for key in ("with_per_speaker_videos", "composite_only", "composite_only_numpy_paths"):
        if key not in result:
            continue
        r = result[key]
        print(
            f"{key:24s} {r['conversation_s']:.1f} s conversation: wall {r['wall_s']:.1f} s = "
            f"{r['wall_over_duration']:.2f}× real time (render {r['render_over_duration']:.2f}×), "
            f"CPU {r['cpu_s_over_duration']:.2f} s per s"
        )
    print(f"load average {result['load_average_before']} → {result['load_average_after']}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
