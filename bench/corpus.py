"""Synthetic corpus speed: clips per minute and seconds of conversation per second.

Builds ``n`` clips of ≈ ``target_s`` seconds from scratch in a temporary directory with
``workers`` processes (offline composer → espeak-ng → room → procedural animator → files) and
extrapolates linearly to 100 clips. Worker start-up and the first room impulse responses of
each worker (cached afterwards, ~0.5–1.7 s per environment) are included, so small ``n``
over-estimates the per-clip cost. ``python -m bench.corpus`` writes
``bench/results/corpus-<hostname>.json``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench.common import write_result
from dyad.services.corpus.synth import build_corpus


def main(n: int = 10, target_s: float = 20.0, workers: int = 2, rig: str = "arkit55") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = build_corpus(
            Path(tmp) / "corpus", n, workers=workers, rig=rig, target_s=target_s, progress=False
        )
        files = [p for p in (Path(tmp) / "corpus").rglob("synth_*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        durations = [
            json.loads(line)["duration_s"]
            for line in (Path(tmp) / "corpus" / "metadata.jsonl").read_text().splitlines()
        ]
    clips_per_min = report.clips_per_min
    result: dict[str, Any] = {
        "n": n,
        "workers": workers,
        "rig": rig,
        "target_s": target_s,
        "wall_s": report.wall_s,
        "audio_s": report.audio_s,
        "clip_duration_s": {
            "min": min(durations),
            "max": max(durations),
            "mean": sum(durations) / len(durations),
        },
        "clips_per_min": clips_per_min,
        "audio_s_per_s": report.audio_s / report.wall_s,
        "extrapolated_100_clips_min": 100 / clips_per_min,
        "mib_per_clip": size / n / 2**20,
        "splits": report.splits,
    }
    print(json.dumps(result, indent=2))
    print(f"written to {write_result('corpus', result)}")


if __name__ == "__main__":
    main()
