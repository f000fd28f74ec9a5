"""Speech for the dialogue service: a voice per identity, emotional prosody, TTS engines.

Every engine returns float32 mono ``[N]`` at 16 kHz, peak-safe (|x| ≤ 1) and trimmed by energy
to at most ~10 ms of silence at either end, so timeline timestamps are tight. Two engines:

* ``EspeakEngine`` (default): the ``espeak-ng`` binary, one subprocess per sentence (~10 ms).
  Rate, pitch, amplitude and word gap go in as options, the pitch range as SSML ``<prosody
  range>`` around the XML-escaped text; no shell is involved.
* ``HttpSpeechEngine``: an OpenAI-compatible ``POST {base_url}/v1/audio/speech``; the emotion
  reaches it only as ``speed``.

Emotion → prosody (``prosody``). Each row is the deviation at intensity 1; intensity ``i``
scales it geometrically (``factor ** i``, the gap linearly), then the Emotion's own ``rate``,
``pitch`` and ``energy`` multipliers apply on top::

    category    rate×  f0×   loud×  range×  word gap (+10 ms)
    neutral     1.00   1.00  1.00   1.00    0
    happy       1.10   1.20  1.15   1.35    0
    sad         0.78   0.88  0.60   0.55    3
    angry       1.22   1.06  1.60   1.50    0
    surprised   1.08   1.25  1.20   1.70    0
    fearful     1.20   1.18  0.90   1.25    0
    disgusted   0.90   0.94  1.05   0.85    1
    contempt    0.92   0.95  0.95   0.70    1

espeak units: rate in words per minute (80–450); pitch 0–99, where +80 ≈ one octave
(measured on espeak-ng 1.51: p 25 → 175 Hz, p 75 → 266 Hz for en-us+f3); amplitude 0–200,
linear, neutral at 60 to leave headroom for loud emotions (espeak saturates near 0 dBFS);
range 0–99 (50 = the variant's own intonation range).
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import math
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np

from dyad.domain import AGE_BANDS, EMOTIONS, GENDERS, Emotion, Identity
from dyad.errors import DeadlineExceeded, FailedPrecondition, InvalidInput, Unavailable
from dyad.media.audio import load_audio
from dyad.timebase import SAMPLE_RATE

MAX_TEXT_CHARS = 2000
NEUTRAL_AMPLITUDE = 60
PITCH_UNITS_PER_OCTAVE = 80.0

_EMOTION_TABLE: dict[str, tuple[float, float, float, float, float]] = {
    "neutral": (1.00, 1.00, 1.00, 1.00, 0),
    "happy": (1.10, 1.20, 1.15, 1.35, 0),
    "sad": (0.78, 0.88, 0.60, 0.55, 3),
    "angry": (1.22, 1.06, 1.60, 1.50, 0),
    "surprised": (1.08, 1.25, 1.20, 1.70, 0),
    "fearful": (1.20, 1.18, 0.90, 1.25, 0),
    "disgusted": (0.90, 0.94, 1.05, 0.85, 1),
    "contempt": (0.92, 0.95, 0.95, 0.70, 1),
}
assert set(_EMOTION_TABLE) == set(EMOTIONS)
_EMOTION_LIMITS = {"intensity": (0.0, 1.0), "rate": (0.5, 2.0), "pitch": (0.5, 2.0),
                   "energy": (0.0, 2.0)}  # fmt: skip

# age band → (pitch offset, rate wpm, pitch range): children/teens higher and faster, seniors
# slower with a narrower range.
_AGE = {"child": (16, 190, 62), "teen": (8, 182, 56), "young_adult": (0, 175, 52),
        "adult": (-3, 166, 48), "senior": (-8, 145, 34)}  # fmt: skip
# gender presentation → (variants, pitch offset). Children use the f-variants (small vocal tract)
# whatever the presentation; androgynous voices sit between the two.
_GENDER = {"feminine": (("f1", "f2", "f3", "f4", "f5"), 6),
           "masculine": (("m1", "m2", "m3", "m4", "m5", "m6", "m7"), -4),
           "androgynous": (("f4", "f1", "m3", "m2"), 0)}  # fmt: skip
_VOICE_ID = re.compile(r"^[^\s\x00-\x1f]{1,64}$")  # a named voice of an HTTP server
_VOICE_RE = re.compile(r"^([a-z]{2,3}(?:-[a-z0-9]{1,8})*)(?:\+([A-Za-z0-9_-]{1,32}))?$")


@dataclass(frozen=True)
class VoiceSpec:
    """An espeak voice and its base prosody; ``requested`` is the identity's own voice string,
    verbatim, for engines with named voices."""

    language: str = "en-us"
    variant: str = ""
    base_pitch: int = 50
    base_rate: int = 175
    pitch_range: int = 50
    requested: str = ""

    def __post_init__(self) -> None:
        for name, lo, hi in (("base_pitch", 0, 99), ("base_rate", 80, 450), ("pitch_range", 0, 99)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise InvalidInput(f"voice.{name}", f"{value!r} is not an integer in [{lo}, {hi}]")
        if not _VOICE_RE.match(self.espeak_voice):
            raise InvalidInput("voice", f"{self.espeak_voice!r} is not an espeak voice")

    @property
    def espeak_voice(self) -> str:
        return f"{self.language}+{self.variant}" if self.variant else self.language


class SpeechEngine(Protocol):
    name: str

    def synthesize(self, text: str, voice: VoiceSpec, emotion: Emotion) -> np.ndarray: ...


@functools.lru_cache(maxsize=1)
def _espeak_catalog() -> tuple[frozenset[str], frozenset[str]] | None:
    """(languages, variants) this espeak-ng knows, or None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    try:
        langs = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10)
        variants = subprocess.run(
            [exe, "--voices=variant"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = {ln.split()[1] for ln in langs.stdout.splitlines()[1:] if len(ln.split()) > 1}
    names |= set(re.findall(r"\(([a-z][a-z0-9-]*) \d+\)", langs.stdout))
    return frozenset(names), frozenset(re.findall(r"!v/([A-Za-z0-9_-]+)", variants.stdout))


def _valid_voice(voice: str) -> tuple[str, str] | None:
    m = _VOICE_RE.match(voice)
    if m is None:
        return None
    language, variant = m.group(1), m.group(2) or ""
    catalog = _espeak_catalog()
    if catalog is not None and (
        language not in catalog[0] or (variant and variant not in catalog[1])
    ):
        return None
    return language, variant


def voice_for(identity: Identity) -> VoiceSpec:
    """A distinct, deterministic voice per identity (see ``_AGE`` and ``_GENDER``).

    ``identity.voice`` picks language and variant when it names a valid espeak voice
    ("en-us+f3"); otherwise the variant follows gender presentation (and childhood). A hash of
    the name picks among variants and moves the base pitch by up to ±4 units, so two identities
    of the same age and gender still differ.
    """
    if identity.age_band not in _AGE:
        raise InvalidInput("identity.age_band", f"{identity.age_band!r} not in {AGE_BANDS}")
    if identity.gender_presentation not in _GENDER:
        raise InvalidInput(
            "identity.gender_presentation", f"{identity.gender_presentation!r} not in {GENDERS}"
        )
    digest = hashlib.sha256(identity.name.encode("utf-8")).digest()
    pitch_offset, rate, pitch_range = _AGE[identity.age_band]
    pitch = 50 + pitch_offset + (digest[0] % 9) - 4
    rate += (digest[1] % 7) - 3
    requested = identity.voice.strip()
    chosen = _valid_voice(requested)
    if chosen is not None:
        language, variant = chosen
    else:
        variants, gender_offset = _GENDER[identity.gender_presentation]
        if identity.age_band == "child":
            variants = _GENDER["feminine"][0]
            gender_offset = -4 if identity.gender_presentation == "masculine" else 0
        elif identity.age_band == "teen" and identity.gender_presentation == "masculine":
            gender_offset = 8  # a young male voice: m-variant, raised
        language, variant = "en-us", variants[digest[2] % len(variants)]
        if identity.gender_presentation == "androgynous":
            gender_offset = -10 if variant.startswith("f") else 14
        pitch += gender_offset
    return VoiceSpec(language, variant, _clamp(pitch, 0, 99), rate, pitch_range, requested)


def _clamp(value: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(value))))


