"""Prosody by signal processing, for the controls an engine lacks (WORLD vocoder, ``pyworld``).

``apply_prosody`` takes an engine's ``Rendered`` sentence to the conversation's 16 kHz with
every ``ProsodyTarget`` control the engine did not apply itself, plus the speaker's own offsets
(``CastVoice``: pitch shift, tempo, formant warp):

* **F0** — WORLD analysis (Harvest F0, CheapTrick envelope, D4C aperiodicity, 5 ms
  frames); voiced frames move in log F0 around the sentence's mean:
  ``log f0' = μ + log(f0×) + range× · (log f0 − μ)``.
* **Timbre** — the spectral envelope's frequency axis is warped by ``formant`` (1.08: a
  vocal tract 8 % shorter), so a shifted voice sounds like another person, not a sped tape.
* **Tempo** — the frame sequence is resampled in time before synthesis (pitch unchanged).
* **Loudness** — each sentence is levelled to ``REFERENCE_RMS`` over its active frames, then
  scaled by the gain (engines with native gain keep their own level).

A sentence goes through the vocoder when its engine has no native pitch (always, so every
sentence of a voice sounds alike) or when it needs range, timbre or tempo.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.signal import resample_poly

from dyad.services.dialogue.speech.engines.base import Rendered, finish_audio, frame_rms
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice
from dyad.timebase import SAMPLE_RATE

FRAME_MS = 5.0
F0_FLOOR, F0_CEIL = 55.0, 600.0
#: Level of a neutral sentence (RMS over active 10 ms frames) ≈ espeak-ng at amplitude 60.
REFERENCE_RMS = 0.07


def to_rate(audio: np.ndarray, sample_rate: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """[N] float at ``sample_rate`` → float64 at ``rate`` (polyphase, anti-aliased)."""
    x = np.asarray(audio, dtype=np.float64)
    if sample_rate == rate:
        return x
    g = math.gcd(int(sample_rate), int(rate))
    return np.asarray(resample_poly(x, rate // g, sample_rate // g), dtype=np.float64)


def active_rms(x: np.ndarray, frame: int = SAMPLE_RATE // 100, floor_db: float = -40.0) -> float:
    """RMS over the frames within ``floor_db`` of the loudest (pauses do not dilute it)."""
    rms = frame_rms(x, frame)
    if rms.size == 0:
        return 0.0
    loud = rms[rms >= rms.max() * 10 ** (floor_db / 20)]
    return float(np.sqrt(np.mean(loud**2))) if loud.size else 0.0


def warp_envelope(sp: np.ndarray, formant: float) -> np.ndarray:
    """[T, F] spectral envelope with its frequency axis scaled: ``sp'(f) = sp(f / formant)``."""
    bins = np.arange(sp.shape[1], dtype=np.float64)
    src = np.clip(bins / formant, 0, sp.shape[1] - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, sp.shape[1] - 1)
    w = src - lo
    return np.ascontiguousarray(sp[:, lo] * (1 - w) + sp[:, hi] * w)


def stretch_frames(a: np.ndarray, n_out: int) -> np.ndarray:
    """[T, ...] → [n_out, ...] by linear interpolation along time."""
    pos = np.linspace(0, a.shape[0] - 1, n_out)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, a.shape[0] - 1)
    w = (pos - lo).reshape(-1, *([1] * (a.ndim - 1)))
    return np.ascontiguousarray(a[lo] * (1 - w) + a[hi] * w)


def pyworld() -> Any:
    """The WORLD bindings; pyworld 0.3.5 imports the deprecated ``pkg_resources`` (a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import pyworld as module
    return module


def f0_track(x: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """[T] F0 in Hz every 5 ms (0 where unvoiced): WORLD's Harvest. DIO is 30× faster but read
    Piper's 90 Hz male voice as ~110 Hz, and resynthesis then raised the voice by 4 semitones."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, _t = pyworld().harvest(
        x, sample_rate, f0_floor=F0_FLOOR, f0_ceil=F0_CEIL, frame_period=FRAME_MS
    )
    return np.asarray(f0)


