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

OOD split: its speakers come from disjoint pools — first names (a fixed hash partition of the
identity module's name lists) and voices (British English ``en-gb-x-rp``/``en-gb-scotland``
with variants unused by train/test, which speak ``en-us``). Plain ``en-gb+<variant>`` is not
used: espeak-ng 1.51 ignores the variant for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from dyad.dataset.layout import SPLITS, metadata_line, motion_arrays, npz_bytes, wav_bytes
from dyad.domain import Dialogue, Identity, Sentence, Timeline, Turn
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.rigs import get_rig
from dyad.services.dialogue.speech.acoustics import render_room
from dyad.services.dialogue.speech.conversation import SAMPLE_RATE, TAIL_S, speak
from dyad.services.dialogue.speech.engines import SpeechEngine, make_engine
from dyad.services.dialogue.speech.voices import VoiceSpec, voice_for
from dyad.services.dialogue.writing.composer import OfflineComposer
from dyad.services.dialogue.writing.identities import (
    FEMININE_NAMES,
    MASCULINE_NAMES,
    NEUTRAL_NAMES,
)
from dyad.timebase import FPS, SAMPLES_PER_FRAME

FORMAT = "dyad.synthetic-dyadic/1"
P_INTER = 0.5
CANDIDATES = 3  # dialogues tried per clip for the one whose cut lands closest to target_s
ROOM_VARIANTS = 4  # room seeds per environment (impulse responses are cached, ~1 s each)

# -- prompt grid: topics by scenario family × relationships ----------------------------------
TOPICS: dict[str, tuple[str, ...]] = {
    "casual": ("planning a weekend camping trip", "learning to bake sourdough bread",
               "a broken washing machine", "choosing a film for Friday night",
               "redecorating the living room", "starting a vegetable garden",
               "training for a charity run", "adopting a rescue cat",
               "a road trip along the coast", "a new video game"),
    "professional": ("a missed project deadline", "asking for a pay rise",
                     "preparing a client presentation", "moving the team to a new office",
                     "a difficult performance review", "hiring a new developer",
                     "a budget cut for next quarter", "a mistake in the quarterly report",
                     "launching the new product in spring", "working from home"),
    "academic": ("a failed chemistry exam", "choosing a university", "writing a history essay",
                 "a group project that is falling behind", "applying for a scholarship",
                 "studying for the final exams", "a science fair experiment",
                 "picking a thesis topic", "learning to speak Spanish", "a maths homework problem"),
    "emotional": ("the death of the family dog", "losing a job", "a friend who moved abroad",
                  "feeling lonely after moving to a new city", "a breakup",
                  "worrying about money", "a fight with an old friend",
                  "stress before the wedding", "missing home", "a parent's illness"),
    "social": ("a surprise birthday party", "a wedding invitation", "meeting the new neighbours",
               "a family reunion at the lake", "an argument at dinner", "a friend's engagement",
               "organising the school fundraiser", "a holiday gift exchange",
               "volunteering at the food bank", "a barbecue this Saturday"),
}  # fmt: skip
HEALTH_TOPICS = ("trouble sleeping", "back pain that will not go away", "a hospital stay",
                 "test results", "a new medication", "feeling tired all the time")  # fmt: skip
_ALL = tuple(TOPICS)
# relationship phrase → scenario families it talks about ("health" = HEALTH_TOPICS, emotional)
RELATIONSHIPS: dict[str, tuple[str, ...]] = {
    "a mother and her son": _ALL, "a father and his daughter": _ALL,
    "two siblings": ("casual", "emotional", "social", "academic"),
    "a brother and sister": ("casual", "emotional", "social"),
    "two colleagues": ("professional", "social", "casual", "emotional"),
    "a couple": ("casual", "emotional", "social"), "a husband and wife": ("casual", "emotional"),
    "a boss and an employee": ("professional", "emotional"),
    "a teacher and a student": ("academic", "emotional"), "two friends": _ALL,
    "two strangers": ("casual", "social"), "a doctor and a patient": ("health",),
    "a grandmother and her grandson": ("casual", "emotional", "social", "academic"),
    "a grandfather and his granddaughter": ("casual", "emotional", "social"),
    "two roommates": ("casual", "social", "academic"), "two neighbours": ("social", "casual"),
    "two classmates": ("academic", "social", "casual"),
}  # fmt: skip
_TEMPLATES = ("{rel} talk about {topic}", "{rel} discussing {topic}", "{rel} chat about {topic}",
              "{rel} having a conversation about {topic}")  # fmt: skip
