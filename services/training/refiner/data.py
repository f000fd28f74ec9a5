"""Training data of the refiner from a DualTalk-layout corpus (``dyad dataset synth``).

Per pair (``RefinerClip``): the teacher's motion of both speakers (the target), their mel
features, the timeline from ``metadata.jsonl``, and the **motion model's output** (the input the
refiner meets in the pipeline): the bundled neural motion model (``neural/backend.py``'s
checkpoint) run over the clip with ``generate_pair``, each speaker given the partner's first
motion from the procedural animator re-run with seed ``clip_seed + 1`` (the service's path:
procedural first motion → model). It is cached beside the clip as
``<clip>_speaker{1,2}.refiner_input.npy`` (``ensure_inputs``).

``make_batch(clips, rng, …)`` draws training windows (numpy, raw units). Each sample is one
speaker ("self") in a window of ``window`` frames:

- **source** of the self and partner inputs: the motion model's output (p = ½) or the
  teacher's motion degraded (``degrade``: temporal smoothing, noise, amplitude, a time shift,
  zeroed listener segments);
- **task**: refine (p = 0.7: the hint is the self input everywhere, the target the teacher's
  motion) or infill (p = 0.3: a gap — the speaker's real silent segment in the window when
  there is one, else a random 15–120 frames — is hidden; outside it the hint is the teacher's
  motion or the input (½ each) and the target equals the hint there, so known frames are
  learnt as fixed, as sampling keeps them); the partner is off in half of the infill samples
  (SFBG's mode, eq. 7);
- the partner conditions are dropped with p = 0.1 otherwise (classifier-free guidance), the
  audio with p = 0.2 (requests without audio).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from dyad.dataset.reader import load_pair, scan
from dyad.domain import Timeline
from dyad.errors import InvalidInput
from dyad.media import load_audio
from dyad.services.motion.neural.backend import BUNDLED as MOTION_MODEL
from dyad.services.motion.neural.generate import generate_pair
from dyad.services.motion.neural.model import load_pretrained
from dyad.services.motion.procedural.animator import ProceduralAnimator
from dyad.services.refiner.sampler import WindowJob
from dyad.services.refiner.state import motion_style
from dyad.services.refiner.turns import (
    frame_conditions,
    identity_ids,
    silent_gaps,
    turn_spans,
)
from dyad.services.training.features import load_features

INPUT_SUFFIX = ".refiner_input.npy"


@dataclass(frozen=True)
class RefinerClip:
    """One pair in memory: teacher motion, motion-model output, features, conditions."""

    name: str
    teacher: dict[str, np.ndarray]  # "a"/"b" → [T, C]
    model_out: dict[str, np.ndarray]  # "a"/"b" → [T, C]
    feats: dict[str, np.ndarray]  # "a"/"b" → [T, A]
    frames: dict[str, np.ndarray]  # "a"/"b" → [T, 20]
    ids: dict[str, np.ndarray]  # "a"/"b" → [3]
    gaps: dict[str, list[tuple[int, int]]]  # silent gaps per speaker
    timeline: Timeline

    @property
    def num_frames(self) -> int:
        return int(self.teacher["a"].shape[0])


def _metadata(root: Path) -> dict[str, dict[str, Any]]:
    path = root / "metadata.jsonl"
    if not path.is_file():
        raise InvalidInput("data", f"{root} has no metadata.jsonl (a `dyad dataset synth` corpus)")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows[str(row["clip"])] = row
    return rows


def ensure_inputs(root: str | Path, split: str, *, progress: bool = False) -> int:
    """Cache the motion model's output for every pair of ``root/split``; returns the count."""
    root = Path(root)
    if not (root / split).is_dir():
        return 0
    meta, pairs = _metadata(root), scan(root, split)
    todo = [p for p in pairs if not p.npz_b.with_name(f"{p.clip}_speaker2{INPUT_SUFFIX}").is_file()]
    if not todo:
        return len(pairs)
    model, animator = load_pretrained(MOTION_MODEL), ProceduralAnimator()
    for pair in tqdm(todo, desc=f"motion-model inputs {split}", unit="clip", disable=not progress):
        row = meta[pair.clip]
        data = load_pair(pair, "arkit55")
        fa, fb = load_features(pair, data.frames)
        a, b = load_audio(pair.wav_a), load_audio(pair.wav_b)
        n = max(a.size, b.size)
        a, b = np.pad(a, (0, n - a.size)), np.pad(b, (0, n - b.size))
        seed = row["clip_seed"] % 2**31 + 1  # the corpus animates with clip_seed % 2**31
        first = animator.animate(a, b, Timeline.from_dict(row["timeline"]), seed=seed)
        fa_m, fb_m = (m[: data.frames] for m in first)
        rel = (row["relation"]["blood"], row["relation"]["equal"])
        with torch.no_grad():
            out = generate_pair(model, fa, fb, fa_m, fb_m, rel)
        for npz, m in ((pair.npz_a, out[0]), (pair.npz_b, out[1])):
            path = npz.with_name(npz.name[: -len(".npz")] + INPUT_SUFFIX)
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, np.asarray(m, np.float32), allow_pickle=False)
            tmp.replace(path)
    return len(pairs)


