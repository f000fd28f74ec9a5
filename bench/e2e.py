"""End to end, embedded: prompt → a ~30 s two-speaker conversation → every output at 512×512
per head, on this machine, from an empty store (no stage cached), per stage.

The reference in the same run is the conversation's own duration: the goal is a wall time
under 2× real time on 2 cores. A second run on the same store shows what a rerun (a
redelivered job) costs: every stage comes from the cache.

``python -m bench.e2e [--quick]`` writes ``bench/results/e2e-<hostname>.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import write_result
from dyad.services.worker.pipeline.embedded import EmbeddedStages
from dyad.services.worker.pipeline.orchestrator import GenerateOptions, Orchestrator
from dyad.storage import LocalStore

PROMPT = "Two old friends meet in a café and plan a weekend trip to Lisbon"


def run(quick: bool = False) -> dict[str, Any]:
    opts = GenerateOptions(
        n=1, seed=7, turns=(5, 5) if quick else (6, 6), head_px=128 if quick else 512
    )
    with tempfile.TemporaryDirectory() as tmp:
        orch = Orchestrator(EmbeddedStages(LocalStore(Path(tmp) / "store")))
        t0 = time.perf_counter()
        out = orch.generate(PROMPT, opts)[0]
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = orch.generate(PROMPT, opts)[0]
        rerun = time.perf_counter() - t0
    duration = out.timeline.duration_s
    stages = dict(out.timings_s)
    return {
        "prompt": PROMPT,
        "head_px": opts.head_px,
        "refine_steps": opts.refine_steps,
        "conversation_s": duration,
        "wall_s": wall,
        "wall_over_duration": wall / duration,
        "goal_wall_over_duration": 2.0,
        "stages_s": stages,
        "stage_share": {k: v / wall for k, v in stages.items()},
        "rerun_wall_s": rerun,
        "rerun_cached_stages": again.cached,
        "note": "model loading (first use of each core) is inside the stage that uses it",
    }


def main() -> None:
    result = run(quick="--quick" in sys.argv[1:])
    path = write_result("e2e", result)
    print(json.dumps(result, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
