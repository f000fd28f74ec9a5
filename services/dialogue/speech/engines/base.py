"""What every speech engine shares: the engine interface, text checks and the finishing of audio.

A ``LocalEngine`` turns one sentence into audio at its own rate (``render``), applying the
prosody controls it has natively and naming them in ``Rendered.native``; ``dsp`` applies the
rest, resamples to 16 kHz and ``finish_audio`` trims and fades the ends.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dyad.errors import DeadlineExceeded, FailedPrecondition, InvalidInput, Unavailable
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo
from dyad.timebase import SAMPLE_RATE

MAX_TEXT_CHARS = 2000
#: A tag of SSML or any other markup: dialogue text is spoken, never interpreted.
MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^<>]*>")
#: Raised-cosine ramps at both ends of every sentence, so joins never click.
FADE_S = 0.005


@dataclass(frozen=True)
class Rendered:
    audio: np.ndarray  # [N] float32 mono at sample_rate
    sample_rate: int
    native: frozenset[str]  # prosody controls (prosody.CONTROLS) the engine applied itself
    #: what is left of a native tempo change, for ``dsp`` to apply (Piper's length scale
    #: is not proportional: ×1.22 gave only ×1.10 faster)
    residual_tempo: float = 1.0


class LocalEngine(Protocol):
    """A speech engine with its own voices (espeak, flite, RHVoice, Piper, an HTTP server)."""

    name: str

    def voices(self) -> tuple[VoiceInfo, ...]: ...

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered: ...


def frame_rms(x: np.ndarray, hop: int) -> np.ndarray:
    """``[x.size // hop]`` RMS of consecutive ``hop``-sample frames (float64)."""
    n = x.size // hop
    frames = x[: n * hop].astype(np.float64).reshape(n, hop)
    return np.sqrt(np.mean(frames**2, axis=1)) if n else np.zeros(0)


def speech_seconds(x: np.ndarray, sample_rate: int, floor_db: float = -40.0) -> float:
    """Seconds from the first to the last 10 ms frame within ``floor_db`` of the loudest."""
    hop = max(1, sample_rate // 100)
    rms = frame_rms(x, hop)
    if rms.size == 0:
        return 0.0
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (floor_db / 20))
    return float((loud[-1] - loud[0] + 1) * hop / sample_rate) if loud.size else 0.0


def check_text(text: object, field: str = "text") -> str:
    """Speakable text, whitespace collapsed; empty, over-long, control characters and markup
    are InvalidInput naming ``field``."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(field, "expected non-empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(field, f"{len(text)} characters; at most {MAX_TEXT_CHARS}")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise InvalidInput(field, "control characters are not allowed")
    return " ".join(text.split())


def check_no_markup(text: str, field: str) -> None:
    """Dialogue text with a markup tag (SSML injection: ``<prosody rate="x-slow">``) is refused;
    engines escape what reaches them anyway."""
    m = MARKUP.search(text)
    if m is not None:
        raise InvalidInput(
            field, f"markup is not allowed in spoken text (found {m.group(0)[:40]!r})"
        )


def finish_audio(x: np.ndarray, *, frame_s: float = 0.01, floor_db: float = -40.0) -> np.ndarray:
    """16 kHz mono → peak-safe float32, trimmed to ±1 frame around the first and last 10 ms frame
    within ``floor_db`` of the loudest one, with 5 ms fades at both ends. Raises
    InvalidInput("text") if nothing is audible."""
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.max(np.abs(x), initial=0.0))
    if peak > 0.99:
        x = x * np.float32(0.99 / peak)
    hop = max(1, round(frame_s * SAMPLE_RATE))
    rms = frame_rms(x, hop)
    loud = np.flatnonzero(rms >= max(rms.max(initial=0.0) * 10 ** (floor_db / 20), 1e-4))
    if loud.size == 0:
        raise InvalidInput("text", "the synthesiser produced no audible speech")
    start = max(0, (int(loud[0]) - 1) * hop)
    end = min(x.size, (int(loud[-1]) + 2) * hop)
    out = np.array(x[start:end], dtype=np.float32)
    n = min(round(FADE_S * SAMPLE_RATE), out.size // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def run_engine(
    name: str, cmd: list[str], timeout_s: float, missing: str
) -> subprocess.CompletedProcess[bytes]:
    """A speech program's argv (no shell): a missing binary is FailedPrecondition(``missing``),
    too slow is DeadlineExceeded, a failure is Unavailable with its stderr."""
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise FailedPrecondition(missing) from None
    except subprocess.TimeoutExpired:
        raise DeadlineExceeded(f"{name} took longer than {timeout_s} s") from None
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip()[:200]
        raise Unavailable(f"{name} failed (exit {done.returncode}): {err}")
    return done


def render_through_files(
    name: str,
    text: str,
    command: Callable[[str, str], tuple[list[str], frozenset[str]]],
    run: Callable[[list[str]], subprocess.CompletedProcess[bytes]],
) -> Rendered:
    """Text into a file, the program (``command(text_path, wav_path)`` → argv and the controls
    it applies) writes a WAV, read back at its own rate as mono float32. Text never reaches
    an argv, so a leading ``-`` or markup is just text."""
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix=f"dyad-{name.lower()}-") as tmp:
        text_path, wav_path = os.path.join(tmp, "text.txt"), os.path.join(tmp, "out.wav")
        with open(text_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        cmd, native = command(text_path, wav_path)
        done = run(cmd)
        try:
            audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError):
            err = done.stderr.decode("utf-8", "replace").strip()[:200]
            raise Unavailable(f"{name} wrote no audio: {err}") from None
    if audio.shape[0] == 0:
        raise Unavailable(f"{name} wrote an empty file")
    return Rendered(np.ascontiguousarray(audio.mean(axis=1), dtype=np.float32), int(rate), native)