def smooth_octaves(f0: np.ndarray, window: int = 21) -> np.ndarray:
    """[T] F0 with octave errors folded back: a voiced frame more than half an octave from
    its neighbourhood's median (log scale) moves by whole octaves towards it, then to it.
    A low, creaky voice (Piper's ~90 Hz male) otherwise comes back with doubled frames."""
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < 3:
        return f0
    log2 = np.log2(f0[voiced])
    half = window // 2
    padded = np.pad(log2, half, mode="edge")
    ref = np.median(np.lib.stride_tricks.sliding_window_view(padded, window), axis=1)
    d = log2 - ref
    log2 = log2 - np.round(d)
    log2 = np.where(np.abs(log2 - ref) > 0.5, ref, log2)
    out = f0.copy()
    out[voiced] = 2.0**log2
    return out


def vocode(
    x: np.ndarray, f0_scale: float, f0_range: float, formant: float, tempo: float
) -> np.ndarray:
    """WORLD analysis → modified F0 / envelope / timing → synthesis, at 16 kHz."""
    world = pyworld()
    f0 = smooth_octaves(f0_track(x))
    t = np.arange(f0.size) * (FRAME_MS / 1000)
    sp = world.cheaptrick(x, f0, t, SAMPLE_RATE, f0_floor=F0_FLOOR)
    ap = world.d4c(x, f0, t, SAMPLE_RATE)
    voiced = f0 > 0
    if voiced.any():
        log_f0 = np.log(f0[voiced])
        mean = float(np.median(log_f0))  # the median: range scaling then leaves it in place
        f0 = f0.copy()
        f0[voiced] = np.exp(mean + math.log(f0_scale) + f0_range * (log_f0 - mean))
    if abs(formant - 1.0) > 1e-6:
        sp = warp_envelope(sp, formant)
    if abs(tempo - 1.0) > 1e-6:
        n_out = max(2, round(f0.size / tempo))
        # F0 by the nearest frame: interpolating across a voicing edge would invent low F0
        nearest = np.rint(np.linspace(0, f0.size - 1, n_out)).astype(int)
        f0 = np.ascontiguousarray(f0[nearest])
        sp, ap = stretch_frames(sp, n_out), stretch_frames(ap, n_out)
    y = world.synthesize(
        np.ascontiguousarray(f0), sp, np.ascontiguousarray(ap), SAMPLE_RATE, FRAME_MS
    )
    return np.asarray(y, dtype=np.float64)


def apply_prosody(rendered: Rendered, voice: CastVoice, target: ProsodyTarget) -> np.ndarray:
    """An engine's sentence → 16 kHz float32 with every control it lacked applied, finished
    (trimmed, faded, peak-safe)."""
    native = rendered.native
    x = to_rate(rendered.audio, rendered.sample_rate)
    f0_scale = 1.0 if "pitch" in native else target.f0 * 2 ** (voice.pitch_st / 12)
    f0_range = 1.0 if "range" in native else target.range
    tempo = (1.0 if "rate" in native else target.rate * voice.rate) * rendered.residual_tempo
    formant = voice.formant
    # An engine without native pitch always goes through the vocoder, neutral sentences too:
    # resynthesis itself moves a voice's measured F0 (Piper's creaky 90 Hz joe by ~+1.5
    # semitones), and every sentence of a voice must share that colour, or a "lower" emotion
    # can come out above an untouched neutral one.
    if "pitch" not in native or any(abs(v - 1.0) > 1e-6 for v in (f0_range, tempo, formant)):
        x = vocode(x, f0_scale, f0_range, formant, tempo)
    if "gain" not in native:
        level = active_rms(x)
        if level > 0:
            x = x * (REFERENCE_RMS * target.gain / level)
    return finish_audio(x)
