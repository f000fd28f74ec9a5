"""One clip of the synthetic corpus: prompt → dialogue → two voices in a room → two faces.

``synthesize_clip(index, seed, split=…, rig=…)`` is a pure function of (seed, index, split,
rig, target_s): its seeds come from a hash of (seed, index) (``clip_seed``). In the build's
workers torch runs single-threaded (``enter_worker``), so the worker count does not change a
byte. The prompt, the split's speakers and voices are ``casting``'s; the files are written by
``synth``.
"""

from __future__ import annotations

import hashlib
import math
import random
import sys
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from dyad.dataset.layout import timeline_metadata
from dyad.domain import Dialogue, Timeline
from dyad.errors import FailedPrecondition
from dyad.rigs import get_rig
from dyad.services.corpus.casting import prompt_for, recast
from dyad.services.dialogue.speech.acoustics import render_room
from dyad.services.dialogue.speech.conversation import SAMPLE_RATE, TAIL_S, speak
from dyad.services.dialogue.speech.voicebox import SpeechEngine, make_engine
from dyad.services.dialogue.speech.voices import CastVoice, VoiceSpec
from dyad.services.dialogue.writing.composer import OfflineComposer
from dyad.services.motion.procedural.animator import ProceduralAnimator
from dyad.timebase import FPS, SAMPLES_PER_FRAME

P_INTER = 0.5
CANDIDATES = 3  # dialogues tried per clip for the one whose cut lands closest to target_s
ROOM_VARIANTS = 4  # room seeds per environment (impulse responses are cached, ~1 s each)
_IN_WORKER = False


def enter_worker() -> None:
    """Mark this process as a build worker: torch, once loaded, runs on one thread."""
    global _IN_WORKER
    _IN_WORKER = True


def single_thread_torch() -> None:
    if _IN_WORKER and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


class Animator(Protocol):
    def animate(
        self, track_a: np.ndarray, track_b: np.ndarray, timeline: Timeline, *, seed: int, rig: str
    ) -> tuple[np.ndarray, np.ndarray]: ...


def default_animator() -> Animator:
    return ProceduralAnimator()


class _CachedEngine:
    """Remembers each (text, voice, emotion): the measured dialogue is spoken again, cut."""

    def __init__(self, engine: SpeechEngine) -> None:
        self.engine, self.name = engine, engine.name
        self.voices, self.cast = engine.voices, engine.cast
        self.cache: dict[tuple[str, CastVoice | VoiceSpec, Any], np.ndarray] = {}

    def synthesize(self, text: str, voice: CastVoice | VoiceSpec, emotion: Any) -> np.ndarray:
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
    single_thread_torch()
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
        "clip": clip_id(index),
        "index": index,
        "split": split,
        "seed": seed,
        "clip_seed": cseed,
        "rig": rig,
        "fps": FPS,
        "sample_rate": SAMPLE_RATE,
        "frames": frames,
        **timeline_metadata(tl),
        "prompt": prompt,
        "scenario": dialogue.scenario,
        "environment": dialogue.environment,
        "room_seed": room_seed,
        "relation": dialogue.relation.to_dict(),
        "identities": {"a": dialogue.speaker_a.to_dict(), "b": dialogue.speaker_b.to_dict()},
        "turns_spoken": len(dialogue.turns),
        "turns_written": turns_written,
    }
    return ClipResult(
        clip_id(index), index, split, rig, audio_a, audio_b, motion_a, motion_b, tl, dialogue, meta
    )
