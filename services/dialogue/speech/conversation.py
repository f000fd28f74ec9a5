"""Dyadic Audio Dialogue Generation (CHAT DADG): a dialogue → two tracks on one timeline.

Sentences are spoken in order, each speaker silent while the other talks; a pause follows each
sentence (its emotion's ``pause_s``) and a turn-taking gap each turn. Interactive words from
IAR land inside the partner's sentences. Both tracks then go through the same room
(``acoustics.render_room``) with a low noise floor, and a stereo mix puts A left-centre and
B right-centre. Output: ``speaker_a.wav``, ``speaker_b.wav`` (16 kHz mono float32, equal
length), ``mix.wav`` and ``timeline.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dyad.domain import Dialogue, SpeakerId, Timeline
from dyad.media import write_wav
from dyad.services.dialogue.speech.acoustics import (
    render_room,
    room_impulse_responses,
    stereo_mix,
)
from dyad.services.dialogue.speech.engines import check_no_markup, check_text
from dyad.services.dialogue.speech.layout import (
    LEAD_IN_S,
    TAIL_S,
    layout_pipelined,
    layout_serial,
)
from dyad.services.dialogue.speech.refinement import refine_emotions
from dyad.services.dialogue.speech.voicebox import SpeechEngine
from dyad.timebase import SAMPLE_RATE

__all__ = [
    "LEAD_IN_S",
    "OUTPUT_FILES",
    "SAMPLE_RATE",
    "TAIL_S",
    "Conversation",
    "check_dialogue_text",
    "speak",
]
OUTPUT_FILES = ("speaker_a.wav", "speaker_b.wav", "mix.wav", "timeline.json")


def check_dialogue_text(dialogue: Dialogue) -> None:
    """Every sentence speakable and free of markup, each error naming its field."""
    for ti, turn in enumerate(dialogue.turns):
        for si, sentence in enumerate(turn.sentences):
            field = f"dialogue.turns[{ti}].sentences[{si}].text"
            check_no_markup(check_text(sentence.text, field), field)


@dataclass(frozen=True)
class Conversation:
    dialogue: Dialogue
    timeline: Timeline
    track_a: np.ndarray  # [N] float32, 16 kHz
    track_b: np.ndarray  # [N] float32, 16 kHz
    mix: np.ndarray  # [N, 2] float32

    def write(self, out_dir: Path) -> list[Path]:
        """The four files, each written atomically; the timeline last, as the completion mark."""
        out_dir.mkdir(parents=True, exist_ok=True)
        write_wav(out_dir / "speaker_a.wav", self.track_a, SAMPLE_RATE, subtype="FLOAT")
        write_wav(out_dir / "speaker_b.wav", self.track_b, SAMPLE_RATE, subtype="FLOAT")
        write_wav(out_dir / "mix.wav", self.mix, SAMPLE_RATE, subtype="FLOAT")
        tmp = out_dir / ".timeline.json.part"
        tmp.write_text(json.dumps(self.timeline.to_dict(), indent=2, ensure_ascii=False) + "\n")
        tmp.replace(out_dir / "timeline.json")
        return [out_dir / f for f in OUTPUT_FILES]


#: Sentences synthesised at once: the engines run outside the GIL (onnxruntime, the WORLD
#: vocoder, engine subprocesses), so on 2 cores two at a time take about 0.6× as long. The
#: calling thread speaks the interactive words alongside them (``layout``).
_SPEECH_THREADS = max(1, min(4, os.cpu_count() or 1))


def speak(
    dialogue: Dialogue,
    engine: SpeechEngine,
    *,
    seed: int = 0,
    p_inter: float = 0.5,
    room: bool = True,
    voices: Mapping[SpeakerId, tuple[str, str]] | None = None,
    reference: bool = False,
) -> Conversation:
    """Synthesise ``dialogue`` as an interactive two-track conversation (deterministic per seed).

    ``voices``: speaker → (voice id, the field it came from), overriding casting. Every
    sentence's text is checked (no markup) before anything is synthesised. ``reference``:
    one thing at a time (``layout.layout_serial``, the room on one thread), the slow path
    the default one must equal sample for sample."""
    check_dialogue_text(dialogue)
    rng = np.random.default_rng(seed)
    dialogue = refine_emotions(dialogue, rng)
    speakers = {"a": dialogue.speaker_a, "b": dialogue.speaker_b}
    cast = engine.cast(speakers, dialogue.dialogue_id, voices)
    if reference:
        placed, duration = layout_serial(dialogue, engine, cast, rng, p_inter)
    else:
        # Work that needs no speech runs meanwhile, on the core that otherwise idles while
        # the first sentence loads a voice model (~1 s): the engine's preparation (Piper
        # phonemises every sentence) and the room's impulse responses (up to ~0.8 s, café).
        # Neither changes a sample; a bad environment or seed fails again in render_room.
        prepare = getattr(engine, "prepare", None)
        with ThreadPoolExecutor(2, thread_name_prefix="dyad-early") as early:
            if prepare is not None:
                early.submit(
                    prepare,
                    [
                        (s.text, cast[turn.speaker])
                        for turn in dialogue.turns
                        for s in turn.sentences
                    ],
                )
            if room:
                early.submit(room_impulse_responses, dialogue.environment, seed)
            placed, duration = layout_pipelined(
                dialogue, engine, cast, rng, p_inter, _SPEECH_THREADS
            )
    n = int(np.ceil(duration * SAMPLE_RATE))
    dry = {"a": np.zeros(n, np.float32), "b": np.zeros(n, np.float32)}
    for seg, audio in placed:
        i = round(seg.start_s * SAMPLE_RATE)
        dry[seg.speaker][i : i + audio.size] += audio[: n - i]
    if room:
        track_a, track_b = render_room(
            dry["a"], dry["b"], dialogue.environment, seed, parallel=not reference
        )
    else:
        track_a, track_b = dry["a"], dry["b"]
    segments = tuple(sorted((p[0] for p in placed), key=lambda s: (s.start_s, s.speaker)))
    timeline = Timeline(
        sample_rate=SAMPLE_RATE,
        duration_s=n / SAMPLE_RATE,
        speakers={s: replace(who, voice=cast[s].info.id) for s, who in speakers.items()},
        relation=dialogue.relation,
        sound_environment=dialogue.environment,
        segments=segments,
    )
    timeline.validate()
    return Conversation(dialogue, timeline, track_a, track_b, stereo_mix(track_a, track_b))
