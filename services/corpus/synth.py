"""Synthetic dyadic corpus (CHAT-AVD-style): prompt → dialogue → two voices → two faces.

``build_corpus(out, n)`` writes DualTalk's layout, so DualTalk-style loaders read it unchanged::

    out/corpus.json                   build settings (a resumed build must use the same ones)
    out/metadata.jsonl                one JSON object per finished clip, sorted by clip index
    out/{train,test,ood}/synth_000042_speaker1.wav   speaker A, 16 kHz mono IEEE float32
    out/{train,test,ood}/synth_000042_speaker2.wav   speaker B
    out/{train,test,ood}/synth_000042_speaker{1,2}.npz  motion (keys below)
    out/{train,test,ood}/synth_000042.json           the clip's metadata line (sidecar)

The files and their keys are ``dyad.dataset.layout``'s; T = ceil(samples / 16000 · 25).

Clip ``i`` is a pure function of (seed, i, rig, target_s): its seeds come from a hash of
(seed, i), its split from ``split_of(i)``; workers run single-threaded, so the worker count
does not change a byte. Completion protocol: the four data files are written under hidden
``.<name>.tmp`` names and renamed; the sidecar is written (same way) last and is the only
completion mark. A resumed build deletes stale ``.tmp`` files, skips clips whose four files and
sidecar all exist, regenerates the rest (sidecar removed first), and rewrites
``metadata.jsonl`` from the sidecars — at the start (dropping lines a killed run left behind)
and at the end (sorted by index). In between, lines are appended as clips finish, by the one
process that holds ``out/.lock`` (an exclusive flock: a second concurrent build is refused).

Modules: ``casting`` (prompt grid, splits, the OOD split's disjoint name and voice pools),
``clip`` (one clip: dialogue, speech, room, animation), this one (files and the build).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dyad.config import environ
from dyad.dataset.layout import SPLITS, metadata_line, motion_arrays, npz_bytes, wav_bytes
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.services.corpus.casting import split_of
from dyad.services.corpus.clip import (
    P_INTER,
    Animator,
    ClipResult,
    clip_id,
    default_animator,
    enter_worker,
    single_thread_torch,
    synthesize_clip,
)
from dyad.services.dialogue.speech.conversation import SAMPLE_RATE
from dyad.services.dialogue.speech.voicebox import make_engine
from dyad.timebase import FPS

FORMAT = "dyad.synthetic-dyadic/1"


# -- files -------------------------------------------------------------------------------------
def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # unique: see build_corpus
    tmp.write_bytes(data)
    os.replace(tmp, path)


def clip_paths(out: Path, index: int, split: str) -> dict[str, Path]:
    base = out / split / clip_id(index)
    names = ("speaker1.wav", "speaker2.wav", "speaker1.npz", "speaker2.npz")
    paths = {n: base.with_name(f"{base.name}_{n}") for n in names}
    return {**paths, "sidecar": base.with_name(f"{base.name}.json")}


def write_clip(out: Path, clip: ClipResult) -> dict[str, Any]:
    """The four files, then the sidecar (the completion mark); returns the metadata."""
    p = clip_paths(out, clip.index, clip.split)
    p["sidecar"].parent.mkdir(parents=True, exist_ok=True)
    p["sidecar"].unlink(missing_ok=True)
    for name, audio in (("speaker1.wav", clip.audio_a), ("speaker2.wav", clip.audio_b)):
        _write(p[name], wav_bytes(audio))
    for name, m in (("speaker1.npz", clip.motion_a), ("speaker2.npz", clip.motion_b)):
        _write(p[name], npz_bytes(motion_arrays(m, clip.rig)))
    _write(p["sidecar"], (metadata_line(clip.metadata) + "\n").encode())
    return clip.metadata


def finished(out: Path, index: int, split: str) -> bool:
    return all(p.is_file() for p in clip_paths(out, index, split).values())


def rebuild_metadata(out: Path) -> int:
    """``metadata.jsonl`` from the sidecars of finished clips, sorted by index (atomic)."""
    rows = []
    for split in SPLITS:
        for side in (out / split).glob("synth_*.json"):
            meta = json.loads(side.read_text())
            if finished(out, meta["index"], split):
                rows.append((meta["index"], metadata_line(meta)))
    _write(out / "metadata.jsonl", "".join(f"{r}\n" for _, r in sorted(rows)).encode())
    return len(rows)


# -- the build ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusReport:
    out_dir: Path
    n: int
    generated: int
    skipped: int
    splits: dict[str, int]  # clips 0..n-1 per split
    audio_s: float  # seconds of conversation generated by this run
    wall_s: float

    @property
    def clips_per_min(self) -> float:
        return 60.0 * self.generated / self.wall_s if self.wall_s > 0 else 0.0


_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def _single_thread_env() -> contextlib.AbstractContextManager[None]:
    """BLAS/OpenMP thread counts are read when a library loads: set before workers spawn."""
    return environ(dict.fromkeys(_THREAD_VARS, "1"))


_WORKER: dict[str, Any] = {}


def _init_worker(animator_factory: Callable[[], Animator]) -> None:
    enter_worker()
    _WORKER["factory"] = animator_factory


def _work(out: str, index: int, seed: int, split: str, rig: str, target_s: float) -> dict[str, Any]:
    if "engine" not in _WORKER:
        _WORKER["engine"] = make_engine("espeak")
        single_thread_torch()
        _WORKER["animator"] = _WORKER["factory"]()
    clip = synthesize_clip(
        index,
        seed,
        split=split,
        rig=rig,
        target_s=target_s,
        animator=_WORKER["animator"],
        engine=_WORKER["engine"],
    )
    return write_clip(Path(out), clip)


def _check_manifest(out: Path, settings: dict[str, Any]) -> None:
    path = out / "corpus.json"
    if path.exists():
        old = json.loads(path.read_text())
        for key, value in settings.items():
            if old.get(key) != value:
                raise FailedPrecondition(
                    f"{out} holds a corpus built with {key}={old.get(key)!r}, not {value!r}"
                )
    _write(path, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())


def build_corpus(
    out_dir: str | Path,
    n: int,
    *,
    seed: int = 0,
    workers: int = 1,
    rig: str = "arkit55",
    splits: tuple[float, float, float] = (0.8, 0.1, 0.1),
    target_s: float = 20.0,
    progress: bool = True,
    animator_factory: Callable[[], Animator] = default_animator,
) -> CorpusReport:
    """Make sure clips 0..n-1 exist under ``out_dir`` (see the module doc); never deletes a
    finished clip. ``animator_factory`` (picklable, zero arguments) builds each worker's
    animator. Raises InvalidInput for bad arguments, FailedPrecondition when ``out_dir``
    holds a corpus with other settings or another build is writing to it."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInput("n", f"expected a non-negative integer, got {n!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 256:
        raise InvalidInput("workers", f"expected an integer in [1, 256], got {workers!r}")
    fractions = tuple(float(f) for f in splits)
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-6:
        raise InvalidInput("splits", f"expected three fractions summing to 1, got {splits!r}")
    if not 2.0 <= target_s <= 600.0:
        raise InvalidInput("target_s", f"expected 2–600 seconds, got {target_s!r}")
    rig = get_rig(rig).name
    fr = (fractions[0], fractions[1], fractions[2])
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FailedPrecondition(f"another build is writing to {out}") from None
        settings = {
            "format": FORMAT,
            "seed": seed,
            "rig": rig,
            "splits": list(fr),
            "target_s": target_s,
            "p_inter": P_INTER,
            "sample_rate": SAMPLE_RATE,
            "fps": FPS,
        }
        _check_manifest(out, settings)
        for split in SPLITS:
            (out / split).mkdir(exist_ok=True)
            for stale in (out / split).glob(".*.tmp"):
                stale.unlink()
        split_of_i = {i: split_of(i, fr) for i in range(n)}
        todo = [i for i in range(n) if not finished(out, i, split_of_i[i])]
        rebuild_metadata(out)
        audio_s = 0.0
        bar = tqdm(
            total=n,
            initial=n - len(todo),
            unit="clip",
            desc="corpus",
            file=sys.stderr,
            disable=not progress,
        )
        with (
            bar,
            _single_thread_env(),
            ProcessPoolExecutor(
                min(workers, max(1, len(todo))),
                get_context("spawn"),
                _init_worker,
                (animator_factory,),
            ) as pool,
            open(out / "metadata.jsonl", "a", encoding="utf-8") as meta_file,
        ):
            futures: set[Future[dict[str, Any]]] = {
                pool.submit(_work, str(out), i, seed, split_of_i[i], rig, target_s) for i in todo
            }
            try:
                while futures:
                    done, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in done:
                        meta = fut.result()
                        meta_file.write(metadata_line(meta) + "\n")
                        meta_file.flush()
                        audio_s += meta["duration_s"]
                        bar.update(1)
            except BaseException:
                for fut in futures:
                    fut.cancel()
                raise
        rebuild_metadata(out)
    counts = {s: sum(v == s for v in split_of_i.values()) for s in SPLITS}
    wall = time.perf_counter() - t0
    return CorpusReport(out, n, len(todo), n - len(todo), counts, audio_s, wall)
