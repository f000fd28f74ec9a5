"""Put two dry voices into one room: per-speaker close-talk tracks and a stereo mix.

Layout (``ROOMS``): the talkers face each other 1.4 m apart at seated mouth height (side by
side in the car), each with their own microphone 0.3 m in front of and 0.1 m below the mouth —
a lavalier-like close-talk channel. Track A is A's voice through the A-source → A-mic impulse
response of the shared room, track B likewise; the cross paths (B into A's mic) are left out
on purpose, so each track holds only its speaker, their reverb tail and a noise floor.

Both impulse responses come from one pyroomacoustics ``ShoeBox`` per (environment, seed):
absorption and image-source order from ``pra.inverse_sabine(rt60, dims)``; the seed moves the
whole layout by a few centimetres. They are scaled together so the direct path has unit gain.
``open_space`` is free field (direct path only). Tracks are scaled together so speech peaks
at 0.9, then noise is added: independent pink noise at −60 dBFS RMS in every environment, plus
babble (cafe), gusty low-frequency wind (open_space) or engine hum (car) at −45 dBFS RMS.
dBFS here is 20·log10(RMS) relative to a full-scale square wave.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra
from scipy.signal import fftconvolve

from dyad.domain import ENVIRONMENTS
from dyad.errors import InvalidInput
from dyad.media.audio import check_rate

Point = tuple[float, float, float]
SPEECH_PEAK = 0.9
MAX_PEAK = 0.95
FLOOR_DBFS = -60.0
AMBIENT_DBFS = -45.0


@dataclass(frozen=True)
class RoomSpec:
    """A sound environment: box size (m), target RT60 (s; 0 = free field), the two mouths and
    their close-talk microphones, and the ambient noise kind ("", babble, wind, engine)."""

    name: str
    dims: Point
    rt60: float
    talker_a: Point
    talker_b: Point
    mic_a: Point
    mic_b: Point
    noise: str = ""
    noise_dbfs: float = AMBIENT_DBFS


def _facing(name: str, dims: Point, rt60: float, noise: str = "", z: float = 1.2) -> RoomSpec:
    """Talkers 1.4 m apart along x, off-centre (avoids symmetric flutter), mics 0.3 m in front."""
    x0, y0 = 0.42 * dims[0], 0.55 * dims[1]
    a, b = (x0 - 0.7, y0, z), (x0 + 0.7, y0, z)
    return RoomSpec(
        name, dims, rt60, a, b, (a[0] + 0.3, y0, z - 0.1), (b[0] - 0.3, y0, z - 0.1), noise
    )


ROOMS: dict[str, RoomSpec] = {
    "studio": _facing("studio", (4.0, 3.5, 2.7), 0.15),
    "office": _facing("office", (5.0, 4.0, 2.8), 0.4),
    "living_room": _facing("living_room", (6.0, 4.5, 2.6), 0.5),
    "cafe": _facing("cafe", (10.0, 8.0, 3.2), 0.7, "babble"),
    "classroom": _facing("classroom", (9.0, 7.0, 3.2), 0.8),
    "open_space": _facing("open_space", (30.0, 30.0, 10.0), 0.0, "wind", z=1.6),
    # Driver and passenger side by side, facing -x; mics on the dashboard side of each mouth.
    "car": RoomSpec(
        "car",
        (2.0, 1.4, 1.2),
        0.1,
        (1.2, 0.4, 0.85),
        (1.2, 1.0, 0.85),
        (0.9, 0.4, 0.75),
        (0.9, 1.0, 0.75),
        "engine",
    ),
}
assert set(ROOMS) == set(ENVIRONMENTS)


def _check_env(environment: object) -> RoomSpec:
    if not isinstance(environment, str) or environment not in ROOMS:
        raise InvalidInput("environment", f"{environment!r} is not one of {list(ENVIRONMENTS)}")
    return ROOMS[environment]


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInput("seed", f"expected a non-negative integer, got {seed!r}")
    return int(seed)


def room_impulse_responses(
    environment: str, seed: int, sample_rate: int = 16000
) -> tuple[np.ndarray, np.ndarray]:
    """(A-mouth → A-mic, B-mouth → B-mic) impulse responses of one room, float32, equal
    length, direct path ≈ unit gain. Cached per (environment, seed, rate); read-only."""
    spec = _check_env(environment)
    return _rirs(spec.name, _check_seed(seed), check_rate(sample_rate, "sample_rate"))


@functools.lru_cache(maxsize=32)
def _rirs(environment: str, seed: int, fs: int) -> tuple[np.ndarray, np.ndarray]:
    spec = ROOMS[environment]
    dims = np.asarray(spec.dims)
    rng = np.random.default_rng([seed, ENVIRONMENTS.index(environment), 0])
    shift = rng.uniform(-1.0, 1.0, 3) * dims * np.array([0.04, 0.04, 0.01])  # [3] metres
    if spec.rt60 > 0:
        absorption, max_order = pra.inverse_sabine(spec.rt60, spec.dims)
        room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(absorption), max_order=max_order)
    else:  # free field: the direct path only
        room = pra.ShoeBox(dims, fs=fs, materials=pra.Material(1.0), max_order=0)
    room.add_source(np.asarray(spec.talker_a) + shift)
    room.add_source(np.asarray(spec.talker_b) + shift)
    room.add_microphone_array(
        np.stack([np.asarray(spec.mic_a), np.asarray(spec.mic_b)]).T + shift[:, None]
    )
    room.compute_rir()
    h_a, h_b = np.asarray(room.rir[0][0]), np.asarray(room.rir[1][1])  # rir[mic][source]
    n = max(h_a.size, h_b.size)
    gain = 1.0 / max(np.abs(h_a).max(), np.abs(h_b).max())  # one gain keeps A and B comparable
    out = []
    for h in (h_a, h_b):
        h = np.pad(h * gain, (0, n - h.size)).astype(np.float32)
        h.setflags(write=False)
        out.append(h)
    return out[0], out[1]


def _check_track(x: object, field: str) -> np.ndarray:
    if not isinstance(x, np.ndarray) or x.ndim != 1:
        shape = list(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise InvalidInput(field, f"expected a 1-D array of samples, got {shape}")
    if x.size == 0 or not np.issubdtype(x.dtype, np.floating):
        raise InvalidInput(field, f"expected non-empty float samples, got {x.size} × {x.dtype}")
    if not np.isfinite(x).all():
        raise InvalidInput(field, "contains NaN or infinite samples")
    return x.astype(np.float64)


def _check_pair(a: object, b: object, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    xa, xb = _check_track(a, names[0]), _check_track(b, names[1])
    if xa.size != xb.size:
        raise InvalidInput(names[1], f"{xb.size} samples, but {names[0]} has {xa.size}")
    return xa, xb


def _shaped(
    rng: np.random.Generator, n: int, fs: int, gain_of_f: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """White noise shaped in frequency by ``gain_of_f(f_hz)``, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum *= gain_of_f(np.fft.rfftfreq(n, 1.0 / fs))
    x = np.fft.irfft(spectrum, n)
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def _envelope(rng: np.random.Generator, n: int, fs: int, max_hz: float, depth: float) -> np.ndarray:
    """A smooth random envelope ``max(0, 1 + depth·e)``, ``e`` unit-RMS noise below ``max_hz``."""
    m = max(8, int(n / fs * 100) + 2)  # 100 Hz control rate
    e = _shaped(rng, m, 100, lambda f: ((f > 0) & (f <= max_hz)).astype(float))
    return np.interp(np.arange(n) * (100.0 / fs), np.arange(m), np.maximum(1 + depth * e, 0.0))


