"""``make demo`` / ``make serve``: run the pipeline end to end — once its stages exist.

Until every stage service has landed this says which are missing and exits with status 1;
it never pretends to produce a video.
"""

from __future__ import annotations

import importlib.util
import sys

#: Pipeline order (DESIGN.md §1): stage, the module that must exist, what it does.
STAGES = (
    ("dialogue", "dyad.services.dialogue.core", "prompt → dialogue → speech (CHAT TDG/IAR)"),
    ("audio_encoder", "dyad.services.audio_encoder.core", "audio → features at 25 fps"),
    ("motion", "dyad.services.motion.core", "features → both speakers' motion"),
    ("refiner", "dyad.services.refiner.core", "diffusion refinement of the motion"),
    ("renderer", "dyad.services.renderer.core", "motion → Gaussian-avatar video"),
    ("pipeline", "dyad.pipeline", "orchestration, `dyad generate`, the job API"),
)


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    what = "serve" if "--serve" in args else "demo"
    missing = [(name, doc) for name, module, doc in STAGES if not _present(module)]
    for name, _module, doc in STAGES:
        mark = "missing" if (name, doc) in missing else "ready  "
        print(f"  [{mark}] {name:<14} {doc}")
    if missing:
        names = ", ".join(n for n, _ in missing)
        print(f"dyad {what}: not available yet — stages missing: {names}", file=sys.stderr)
        return 1
    from dyad.pipeline import run_demo  # lands with the pipeline

    return int(run_demo(serve=what == "serve"))


if __name__ == "__main__":
    raise SystemExit(main())