def load_clips(root: str | Path, split: str) -> list[RefinerClip]:
    """Every pair of ``root/split`` with its cached inputs (``ensure_inputs`` first)."""
    root = Path(root)
    if not (root / split).is_dir():
        return []
    meta = _metadata(root)
    out = []
    for pair in scan(root, split):
        data = load_pair(pair, "arkit55")
        t = data.frames
        fa, fb = load_features(pair, t)
        model_out = {}
        for spk, npz in (("a", pair.npz_a), ("b", pair.npz_b)):
            path = npz.with_name(npz.name[: -len(".npz")] + INPUT_SUFFIX)
            if not path.is_file():
                raise InvalidInput("data", f"{path} missing: run ensure_inputs first")
            model_out[spk] = np.load(path)[:t].astype(np.float32)
        tl = Timeline.from_dict(meta[pair.clip]["timeline"])
        spans = turn_spans(tl, t)
        out.append(
            RefinerClip(
                pair.clip,
                {"a": data.motion_a, "b": data.motion_b},
                model_out,
                {"a": fa, "b": fb},
                frame_conditions(tl, t),
                {s: identity_ids(tl, s) for s in ("a", "b")},
                {s: silent_gaps(spans, s) for s in ("a", "b")},
                tl,
            )
        )
    return out


# -- degradations ---------------------------------------------------------------------------------
def degrade(
    motion: np.ndarray, gaps: list[tuple[int, int]], std: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A degraded copy of a teacher clip ``[T, C]`` (module doc); ``std`` ``[C]`` scales the
    noise per channel. At least one degradation is applied."""
    x = motion.astype(np.float64).copy()
    applied = False
    if rng.random() < 0.5:
        x = gaussian_filter1d(x, rng.uniform(1.0, 4.0), axis=0, mode="nearest")
        applied = True
    if rng.random() < 0.3:
        mean = x.mean(0)
        x = mean + (x - mean) * rng.uniform(0.6, 1.2)
        applied = True
    if rng.random() < 0.3:
        shift = int(rng.integers(-3, 4))
        x = np.roll(x, shift, axis=0)
        if shift > 0:
            x[:shift] = x[shift]
        elif shift < 0:
            x[shift:] = x[shift - 1]
        applied = True
    if rng.random() < 0.3 and gaps:
        for g0, g1 in gaps:
            x[g0:g1] = 0.0
        applied = True
    if rng.random() < 0.5 or not applied:
        x = x + rng.standard_normal(x.shape) * std * rng.uniform(0.1, 0.5)
    return x.astype(np.float32)


# -- batches --------------------------------------------------------------------------------------
def _gap_in(
    window: tuple[int, int],
    clip: RefinerClip,
    spk: str,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """A gap inside the window (window-relative): a real silent gap if one fits, else random."""
    w0, w1 = window
    n = w1 - w0
    real = [
        (max(g0, w0 + 1) - w0, min(g1, w1 - 1) - w0)
        for g0, g1 in clip.gaps[spk]
        if min(g1, w1 - 1) - max(g0, w0 + 1) >= 10
    ]
    if real and rng.random() < 0.5:
        return real[int(rng.integers(len(real)))]
    length = int(rng.integers(15, min(120, n - 2) + 1))
    start = int(rng.integers(1, n - length))
    return start, start + length


def make_batch(
    clips: list[RefinerClip],
    rng: np.random.Generator,
    *,
    batch_size: int,
    window: int,
    motion_std: np.ndarray,
) -> tuple[list[WindowJob], np.ndarray]:
    """``batch_size`` training windows (module doc) as ``WindowJob`` s (the sampler's own input
    type, so training and sampling prepare conditions identically) and their targets
    ``[B, window, C]`` (raw units)."""
    usable = [c for c in clips if c.num_frames >= window]
    if not usable:
        raise InvalidInput("data", f"no clip has {window} frames")
    weights = np.array([c.num_frames - window + 1 for c in usable], np.float64)
    jobs, targets = [], []
    for _ in range(batch_size):
        clip = usable[int(rng.choice(len(usable), p=weights / weights.sum()))]
        spk = "a" if rng.random() < 0.5 else "b"
        other = "b" if spk == "a" else "a"
        w0 = int(rng.integers(0, clip.num_frames - window + 1))
        sl = slice(w0, w0 + window)
        if rng.random() < 0.5:
            src = clip.model_out
        else:
            src = {s: degrade(clip.teacher[s], clip.gaps[s], motion_std, rng) for s in ("a", "b")}
        target = clip.teacher[spk][sl]
        hint, mask = src[spk][sl].copy(), np.ones(window, bool)
        partner_on = rng.random() >= 0.1
        if rng.random() < 0.3:  # infill
            g0, g1 = _gap_in((w0, w0 + window), clip, spk, rng)
            if rng.random() < 0.5:
                hint = target.copy()
            mask[g0:g1] = False
            target = np.where(mask[:, None], hint, target)
            partner_on = rng.random() < 0.5
        audio_on = rng.random() >= 0.2
        jobs.append(
            WindowJob(
                hint=hint,
                hint_mask=mask,
                partner=src[other][sl],
                frames=clip.frames[spk][sl],
                style=motion_style(src[spk]),
                ids=clip.ids[spk],
                audio_self=clip.feats[spk][sl] if audio_on else None,
                audio_partner=clip.feats[other][sl] if audio_on else None,
                use_partner=bool(partner_on),
            )
        )
        targets.append(target)
    return jobs, np.stack(targets).astype(np.float32)