def _noise(kind: str, n: int, fs: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise of one kind: pink, babble, wind or engine."""

    def pink(f: np.ndarray) -> np.ndarray:
        return 1.0 / np.sqrt(np.maximum(f, 20.0))

    def rumble(f: np.ndarray, below: float) -> np.ndarray:  # brown-ish, low-passed
        return (f < below) / np.maximum(f, 10.0)

    x = np.zeros(n)
    if kind == "pink":
        x += _shaped(rng, n, fs, pink)
    elif kind == "babble":  # six talkers: speech-band noise, syllable-rate (≈4 Hz) envelopes
        for _ in range(6):
            voice = _shaped(rng, n, fs, lambda f: pink(f) * ((f > 200) & (f < 3500)))
            x += voice * _envelope(rng, n, fs, 4.0, 1.0)
    elif kind == "wind":  # low-frequency rumble in slow gusts
        x += _shaped(rng, n, fs, lambda f: rumble(f, 200.0)) * _envelope(rng, n, fs, 0.5, 0.4)
    else:  # engine: firing-rate harmonics with a little rpm drift, plus road rumble
        f0 = rng.uniform(26.0, 34.0) * _envelope(rng, n, fs, 0.3, 0.02)
        phase = 2 * np.pi * np.cumsum(f0) / fs
        for k in range(1, 7):
            x += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
        x += 0.5 * _shaped(rng, n, fs, lambda f: rumble(f, 300.0))
    return x / max(float(np.sqrt(np.mean(x**2))), 1e-12)


def _track_noise(spec: RoomSpec, n: int, fs: int, seed: int, track: int) -> list[np.ndarray]:
    """[n] noise terms added to one track, in the order they are added: the pink floor, then
    the environment's own noise (none in a quiet room)."""
    rng = np.random.default_rng([seed, ENVIRONMENTS.index(spec.name), 1 + track])  # per track
    terms = [10 ** (FLOOR_DBFS / 20) * _noise("pink", n, fs, rng)]
    if spec.noise:
        terms.append(10 ** (spec.noise_dbfs / 20) * _noise(spec.noise, n, fs, rng))
    return terms


def render_room(
    dry_a: np.ndarray,
    dry_b: np.ndarray,
    environment: str,
    seed: int,
    *,
    sample_rate: int = 16000,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Both dry tracks (equal length, 1-D) through the same room → (track A, track B), float32,
    same length as the input, peaks ≤ 0.95, A/B level ratio kept. Deterministic per seed.

    ``parallel``: the two convolutions and the two tracks' noise on two threads (numpy's and
    scipy's FFTs release the GIL); each is the same computation as on one thread, so the
    result is the same to the sample (``parallel=False`` is the reference)."""
    xa, xb = _check_pair(dry_a, dry_b, ("dry_a", "dry_b"))
    spec = _check_env(environment)
    seed = _check_seed(seed)
    fs = check_rate(sample_rate, "sample_rate")
    h_a, h_b = _rirs(spec.name, seed, fs)
    n = xa.size
    jobs: list[Callable[[], list[np.ndarray]]] = [
        lambda: [fftconvolve(xa, h_a.astype(np.float64))[:n]],
        lambda: [fftconvolve(xb, h_b.astype(np.float64))[:n]],
        lambda: _track_noise(spec, n, fs, seed, 0),
        lambda: _track_noise(spec, n, fs, seed, 1),
    ]
    if parallel:
        with ThreadPoolExecutor(2, thread_name_prefix="dyad-room") as pool:
            done = list(pool.map(lambda job: job(), jobs))
    else:
        done = [job() for job in jobs]
    wet, noise = [done[0][0], done[1][0]], done[2:]
    peak = max(float(np.abs(w).max()) for w in wet)
    if peak > 1e-4:  # quieter than −80 dBFS is silence: do not blow it up
        wet = [w * (SPEECH_PEAK / peak) for w in wet]
    for w, terms in zip(wet, noise, strict=True):
        for term in terms:
            w += term
    peak = max(float(np.abs(w).max()) for w in wet)
    gain = MAX_PEAK / peak if peak > MAX_PEAK else 1.0
    return (wet[0] * gain).astype(np.float32), (wet[1] * gain).astype(np.float32)


def stereo_mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Constant-power panning, A at −0.5 (left-centre), B at +0.5 → float32 ``[N, 2]``,
    scaled down if needed so the peak is ≤ 0.99."""
    xa, xb = _check_pair(a, b, ("a", "b"))
    out = np.zeros((xa.size, 2))
    for x, pan in ((xa, -0.5), (xb, 0.5)):
        theta = (pan + 1.0) * np.pi / 4  # 0 = hard left, π/2 = hard right
        out[:, 0] += np.cos(theta) * x
        out[:, 1] += np.sin(theta) * x
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32)
