"""Dialogue speed: a 10-turn dialogue spoken as a conversation, × real time (medians).

Written by the offline composer (10 turns forced by picking a seed that gives 10), spoken by
espeak-ng with interactive words, rendered in a room: ``speak`` end to end, and the pieces
(speech only, room only) in the same run. ``python -m bench.dialogue`` writes
``bench/results/dialogue-<hostname>.json``.
"""

from __future__ import annotations

import json
from typing import Any

from bench.common import median_s, write_result
from dyad.services.dialogue.speech.acoustics import render_room
from dyad.services.dialogue.speech.conversation import speak
from dyad.services.dialogue.speech.voicebox import make_engine
from dyad.services.dialogue.writing.composer import OfflineComposer

PROMPT = "two old friends plan a weekend hiking trip in the mountains"


def ten_turn_dialogue() -> Any:
    composer = OfflineComposer()
    for seed in range(200):
        (d,) = composer.write(PROMPT, 1, seed)
        if len(d.turns) == 10:
            return d
    raise RuntimeError("no 10-turn dialogue in 200 seeds")


def main(repeat: int = 5) -> None:
    dialogue = ten_turn_dialogue()
    engine = make_engine("espeak")
    conv = speak(dialogue, engine, seed=1)
    audio_s = conv.timeline.duration_s
    full = median_s(lambda: speak(dialogue, engine, seed=1), repeat)
    dry = median_s(lambda: speak(dialogue, engine, seed=1, room=False), repeat)
    env = dialogue.environment
    room = median_s(lambda: render_room(conv.track_a, conv.track_b, env, 1), repeat)
    result = {
        "turns": len(dialogue.turns),
        "sentences": sum(len(t.sentences) for t in dialogue.turns),
        "audio_s": audio_s,
        "speak_with_room": {"median_s": full, "x_realtime": audio_s / full},
        "speak_without_room": {"median_s": dry, "x_realtime": audio_s / dry},
        "room_only": {"median_s": room, "environment": dialogue.environment},
    }
    print(json.dumps(result, indent=2))
    print(f"written to {write_result('dialogue', result)}")


if __name__ == "__main__":
    main()
