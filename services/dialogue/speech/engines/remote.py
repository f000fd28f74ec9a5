"""An OpenAI-compatible speech server (``POST {base_url}/v1/audio/speech``).

The emotion's tempo reaches it as ``speed``; pitch, range and loudness are applied to what
comes back by signal processing, like every engine without those controls.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

from dyad.errors import DeadlineExceeded, InvalidInput, Unavailable
from dyad.media.audio import load_audio
from dyad.services.dialogue.speech.engines.base import Rendered, finish_audio
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo
from dyad.timebase import SAMPLE_RATE

_VOICE_ID = re.compile(r"^[^\s\x00-\x1f]{1,64}$")  # a named voice of an HTTP server
_NATIVE = frozenset({"rate"})


class HttpSpeechEngine:
    """An OpenAI-compatible TTS server. ``timeout_s`` bounds the whole call, not each read.

    Voice: ``CastVoice.requested`` (the identity's voice string) when it is a single token of
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

    def voices(self) -> tuple[VoiceInfo, ...]:
        # The server's voices are its own business; casting sees one, of either gender.
        return (
            VoiceInfo("http", self.default_voice, "feminine", licence="the server's"),
            VoiceInfo("http", self.default_voice, "masculine", licence="the server's"),
        )

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered:
        name = voice.requested if _VOICE_ID.match(voice.requested) else self.default_voice
        body = json.dumps(
            {
                "model": self.model,
                "input": text,
                "voice": name,
                "response_format": "wav",
                "speed": round(min(4.0, max(0.25, target.rate * voice.rate)), 3),
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
            return Rendered(finish_audio(load_audio(data, SAMPLE_RATE)), SAMPLE_RATE, _NATIVE)
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
