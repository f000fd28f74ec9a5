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

from dyad.domain import Dialogue, Emotion, Segment, SpeakerId, Timeline
from dyad.media import write_wav
from dyad.services.dialogue.speech.acoustics import render_room, stereo_mix
from dyad.services.dialogue.speech.engines import check_no_markup, check_text
from dyad.services.dialogue.speech.refinement import (
    BACKCHANNEL_EMOTION,
    pick_interactive_word,
    place_backchannel,
    refine_emotions,
)
from dyad.services.dialogue.speech.voicebox import SpeechEngine
from dyad.services.dialogue.speech.voices import CastVoice
from dyad.timebase import SAMPLE_RATE

LEAD_IN_S, TAIL_S = 0.4, 0.6
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
#: vocoder, engine subprocesses), so on 2 cores two at a time take about 0.6× as long.
_SPEECH_THREADS = max(1, min(4, os.cpu_count() or 1))


def _synthesize_all(
    engine: SpeechEngine, sentences: list[tuple[str, CastVoice, Emotion]]
) -> list[np.ndarray]:
    """Each ``(text, voice, emotion)`` spoken, in order (every engine is deterministic per
    sentence, so the threads change nothing but the time)."""
    if _SPEECH_THREADS == 1 or len(sentences) < 2:
        return [engine.synthesize(*s) for s in sentences]
    with ThreadPoolExecutor(_SPEECH_THREADS, thread_name_prefix="dyad-speech") as pool:
        return list(pool.map(lambda s: engine.synthesize(*s), sentences))


def speak(
    dialogue: Dialogue,
    engine: SpeechEngine,
    *,
    seed: int = 0,
    p_inter: float = 0.5,
    room: bool = True,
    voices: Mapping[SpeakerId, tuple[str, str]] | None = None,
) -> Conversation:
    """Synthesise ``dialogue`` as an interactive two-track conversation (deterministic per seed).

    ``voices``: speaker → (voice id, the field it came from), overriding casting. Every
    sentence's text is checked (no markup) before anything is synthesised."""
    check_dialogue_text(dialogue)
    rng = np.random.default_rng(seed)
    dialogue = refine_emotions(dialogue, rng)
    speakers = {"a": dialogue.speaker_a, "b": dialogue.speaker_b}
    cast = engine.cast(speakers, dialogue.dialogue_id, voices)
    placed: list[tuple[Segment, np.ndarray]] = []
    spoken = iter(
        _synthesize_all(
            engine,
            [
                (s.text, cast[turn.speaker], s.emotion)
                for turn in dialogue.turns
                for s in turn.sentences
            ],
        )
    )
    t = LEAD_IN_S
    for ti, turn in enumerate(dialogue.turns):
        if ti > 0:
            t += float(rng.uniform(0.15, 0.45))  # turn-taking gap
        for si, sentence in enumerate(turn.sentences):
            audio = next(spoken)
            end = t + audio.size / SAMPLE_RATE
            seg = Segment(turn.speaker, "sentence", sentence.text, t, end, sentence.emotion, ti)
            placed.append((seg, audio))
            t = end + (sentence.emotion.pause_s if si < len(turn.sentences) - 1 else 0.0)
    duration = t + TAIL_S
    for seg, audio in [p for p in placed if p[0].kind == "sentence"]:
        word = pick_interactive_word(p_inter, rng)
        if word is None:
            continue
        listener: SpeakerId = "b" if seg.speaker == "a" else "a"
        bc_audio = engine.synthesize(word, cast[listener], BACKCHANNEL_EMOTION)
        start = place_backchannel(audio, seg.start_s, bc_audio.size / SAMPLE_RATE, SAMPLE_RATE, rng)
        if start is not None:
            end = start + bc_audio.size / SAMPLE_RATE
            placed.append(
                (Segment(listener, "backchannel", word, start, end, BACKCHANNEL_EMOTION), bc_audio)
            )
    n = int(np.ceil(duration * SAMPLE_RATE))
    dry = {"a": np.zeros(n, np.float32), "b": np.zeros(n, np.float32)}
    for seg, audio in placed:
        i = round(seg.start_s * SAMPLE_RATE)
        dry[seg.speaker][i : i + audio.size] += audio[: n - i]
    if room:
        track_a, track_b = render_room(dry["a"], dry["b"], dialogue.environment, seed)
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
