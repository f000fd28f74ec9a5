"""Before/after of the face-unit corrections (``heads/human/face_units.py``) as the face reader
sees them, next to the reader's ceiling on real faces.

Inputs are two ``bench.face_reader`` JSON results of the ``human`` head on the same renderer,
one without the corrections ("before") and one with them ("after"), and the
``bench.face_ceiling`` JSON. For every channel: median r and gain before and after, readable
before/after (median r ≥ 0.8 and gain ≥ 0.1), the gain multiplier applied (or "rebuilt": the
unit's shape is built from the mesh, ``face_units_rebuilt``), the reader's pooled
p99 on the real recordings, and the verdict for a channel still not readable: "reader" where
the real-face p99 is under 0.1 (no evidence the reader can read it: either it cannot, as
MediaPipe issues #4436/#4450 report for cheekPuff, noseSneer*, eyeWide*, or the recordings
never made that expression, e.g. the jaw sideways), "rig" otherwise (real faces move the
reader's score; our unit does not, yet).

``python -m bench.face_units --before B.json --after A.json [--ceiling C.json]`` writes
``bench/results/face_units-<hostname>.{json,md}`` and prints the markdown.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from bench.common import RESULTS, write_result_and_markdown
from bench.face_ceiling import CEILING_LOW
from bench.face_reader import READABLE_GAIN, STRONG_R


def _readable(c: dict[str, Any]) -> bool:
    r, g = c["median_r"], c["mean_gain"]
    return not math.isnan(r) and r >= STRONG_R and g >= READABLE_GAIN


def compare(before: dict[str, Any], after: dict[str, Any], ceiling: dict[str, Any]) -> dict:
    from dyad.services.renderer.heads.human.face_units import GAINS
    from dyad.services.renderer.heads.human.face_units_rebuilt import REBUILT

    rows = {}
    for name, a in after["channels"].items():
        b = before["channels"][name]
        p99 = ceiling["pooled"].get(name, {}).get("p99", float("nan"))
        ok = _readable(a)
        rows[name] = {
            "gain_applied": GAINS.get(name, 1.0),
            "rebuilt": name in REBUILT,
            "before": {"median_r": b["median_r"], "gain": b["mean_gain"], "readable": _readable(b)},
            "after": {"median_r": a["median_r"], "gain": a["mean_gain"], "readable": ok},
            "real_p99": p99,
            "verdict": "readable" if ok else ("reader" if p99 < CEILING_LOW else "rig"),
        }

    def source(res: dict[str, Any]) -> str:
        return f"{res.get('time', '?')} on {res.get('machine', {}).get('hostname', '?')}"

    return {
        "before_run": source(before),
        "after_run": source(after),
        "readable_before": sum(r["before"]["readable"] for r in rows.values()),
        "readable_after": sum(r["after"]["readable"] for r in rows.values()),
        "ceiling_low": CEILING_LOW,
        "channels": rows,
    }


def markdown(res: dict[str, Any]) -> str:
    def f(x: float) -> str:
        return "—" if math.isnan(x) else f"{x:.2f}"

    rows = res["channels"]
    missing = [n for n, r in rows.items() if r["verdict"] != "readable"]
    lines = [
        "# Face-unit corrections: the face reader before and after",
        "",
        f"Readable (median r ≥ {STRONG_R} and gain ≥ {READABLE_GAIN}): "
        f"**{res['readable_before']} → {res['readable_after']}** / {len(rows)}. "
        f"verdict: `reader` = the reader's p99 on real faces is under {res['ceiling_low']} "
        "(bench/results/face_ceiling): no evidence it can read the channel at all (it cannot, "
        "or the recordings never make that expression); `rig` = real faces move the reader's "
        "score, our unit does not.",
        "",
        f"Runs: before {res['before_run']}, after {res['after_run']} (the same renderer; "
        "`python -m bench.face_reader --head human --out …`).",
        "",
        "- not readable, reader-limited: "
        + ", ".join(n for n in missing if rows[n]["verdict"] == "reader"),
        "- not readable, rig-limited: "
        + ", ".join(n for n in missing if rows[n]["verdict"] == "rig"),
        "",
        "| channel | ×gain | r before | gain before | r after | gain after | real p99 | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def corrected(r: dict[str, Any]) -> bool:
        return r["gain_applied"] != 1.0 or r.get("rebuilt", False)

    order = sorted(rows, key=lambda n: (not corrected(rows[n]), rows[n]["verdict"], n))
    for n in order:
        r = rows[n]
        b, a = r["before"], r["after"]
        lines.append(
            f"| {n} | {'rebuilt' if r.get('rebuilt') else format(r['gain_applied'], 'g')} | "
            f"{f(b['median_r'])} | {f(b['gain'])} | "
            f"{f(a['median_r'])} | {f(a['gain'])} | {f(r['real_p99'])} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.face_units", description=__doc__)
    p.add_argument("--before", type=Path, required=True)
    p.add_argument("--after", type=Path, required=True)
    p.add_argument("--ceiling", type=Path, default=None, help="face_ceiling JSON")
    args = p.parse_args(argv)
    ceiling_path = args.ceiling or next(RESULTS.glob("face_ceiling-*.json"))
    res = compare(*(json.loads(x.read_text()) for x in (args.before, args.after, ceiling_path)))
    write_result_and_markdown("face_units", res, markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
