"""Real spoken conversations for the motion tests, made by the dialogue service's own command
line (``dyad dialogue speak``): espeak-ng voices, interactive words, room acoustics.

The motion service consumes the dialogue service's output, never its code (a service does not
import another), so its tests do the same: the dialogue is written as JSON, spoken by the CLI
in a subprocess, and the tracks and timeline read back from the files it writes.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyad.domain import Dialogue, Timeline
from dyad.media import load_audio


@dataclass(frozen=True)
class Spoken:
    track_a: np.ndarray  # [N] float32, 16 kHz
    track_b: np.ndarray
    timeline: Timeline


def speak(dialogue: Dialogue, *, seed: int, p_inter: float) -> Spoken:
    """``dialogue`` spoken by ``dyad dialogue speak`` (cached per input within a session)."""
    text = json.dumps(dialogue.to_dict(), sort_keys=True)
    return _speak(text, seed, p_inter)


@functools.cache
def _speak(dialogue_json: str, seed: int, p_inter: float) -> Spoken:
    with tempfile.TemporaryDirectory(prefix="dyad-spoken-") as tmp:
        src, out = Path(tmp) / "dialogue.json", Path(tmp) / "out"
        src.write_text(dialogue_json)
        cmd = [sys.executable, "-m", "dyad.cli", "dialogue", "speak", "--dialogue", str(src)]
        cmd += ["--seed", str(seed), "--p-inter", str(p_inter), "--out", str(out)]
        # espeak-ng, whatever else is installed: the same audio on every machine (the default
        # ``auto`` picks the best installed voices, which differ between machines)
        env = {**os.environ, "DYAD_DIALOGUE_SPEECH": "espeak"}
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, done.stderr
        return Spoken(
            load_audio(out / "speaker_a.wav"),
            load_audio(out / "speaker_b.wav"),
            Timeline.from_dict(json.loads((out / "timeline.json").read_text())),
        )