def prosody(emotion: Emotion, voice: VoiceSpec | None = None) -> dict[str, Any]:
    """espeak settings for ``emotion`` spoken by ``voice`` (a neutral default voice if None):
    ``rate`` (wpm), ``pitch`` (0–99), ``amplitude`` (0–200), ``range`` (0–99), ``word_gap``
    (10 ms units) and ``speed`` (the rate multiplier alone, for engines without the rest)."""
    voice = voice or VoiceSpec()
    if emotion.category not in _EMOTION_TABLE:
        raise InvalidInput("emotion.category", f"{emotion.category!r} not in {EMOTIONS}")
    for name, (lo, hi) in _EMOTION_LIMITS.items():
        value = getattr(emotion, name)
        if not isinstance(value, int | float) or not lo <= value <= hi:
            raise InvalidInput(f"emotion.{name}", f"{value!r} is outside [{lo}, {hi}]")
    i = float(emotion.intensity)
    rate_f, f0_f, loud_f, range_f, gap = _EMOTION_TABLE[emotion.category]
    rate_m = rate_f**i * emotion.rate
    f0_m = f0_f**i * emotion.pitch
    return {
        "rate": _clamp(voice.base_rate * rate_m, 80, 450),
        "pitch": _clamp(voice.base_pitch + PITCH_UNITS_PER_OCTAVE * math.log2(f0_m), 0, 99),
        "amplitude": _clamp(NEUTRAL_AMPLITUDE * loud_f**i * emotion.energy, 0, 200),
        "range": _clamp(voice.pitch_range * range_f**i, 0, 99),
        "word_gap": _clamp(gap * i, 0, 100),
        "speed": min(4.0, max(0.25, rate_m)),
    }


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
    """espeak-ng in a subprocess (no shell); see the module doc for the prosody mapping."""

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
            self.binary, "--stdout", "-m", "-z", "-v", voice.espeak_voice,
            "-s", str(p["rate"]), "-p", str(p["pitch"]), "-a", str(p["amplitude"]),
            "-g", str(p["word_gap"]), ssml,
        ]  # fmt: skip

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
        body = json.dumps({
            "model": self.model, "input": _check_text(text), "voice": name,
            "response_format": "wav", "speed": round(prosody(emotion, voice)["speed"], 3),
        }).encode("utf-8")  # fmt: skip
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


_SETTINGS = {"espeak": ("binary", "timeout_s"), "http": ("base_url", "model", "api_key",
             "timeout_s", "default_voice")}  # fmt: skip


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
