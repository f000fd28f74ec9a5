"""Speech engines, voices and emotional prosody (speech/engines.py, speech/voices.py); rooms and
mixes (speech/acoustics.py)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

from dyad.domain import Emotion, Identity
from dyad.errors import DeadlineExceeded, FailedPrecondition, InvalidInput, Unavailable
from dyad.media.audio import wav_bytes
from dyad.services.dialogue.speech.acoustics import (
    render_room,
    room_impulse_responses,
    stereo_mix,
)
from dyad.services.dialogue.speech.engines import EspeakEngine, HttpSpeechEngine
from dyad.services.dialogue.speech.voicebox import Voicebox, make_engine
from dyad.services.dialogue.speech.voices import VoiceSpec, prosody, voice_for
from dyad.timebase import SAMPLE_RATE as SR

SENTENCE = "I can't believe you did that again, after everything we talked about yesterday."


def frame_rms(x: np.ndarray, hop: int = SR // 100) -> np.ndarray:
    n = x.size // hop
    return np.sqrt(np.mean(x[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1))


def db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-20))


def median_f0(x: np.ndarray, fmin: float = 60.0, fmax: float = 500.0) -> float:
    """Median f0 (Hz) over voiced 40 ms frames: the autocorrelation peak in [fmin, fmax],
    kept when it is at least half the zero-lag energy."""
    win, hop = int(0.04 * SR), SR // 100
    lo, hi = int(SR / fmax), int(SR / fmin)
    starts = range(0, x.size - win, hop)
    energy = np.array([np.sqrt(np.mean(x[s : s + win] ** 2)) for s in starts])
    f0s = []
    for s, e in zip(starts, energy, strict=True):
        if e < 0.1 * energy.max():
            continue
        w = x[s : s + win].astype(np.float64) - x[s : s + win].mean()
        ac = np.correlate(w, w, "full")[win - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.5 * ac[0]:
            f0s.append(SR / lag)
    assert len(f0s) > 20, "too few voiced frames"
    return float(np.median(f0s))


# --- voices and prosody (no audio) ---------------------------------------------------------


def test_voice_for_is_distinct_deterministic_and_follows_age_and_gender() -> None:
    fem = voice_for(Identity("Mia", "young_adult", "feminine"))
    assert fem == voice_for(Identity("Mia", "young_adult", "feminine"))
    assert fem != voice_for(Identity("Zoe", "young_adult", "feminine"))
    masc = voice_for(Identity("Walter", "senior", "masculine"))
    assert fem.variant.startswith("f") and masc.variant.startswith("m")
    assert masc.base_rate < fem.base_rate and masc.pitch_range < fem.pitch_range
    child = voice_for(Identity("Tom", "child", "masculine"))
    adult = voice_for(Identity("Tom", "adult", "masculine"))
    assert child.base_pitch > adult.base_pitch and child.base_rate > adult.base_rate
    named = voice_for(Identity("Ada", "adult", "masculine", voice="en-us+f3"))
    assert (named.language, named.variant, named.espeak_voice) == ("en-us", "f3", "en-us+f3")
    free_text = voice_for(Identity("Ada", "adult", "feminine", voice="warm; low alto"))
    assert free_text.variant.startswith("f") and free_text.requested == "warm; low alto"


def test_voice_for_ignores_voices_espeak_does_not_know() -> None:
    spec = voice_for(Identity("Bo", "adult", "masculine", voice="en-us+nosuchvariant"))
    assert spec.variant.startswith("m") and spec.variant != "nosuchvariant"
    assert voice_for(Identity("Bo", "adult", "masculine", voice="xx-zz")).language == "en-us"


def test_prosody_table_directions_intensity_and_multipliers() -> None:
    v = VoiceSpec("en-us", "f3", base_pitch=50, base_rate=170, pitch_range=50)
    base = prosody(Emotion(), v)
    assert (base["rate"], base["pitch"], base["range"], base["word_gap"]) == (170, 50, 50, 0)
    assert prosody(Emotion("angry", 0.0), v) == base  # intensity 0 is neutral
    angry, sad = prosody(Emotion("angry", 1.0), v), prosody(Emotion("sad", 1.0), v)
    assert angry["rate"] > base["rate"] and angry["amplitude"] > base["amplitude"]
    assert angry["range"] > base["range"]
    assert sad["rate"] < base["rate"] and sad["amplitude"] < base["amplitude"]
    assert sad["pitch"] < base["pitch"] and sad["range"] < base["range"]
    assert sad["word_gap"] > 0
    for cat in ("happy", "fearful", "surprised"):
        assert prosody(Emotion(cat, 1.0), v)["pitch"] > base["pitch"]
    half = prosody(Emotion("angry", 0.5), v)
    assert base["amplitude"] < half["amplitude"] < angry["amplitude"]
    assert base["rate"] < half["rate"] < angry["rate"]
    on_top = prosody(Emotion("neutral", 0.0, rate=1.5, pitch=2.0, energy=2.0), v)
    assert on_top["rate"] == 255 and on_top["amplitude"] == 2 * base["amplitude"]
    assert on_top["pitch"] == 99  # +1 octave = +80 units, clamped
    assert prosody(Emotion("angry", 1.0, rate=1.2), v)["speed"] == pytest.approx(1.22 * 1.2)
    with pytest.raises(InvalidInput) as e:
        prosody(Emotion("bored", 0.5), v)
    assert e.value.field == "emotion.category"
    with pytest.raises(InvalidInput) as e:
        VoiceSpec(base_pitch=120)
    assert e.value.field == "voice.base_pitch"


# --- espeak ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()  # `make setup` installs espeak-ng; without it this fails, loudly


def test_espeak_output_format_trim_and_determinism(espeak: EspeakEngine) -> None:
    voice = voice_for(Identity("Mia", "young_adult", "feminine"))
    x = espeak.synthesize(SENTENCE, voice, Emotion("happy", 0.6))
    assert x.dtype == np.float32 and x.ndim == 1 and 2.0 < x.size / SR < 8.0
    assert 0.05 < np.abs(x).max() <= 1.0 and db(x) > -40
    rms = frame_rms(x)  # 10 ms frames; no more than ~30 ms of near-silence at either end
    floor = rms.max() * 10 ** (-45 / 20)
    assert rms[:3].max() > floor and rms[-3:].max() > floor
    assert np.array_equal(x, espeak.synthesize(SENTENCE, voice, Emotion("happy", 0.6)))
    box = make_engine("espeak")
    assert espeak.name == "espeak" and isinstance(box.engines["espeak"], EspeakEngine)
    assert set(box.engines) == {"espeak"}


def test_identities_sound_different(espeak: EspeakEngine) -> None:
    fem = espeak.synthesize(
        SENTENCE, voice_for(Identity("Mia", "young_adult", "feminine")), Emotion()
    )
    masc = espeak.synthesize(
        SENTENCE, voice_for(Identity("Walter", "senior", "masculine")), Emotion()
    )
    assert median_f0(fem) > 1.5 * median_f0(masc)


def test_emotion_is_audible(espeak: EspeakEngine) -> None:
    voice = voice_for(Identity("Mia", "young_adult", "feminine"))
    say = {
        c: espeak.synthesize(SENTENCE, voice, Emotion(c, 0.8)) for c in ("angry", "sad", "happy")
    }
    rms = {c: np.sqrt(np.mean(x.astype(np.float64) ** 2)) for c, x in say.items()}
    assert rms["angry"] / rms["sad"] > 1.3
    assert say["angry"].size / say["sad"].size < 0.9
    assert median_f0(say["happy"]) / median_f0(say["sad"]) > 1.1


def test_espeak_rejects_bad_text_and_reports_a_missing_binary(espeak: EspeakEngine) -> None:
    voice = VoiceSpec()
    for text in ("x" * 2001, "   ", "bell\x07"):
        with pytest.raises(InvalidInput) as e:
            espeak.synthesize(text, voice, Emotion())
        assert e.value.field == "text"
    # Markup and option-like text are spoken, never interpreted.
    assert espeak.synthesize('-v xx <speak> & "quotes"', voice, Emotion()).size > 0
    with pytest.raises(FailedPrecondition, match="make setup"):
        EspeakEngine(binary="no-such-espeak-binary-xyz")


# --- HTTP engine -------------------------------------------------------------------------------


class _TTS(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    wav = wav_bytes(  # 0.5 s of tone between 0.2 s silences, at 24 kHz like real TTS servers
        np.concatenate([np.zeros(4800), 0.5 * np.sin(np.arange(12000) * 0.06), np.zeros(4800)]),
        24000,
    )

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = self.path.split("/")[1]
        try:
            if mode == "fail":
                return self._send(500, b'{"error": "boom"}', "application/json")
            if mode == "slow":
                time.sleep(1.5)
            if mode == "html":
                return self._send(200, b"<html><body>hello</body></html>", "text/html")
            if self.headers.get("Authorization") != "Bearer sekret":
                return self._send(401, b'{"error": "bad key"}', "application/json")
            ok = (
                self.path == "/ok/v1/audio/speech"
                and body["model"] == "tts-x"
                and body["response_format"] == "wav"
                and isinstance(body["speed"], float)
                and body["input"]
                and body["voice"]
            )
            if not ok:
                return self._send(400, b'{"error": "bad request"}', "application/json")
            type(self).requests.append(body)
            self._send(200, self.wav, "audio/wav")
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture(scope="module")
def tts_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TTS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_engine_happy_path(tts_url: str) -> None:
    engine = make_engine("http", base_url=f"{tts_url}/ok", model="tts-x", api_key="sekret")
    assert isinstance(engine.engines["http"], HttpSpeechEngine) and engine.name == "http"
    x = engine.synthesize("Hello there.", VoiceSpec(), Emotion("angry", 1.0))
    assert x.dtype == np.float32 and x.ndim == 1 and abs(x.size / SR - 0.5) < 0.03
    named = engine.synthesize("Hi.", voice_for(Identity("N", voice="nova")), Emotion("sad", 1.0))
    assert named.size > 0
    first, second = _TTS.requests[-2:]
    assert first["input"] == "Hello there." and first["voice"] == "alloy"
    assert first["speed"] == pytest.approx(1.22) and set(first) == {
        "model",
        "input",
        "voice",
        "response_format",
        "speed",
    }
    assert second["voice"] == "nova" and second["speed"] == pytest.approx(0.78)


def test_http_engine_errors(tts_url: str) -> None:
    def call(path: str, timeout_s: float = 5.0, key: str = "sekret") -> None:
        engine = Voicebox([HttpSpeechEngine(f"{tts_url}/{path}", "tts-x", key, timeout_s)], "http")
        engine.synthesize("Hello.", VoiceSpec(), Emotion())

    with pytest.raises(Unavailable, match="HTTP 500") as e:
        call("fail")
    assert f"{tts_url}/fail/v1/audio/speech" in e.value.message
    with pytest.raises(Unavailable, match="HTTP 401"):
        call("ok", key="wrong")
    with pytest.raises(Unavailable, match="returned no audio") as e:
        call("html")
    assert tts_url in e.value.message
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded) as late:
        call("slow", timeout_s=0.3)
    assert tts_url in late.value.message and time.monotonic() - t0 < 1.2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    engine = Voicebox([HttpSpeechEngine(closed, "tts-x", "k", 2.0)], "http")
    with pytest.raises(Unavailable) as e:
        engine.synthesize("Hello.", VoiceSpec(), Emotion())
    assert closed in e.value.message
    with pytest.raises(InvalidInput) as bad:  # checked before any network call
        engine.synthesize("x" * 2001, VoiceSpec(), Emotion())
    assert bad.value.field == "text"


def test_make_engine_validates() -> None:
    for name, settings, field in (
        ("festival", {}, "speech_backend"),
        ("http", {}, "base_url"),
        ("http", {"base_url": "ftp://x"}, "base_url"),
        ("http", {"base_url": "http://x", "colour": "red"}, "colour"),
    ):
        with pytest.raises(InvalidInput) as e:
            make_engine(name, **settings)
        assert e.value.field == field


# --- acoustics ---------------------------------------------------------------------------------


def rt60(h: np.ndarray) -> float:
    """Schroeder backward integration; T20 (−5 → −25 dB) extrapolated to 60 dB."""
    edc = np.cumsum(h.astype(np.float64)[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-300)
    i5, i25 = int(np.argmax(edc_db <= -5)), int(np.argmax(edc_db <= -25))
    return -60.0 * (i25 - i5) / SR / (edc_db[i25] - edc_db[i5])


def talk(n: int, start_s: float, end_s: float, f0: float, level: float = 0.3) -> np.ndarray:
    """A speech-like dry track: harmonics of ``f0`` under a 4 Hz syllable envelope."""
    t = np.arange(n) / SR
    voiced = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * ((t >= start_s) & (t < end_s))
    return (level * voiced * env).astype(np.float32)


N = 6 * SR
DRY_A, DRY_B = talk(N, 0.2, 1.7, 180.0), talk(N, 3.0, 4.5, 110.0)


def test_one_room_for_both_and_rt60_order() -> None:
    t60 = {}
    for env in ("studio", "office", "classroom"):
        h_a, h_b = room_impulse_responses(env, 0)
        assert h_a.shape == h_b.shape and h_a.dtype == np.float32
        t60[env] = rt60(h_a)
        assert rt60(h_b) == pytest.approx(t60[env], rel=0.1)  # same room
    assert t60["studio"] < t60["office"] < t60["classroom"]
    assert 0.05 < t60["studio"] < 0.25 and 0.6 < t60["classroom"] < 1.1
    # render_room convolves with exactly these responses.
    impulse = np.zeros(N, np.float32)
    impulse[100] = 1.0
    out_a, out_b = render_room(impulse, 0.5 * impulse, "office", 0)
    h_a, h_b = room_impulse_responses("office", 0)
    for out, h in ((out_a, h_a), (out_b, h_b)):
        seg = out[100 : 100 + h.size].astype(np.float64)
        residual = seg - h * (seg @ h) / (h @ h.astype(np.float64))
        assert db(residual) < -58  # nothing but the −60 dBFS noise floor is left
    assert np.abs(out_b).max() / np.abs(out_a).max() == pytest.approx(0.5, rel=0.05)


def test_tracks_stay_separate_and_noise_floor_is_on_target() -> None:
    out_a, out_b = render_room(DRY_A, DRY_B, "office", 7)
    assert out_a.shape == out_b.shape == (N,) and out_a.dtype == np.float32
    assert max(np.abs(out_a).max(), np.abs(out_b).max()) <= 0.95
    seg = lambda x, a, b: x[int(a * SR) : int(b * SR)]  # noqa: E731
    speech_a, speech_b = db(seg(out_a, 0.2, 1.7)), db(seg(out_b, 3.0, 4.5))
    assert db(seg(out_a, 2.5, 4.5)) - speech_a < -40  # A's track while only B speaks
    assert db(seg(out_b, 0.2, 1.7)) - speech_b < -40  # B's track while only A speaks
    assert abs(db(seg(out_a, 2.5, 6.0)) - -60) < 1.5 and abs(db(seg(out_b, 0.0, 2.8)) - -60) < 1.5
    assert abs(np.corrcoef(seg(out_a, 2.5, 2.9), seg(out_b, 2.5, 2.9))[0, 1]) < 0.1
    for env in ("cafe", "car"):  # ambient noise at −45 dBFS on top of the −60 floor
        a, b = render_room(DRY_A, DRY_B, env, 7)
        assert abs(db(seg(a, 2.5, 6.0)) - -45) < 2 and abs(db(seg(b, 0.0, 2.8)) - -45) < 2


def test_render_room_is_deterministic_per_seed_and_keeps_relative_level() -> None:
    a1, b1 = render_room(DRY_A, DRY_B, "studio", 3)
    a2, b2 = render_room(DRY_A, DRY_B, "studio", 3)
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    assert not np.array_equal(a1, render_room(DRY_A, DRY_B, "studio", 4)[0])
    loud_a, quiet_b = render_room(4.0 * DRY_A, 0.5 * DRY_A, "open_space", 0)
    assert max(np.abs(loud_a).max(), np.abs(quiet_b).max()) <= 0.95
    ratio = np.abs(loud_a).max() / np.abs(quiet_b).max()
    assert ratio == pytest.approx(8.0, rel=0.1)


def test_stereo_mix_pans_a_left_and_b_right() -> None:
    mix = stereo_mix(DRY_A, DRY_B)
    assert mix.shape == (N, 2) and mix.dtype == np.float32
    a_part, b_part = mix[int(0.2 * SR) : int(1.7 * SR)], mix[3 * SR : int(4.5 * SR)]
    assert db(a_part[:, 0]) - db(a_part[:, 1]) > 6 and db(b_part[:, 1]) - db(b_part[:, 0]) > 6
    power = (a_part.astype(np.float64) ** 2).sum()  # constant power: L² + R² = A²
    assert power == pytest.approx((DRY_A[int(0.2 * SR) : int(1.7 * SR)] ** 2).sum(), rel=1e-3)
    assert np.abs(stereo_mix(5 * DRY_A, 5 * DRY_B)).max() <= 0.99


def test_acoustics_reject_bad_input() -> None:
    ok = np.zeros(1000, np.float32)
    nan = ok.copy()
    nan[3] = np.nan
    cases = [
        (lambda: render_room(ok, ok[:999], "office", 0), "dry_b"),
        (lambda: render_room(ok[:, None], ok[:, None], "office", 0), "dry_a"),
        (lambda: render_room(nan, ok, "office", 0), "dry_a"),
        (lambda: render_room(ok, np.zeros(1000, np.int16), "office", 0), "dry_b"),
        (lambda: render_room(ok, ok, "moon", 0), "environment"),
        (lambda: render_room(ok, ok, "office", -1), "seed"),
        (lambda: stereo_mix(ok, ok[:10]), "b"),
        (lambda: room_impulse_responses("office", 0, sample_rate=0), "sample_rate"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as e:
            call()
        assert e.value.field == field