GRID: tuple[tuple[str, str, str], ...] = tuple(
    (rel, topic, "emotional" if fam == "health" else fam)
    for rel, fams in RELATIONSHIPS.items()
    for fam in fams
    for topic in (HEALTH_TOPICS if fam == "health" else TOPICS[fam])
)
# a stride near len·(golden ratio − 1), coprime to len: neighbours land far apart in the grid
_STRIDE = next(s for s in range(int(len(GRID) * 0.618), 10**6) if math.gcd(s, len(GRID)) == 1)


def prompt_for(i: int, rng: random.Random) -> tuple[str, str]:
    """(prompt, scenario family) of clip ``i``: consecutive indices walk the whole grid
    (a stride coprime to its size); ``rng`` picks the phrasing."""
    rel, topic, family = GRID[(i * _STRIDE) % len(GRID)]
    return rng.choice(_TEMPLATES).format(rel=rel, topic=topic), family


def split_of(index: int, splits: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """Split of a clip from its index alone: Fibonacci hashing spreads u = frac(i·φ) evenly,
    so even a few clips follow the fractions (10 clips at 0.8/0.1/0.1 → 8/1/1)."""
    u = ((index * 0x9E3779B97F4A7C15) % 2**64) / 2**64
    return "train" if u < splits[0] else "test" if u < splits[0] + splits[1] else "ood"


# -- identity and voice pools ----------------------------------------------------------------
def _fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isalpha()).lower()


