"""Speech engines for the dialogue service: text, a voice and an emotion → audio.

Every engine returns float32 mono ``[N]`` at 16 kHz, peak-safe (|x| ≤ 1) and trimmed by energy
to at most ~10 ms of silence at either end, so timeline timestamps are tight. Two engines:

* ``EspeakEngine`` (default): the ``espeak-ng`` binary, one subprocess per sentence (~10 ms).
  Rate, pitch, amplitude and word gap go in as options, the pitch range as SSML ``<prosody
  range>`` around the XML-escaped text; no shell is involved.
* ``HttpSpeechEngine``: an OpenAI-compatible ``POST {base_url}/v1/audio/speech``; the emotion
  reaches it only as ``speed``.

Voices and the emotion → prosody table are in ``voices``.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np

from dyad.domain import Emotion
from dyad.errors import DeadlineExceeded, FailedPrecondition, InvalidInput, Unavailable
from dyad.media.audio import load_audio
from dyad.services.dialogue.speech.voices import VoiceSpec, prosody
from dyad.timebase import SAMPLE_RATE

MAX_TEXT_CHARS = 2000
_VOICE_ID = re.compile(r"^[^\s\x00-\x1f]{1,64}$")  # a named voice of an HTTP server


class SpeechEngine(Protocol):
    name: str

    def synthesize(self, text: str, voice: VoiceSpec, emotion: Emotion) -> np.ndarray: ...


def _check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text", "expected non-empty text")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput("text", f"{len(text)} characters; at most {MAX_TEXT_CHARS}")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise InvalidInput("text", "control characters are not allowed")
    return " ".join(text.split())


def finish_audio(x: np.ndarray, *, frame_s: float = 0.01, floor_db: float = -40.0) -> np.ndarray:
    """16 kHz mono → peak-safe float32, trimmed to ±1 frame around the first and last 10 ms frame
    within ``floor_db`` of the loudest one. Raises InvalidInput("text") if nothing is audible."""
    x = np.asarray(x, dtype=np.float32)
    peak = float(np.max(np.abs(x), initial=0.0))
    if peak > 1.0:
        x = x / np.float32(peak)
    hop = max(1, round(frame_s * SAMPLE_RATE))
    n_frames = x.size // hop
    frames = x[: n_frames * hop].reshape(n_frames, hop).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1)) if n_frames else np.zeros(0)
    loud = np.flatnonzero(rms >= max(rms.max(initial=0.0) * 10 ** (floor_db / 20), 1e-4))
    if loud.size == 0:
        raise InvalidInput("text", "the synthesiser produced no audible speech")
    start = max(0, (int(loud[0]) - 1) * hop)
    end = min(x.size, (int(loud[-1]) + 2) * hop)
    return np.ascontiguousarray(x[start:end], dtype=np.float32)


class EspeakEngine:
    """espeak-ng in a subprocess (no shell); ``voices.prosody`` gives the settings."""

    name = "espeak"

    def __init__(self, binary: str = "espeak-ng", timeout_s: float = 30.0) -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FailedPrecondition("espeak-ng not found: run `make setup`")
        self.binary, self.timeout_s = exe, float(timeout_s)

    def command(self, text: str, voice: VoiceSpec, emotion: Emotion) -> list[str]:
        """The argv for one sentence (text already checked)."""
        p = prosody(emotion, voice)
        ssml = f'<speak><prosody range="{p["range"]}">{escape(text)}</prosody></speak>'
        return [
            self.binary,
            "--stdout",
            "-m",
            "-z",
            "-v",
            voice.espeak_voice,
            "-s",
            str(p["rate"]),
            "-p",
            str(p["pitch"]),
            "-a",
            str(p["amplitude"]),
            "-g",
            str(p["word_gap"]),
            ssml,
        ]

    def synthesize(self, text: str, voice: VoiceSpec, emotion: Emotion) -> np.ndarray:
        cmd = self.command(_check_text(text), voice, emotion)
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=self.timeout_s, check=False)
        except FileNotFoundError:
            raise FailedPrecondition("espeak-ng not found: run `make setup`") from None
        except subprocess.TimeoutExpired:
            raise DeadlineExceeded(f"espeak-ng took longer than {self.timeout_s} s") from None
        if done.returncode != 0 or not done.stdout:
            err = done.stderr.decode("utf-8", "replace").strip()[:200]
            raise Unavailable(f"espeak-ng failed (exit {done.returncode}): {err}")
        try:
            audio = load_audio(done.stdout, SAMPLE_RATE)
        except InvalidInput:
            raise Unavailable("espeak-ng returned no audio") from None
        return finish_audio(audio)  # InvalidInput("text") when the text is unspeakable ("...")


class HttpSpeechEngine:
    """An OpenAI-compatible TTS server. ``timeout_s`` bounds the whole call, not each read.

    Voice: ``VoiceSpec.requested`` (the identity's voice string) when it is a single token of
    ≤ 64 characters, else ``default_voice``. HTTP errors (4xx/5xx) and unreachable servers are
    Unavailable naming the URL and status; running past the timeout is DeadlineExceeded.
    """

    name = "http"
    max_bytes = 200 * 1024 * 1024

    def __init__(
        self,
        base_url: str,
        model: str = "tts-1",
        api_key: str = "",
        timeout_s: float = 60.0,
        default_voice: str = "alloy",
    ) -> None:
        if not isinstance(base_url, str) or not re.match(r"^https?://[^\s/]+", base_url):
            raise InvalidInput("base_url", f"expected an http(s) URL, got {base_url!r}")
        if not timeout_s or timeout_s <= 0:
            raise InvalidInput("timeout_s", f"must be positive, got {timeout_s!r}")
        self.url = base_url.rstrip("/") + "/v1/audio/speech"
        self.model, self.api_key, self.timeout_s = model, api_key, float(timeout_s)
        self.default_voice = default_voice

    def synthesize(self, text: str, voice: VoiceSpec, emotion: Emotion) -> np.ndarray:
        name = voice.requested if _VOICE_ID.match(voice.requested) else self.default_voice
        body = json.dumps(
            {
                "model": self.model,
                "input": _check_text(text),
                "voice": name,
                "response_format": "wav",
                "speed": round(prosody(emotion, voice)["speed"], 3),
            }
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "audio/wav"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        deadline = time.monotonic() + self.timeout_s
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                content_type = resp.headers.get("Content-Type", "?")
                data = self._read(resp, deadline)
        except urllib.error.HTTPError as e:
            snippet = e.read(200).decode("utf-8", "replace").strip() if e.fp else ""
            raise Unavailable(f"{self.url} answered HTTP {e.code} {e.reason}: {snippet}") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                raise self._late() from None
            raise Unavailable(f"cannot reach {self.url}: {e.reason}") from None
        except TimeoutError:
            raise self._late() from None
        except (OSError, http.client.HTTPException) as e:  # reset mid-call, malformed reply
            raise Unavailable(f"{self.url} failed: {e!r}") from None
        try:
            return finish_audio(load_audio(data, SAMPLE_RATE))
        except InvalidInput as e:  # not audio, or only silence
            raise Unavailable(
                f"{self.url} returned no audio ({content_type}, {len(data)} bytes: {e.reason})"
            ) from None

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"{self.url} did not answer within {self.timeout_s} s")

    def _read(self, resp: Any, deadline: float) -> bytes:
        data = bytearray()
        while chunk := resp.read(65536):
            data += chunk
            if len(data) > self.max_bytes:
                raise Unavailable(f"{self.url} returned more than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError
        return bytes(data)


_SETTINGS = {
    "espeak": ("binary", "timeout_s"),
    "http": ("base_url", "model", "api_key", "timeout_s", "default_voice"),
}


def make_engine(name: str, **settings: Any) -> SpeechEngine:
    """ "espeak" | "http". Settings known to the other backend are ignored (callers may pass all
    speech settings at once); unknown ones and a missing http ``base_url`` are InvalidInput."""
    if name not in _SETTINGS:
        raise InvalidInput("speech_backend", f"{name!r} is not one of {sorted(_SETTINGS)}")
    known = {k for keys in _SETTINGS.values() for k in keys}
    for key in settings:
        if key not in known:
            raise InvalidInput(key, f"unknown speech setting (known: {sorted(known)})")
    mine = {k: v for k, v in settings.items() if k in _SETTINGS[name] and v is not None}
    if name == "espeak":
        return EspeakEngine(**mine)
    if not mine.get("base_url"):
        raise InvalidInput("base_url", "required for the http speech backend")
    return HttpSpeechEngine(**mine)
