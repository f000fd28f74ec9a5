"""``make demo``: ``dyad generate`` on a built-in prompt; prints where the video is. It goes
through the ``dyad`` command line, so the library imports no service."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dyad.cli import main as dyad

PROMPT = "Two old friends meet in a café and plan a weekend trip to Lisbon"
OUT = Path(os.environ.get("DYAD_DEMO_OUT", "demo-output"))


def main(argv: list[str] | None = None) -> int:
    print(f"dyad demo: {PROMPT!r} → {OUT}/ (every stage on this machine; a few minutes)")
    t0 = time.perf_counter()
    rc = dyad(["generate", "--prompt", PROMPT, "--turns", "5-6", "--seed", "7", "--out", str(OUT)])
    if rc == 0:
        videos = sorted(OUT.glob("*/conversation.mp4"))
        wall = time.perf_counter() - t0
        print(f"dyad demo: done in {wall:.0f} s — play {videos[0] if videos else OUT}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