def _ood_names(names: tuple[str, ...]) -> frozenset[str]:
    """A fixed quarter of each name list (by hash rank, so list order does not matter)."""
    ranked = sorted(
        names, key=lambda n: hashlib.sha256(f"dyad.corpus:{_fold(n)}".encode()).digest()
    )
    return frozenset(ranked[: max(2, len(names) // 4)])


NAME_POOLS: dict[str, dict[str, tuple[str, ...]]] = {"main": {}, "ood": {}}
for _gender, _names in (("feminine", FEMININE_NAMES), ("masculine", MASCULINE_NAMES),
                        ("androgynous", NEUTRAL_NAMES)):  # fmt: skip
    _ood = _ood_names(_names)
    NAME_POOLS["ood"][_gender] = tuple(n for n in _names if n in _ood)
    NAME_POOLS["main"][_gender] = tuple(n for n in _names if n not in _ood)
VOICE_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "main": {"language": ("en-us",), "feminine": ("f2", "f3", "f4"),
             "masculine": ("m2", "m3", "m4", "m6"), "androgynous": ("klatt2", "m5"),
             "child": ("f3", "f4")},
    "ood": {"language": ("en-gb-x-rp", "en-gb-scotland"), "feminine": ("f1", "f5", "steph"),
            "masculine": ("m1", "m7", "m8"), "androgynous": ("klatt3", "klatt4"),
            "child": ("f5", "steph")},
}  # fmt: skip


def pool_of(split: str) -> str:
    """Identity/voice pool of a split: train and test share one, ood has its own."""
    if split not in SPLITS:
        raise InvalidInput("split", f"{split!r} is not one of {list(SPLITS)}")
    return "ood" if split == "ood" else "main"


_WORD = re.compile(r"[^\W\d_]+")


def recast(dialogue: Dialogue, split: str, rng: random.Random) -> Dialogue:
    """The dialogue with both speakers renamed and revoiced from ``split``'s pools (gender,
    age, looks and surname kept); their first names are replaced in the text, and "Mom"/"Mum"
    follows the new accent."""
    pool = pool_of(split)
    voices = VOICE_POOLS[pool]
    said = {_fold(w) for t in dialogue.turns for s in t.sentences for w in _WORD.findall(s.text)}
    new: list[Identity] = []
    for ident in (dialogue.speaker_a, dialogue.speaker_b):
        taken = said | {_fold(n.name.split()[0]) for n in new}
        names = NAME_POOLS[pool][ident.gender_presentation]
        first = rng.choice([n for n in names if _fold(n) not in taken] or list(names))
        kind = "child" if ident.age_band == "child" else ident.gender_presentation
        used = {n.voice.split("+")[-1] for n in new}
        variant = rng.choice([v for v in voices[kind] if v not in used] or list(voices[kind]))
        voice = f"{rng.choice(voices['language'])}+{variant}"
        surname = ident.name.split()[-1] if " " in ident.name else ""
        new.append(replace(ident, name=f"{first} {surname}".strip(), voice=voice))
        if voice_for(new[-1]).espeak_voice != voice:
            raise FailedPrecondition(f"espeak-ng lacks voice {voice}: run `make setup`")
    swap = {ident.name.split()[0]: n.name.split()[0] for ident, n in zip(
        (dialogue.speaker_a, dialogue.speaker_b), new, strict=True)}  # fmt: skip
    swap.update({"Mom": "Mum"} if pool == "ood" else {"Mum": "Mom"})
    # not after a title: "Mr Chen" is a surname even when another speaker is called Chen
    titles = "".join(f"(?<!{t} )" for t in ("Mr", "Ms", "Doctor", "Professor"))
    words = "|".join(map(re.escape, swap))
    pattern = re.compile(rf"(?<![^\W\d_]){titles}({words})(?![^\W\d_])")
    turns = tuple(
        Turn(t.speaker, tuple(
            Sentence(pattern.sub(lambda m: swap[m.group(1)], s.text), s.emotion)
            for s in t.sentences))
        for t in dialogue.turns
    )  # fmt: skip
    return replace(dialogue, speaker_a=new[0], speaker_b=new[1], turns=turns)


# -- one clip ----------------------------------------------------------------------------------
class Animator(Protocol):
    def animate(
        self, track_a: np.ndarray, track_b: np.ndarray, timeline: Timeline, *, seed: int, rig: str
    ) -> tuple[np.ndarray, np.ndarray]: ...


def default_animator() -> Animator:
    from dyad.services.motion.procedural.animator import ProceduralAnimator

    return ProceduralAnimator()


class _CachedEngine:
    """Remembers each (text, voice, emotion): the measured dialogue is spoken again, cut."""

    def __init__(self, engine: SpeechEngine) -> None:
        self.engine, self.name = engine, engine.name
        self.cache: dict[tuple[str, VoiceSpec, Any], np.ndarray] = {}

    def synthesize(self, text: str, voice: VoiceSpec, emotion: Any) -> np.ndarray:
        key = (text, voice, emotion)
        if key not in self.cache:
            self.cache[key] = self.engine.synthesize(text, voice, emotion)
        return self.cache[key]


@dataclass(frozen=True)
class ClipResult:
    clip_id: str
    index: int
    split: str
    rig: str
    audio_a: np.ndarray  # [N] float32, 16 kHz
    audio_b: np.ndarray  # [N] float32
    motion_a: np.ndarray  # [T, C] float32, T = ceil(N / 640)
    motion_b: np.ndarray
    timeline: Timeline
    dialogue: Dialogue  # the spoken part (may be shorter than a full 5-turn dialogue)
    metadata: dict[str, Any]


def clip_id(index: int) -> str:
    return f"synth_{index:06d}"


def clip_seed(seed: int, index: int) -> int:
    digest = hashlib.sha256(f"dyad.corpus:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _cut(
    dialogue: Dialogue, engine: SpeechEngine, seed: int, target_s: float
) -> tuple[Dialogue, float]:
    """The prefix of ``dialogue``, ending after a whole sentence with speaker B heard at least
    once, whose spoken length is closest to ``target_s`` → (prefix, |error| in seconds)."""
    tl = speak(dialogue, engine, seed=seed, p_inter=P_INTER, room=False).timeline
    best: tuple[float, int, int] | None = None
    count: dict[int, int] = {}
    for seg in (s for s in tl.segments if s.kind == "sentence"):
        count[seg.turn_index] = count.get(seg.turn_index, 0) + 1
        err = abs(seg.end_s + TAIL_S - target_s)
        if seg.turn_index >= 1 and (best is None or err < best[0]):
            best = (err, seg.turn_index, count[seg.turn_index])
    assert best is not None, "a dialogue has at least two turns"
    err, turn, kept = best
    turns = (
        *dialogue.turns[:turn],
        replace(dialogue.turns[turn], sentences=dialogue.turns[turn].sentences[:kept]),
    )
    return replace(dialogue, turns=turns), err


def synthesize_clip(
    index: int,
    seed: int,
    *,
    split: str,
    rig: str,
    target_s: float = 20.0,
    animator: Animator | None = None,
    engine: SpeechEngine | None = None,
) -> ClipResult:
    """Clip ``index`` of the corpus with ``seed``: a dialogue from ``prompt_for``, recast for
    ``split``, cut at a sentence end to ≈ ``target_s`` (the best of up to ``CANDIDATES``
    dialogues), spoken by espeak with interactive words (p_inter 0.5) in one of
    ``ROOM_VARIANTS`` rooms of its environment, and animated for ``rig``."""
    rig_obj = get_rig(rig)
    cseed = clip_seed(seed, index)
    rng = random.Random(cseed)
    prompt, scenario = prompt_for(index, rng)
    engine = _CachedEngine(engine or make_engine("espeak"))
    speak_seed = cseed % 2**31
    best: tuple[float, Dialogue, int] | None = None
    written = OfflineComposer().write(prompt, CANDIDATES, cseed, scenario=scenario)
    for candidate in written:
        cut, err = _cut(recast(candidate, split, rng), engine, speak_seed, target_s)
        if best is None or err < best[0]:
            best = (err, cut, len(candidate.turns))
        if err <= max(0.5, 0.1 * target_s):
            break
    assert best is not None
    _, dialogue, turns_written = best
    dialogue = replace(dialogue, dialogue_id=clip_id(index))
    conv = speak(dialogue, engine, seed=speak_seed, p_inter=P_INTER, room=False)
    room_seed = cseed % ROOM_VARIANTS
    audio_a, audio_b = render_room(conv.track_a, conv.track_b, dialogue.environment, room_seed)
    _single_thread_torch()
    animator = animator or default_animator()
    motion_a, motion_b = animator.animate(audio_a, audio_b, conv.timeline, seed=speak_seed, rig=rig)
    frames = math.ceil(audio_a.size / SAMPLES_PER_FRAME)
    for name, m in (("motion_a", motion_a), ("motion_b", motion_b)):
        if m.shape != (frames, rig_obj.num_channels):
            raise FailedPrecondition(
                f"animator gave {name} {m.shape}, expected {(frames, rig_obj.num_channels)}"
            )
    motion_a = rig_obj.validate(motion_a, field_name="motion_a")
    motion_b = rig_obj.validate(motion_b, field_name="motion_b")
    tl = conv.timeline
    meta = {
        "clip": clip_id(index), "index": index, "split": split, "seed": seed, "clip_seed": cseed,
        "rig": rig, "fps": FPS, "sample_rate": SAMPLE_RATE, "frames": frames,
        "duration_s": round(tl.duration_s, 6), "prompt": prompt, "scenario": dialogue.scenario,
        "environment": dialogue.environment, "room_seed": room_seed,
        "relation": dialogue.relation.to_dict(),
        "identities": {"a": dialogue.speaker_a.to_dict(), "b": dialogue.speaker_b.to_dict()},
        "emotions": [{"speaker": s.speaker, "category": s.emotion.category,
                      "intensity": s.emotion.intensity, "start_s": round(s.start_s, 6),
                      "end_s": round(s.end_s, 6)} for s in tl.segments if s.kind == "sentence"],
        "turns_spoken": len(dialogue.turns), "turns_written": turns_written,
        "timeline": tl.to_dict(),
    }  # fmt: skip
    return ClipResult(clip_id(index), index, split, rig, audio_a, audio_b, motion_a, motion_b,
                      tl, dialogue, meta)  # fmt: skip


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


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")  # fmt: skip
_IN_WORKER = False


@contextlib.contextmanager
def _single_thread_env() -> Iterator[None]:
    """BLAS/OpenMP thread counts are read when a library loads: set before workers spawn."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update(dict.fromkeys(_THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _single_thread_torch() -> None:
    if _IN_WORKER and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


_WORKER: dict[str, Any] = {}


def _init_worker(animator_factory: Callable[[], Animator]) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    _WORKER["factory"] = animator_factory


def _work(out: str, index: int, seed: int, split: str, rig: str, target_s: float) -> dict[str, Any]:
    if "engine" not in _WORKER:
        _WORKER["engine"] = make_engine("espeak")
        _single_thread_torch()
        _WORKER["animator"] = _WORKER["factory"]()
    clip = synthesize_clip(index, seed, split=split, rig=rig, target_s=target_s,
                           animator=_WORKER["animator"], engine=_WORKER["engine"])  # fmt: skip
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
        settings = {"format": FORMAT, "seed": seed, "rig": rig, "splits": list(fr),
                    "target_s": target_s, "p_inter": P_INTER, "sample_rate": SAMPLE_RATE,
                    "fps": FPS}  # fmt: skip
        _check_manifest(out, settings)
        for split in SPLITS:
            (out / split).mkdir(exist_ok=True)
            for stale in (out / split).glob(".*.tmp"):
                stale.unlink()
        split_of_i = {i: split_of(i, fr) for i in range(n)}
        todo = [i for i in range(n) if not finished(out, i, split_of_i[i])]
        rebuild_metadata(out)
        audio_s = 0.0
        bar = tqdm(total=n, initial=n - len(todo), unit="clip", desc="corpus", file=sys.stderr,
                   disable=not progress)  # fmt: skip
        with (
            bar,
            _single_thread_env(),
            ProcessPoolExecutor(
                min(workers, max(1, len(todo))), get_context("spawn"), _init_worker,
                (animator_factory,),
            ) as pool,
            open(out / "metadata.jsonl", "a", encoding="utf-8") as meta_file,
        ):  # fmt: skip
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
