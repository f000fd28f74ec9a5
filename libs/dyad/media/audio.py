"""Audio files in, float32 arrays out (and back), following DESIGN.md §2.

The pipeline's convention is float32 mono per speaker, 16 kHz for the encoders; ``load_audio``
turns any file soundfile can read (WAV of any width, FLAC, OGG, …) into exactly that. Samples
are always floats in [-1, 1] (full scale); rates are integers in Hz; lengths are in samples.

Writes are atomic (``atomic_output``): a reader never sees a half-written file, which matters
because artefacts are content-addressed and immutable once they exist (DESIGN.md §5).
"""

from __future__ import annotations

import contextlib
import io
import math
import operator
import os
import tempfile
from collections.abc import Iterator
from typing import Literal

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from dyad.errors import InvalidInput
from dyad.media.probe import MediaLimits, max_frames, probe_audio
from dyad.timebase import SAMPLE_RATE

#: WAV sample formats ``write_wav`` produces; PCM formats clip to [-1, 1] first.
WavSubtype = Literal["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]
_WAV_SUBTYPES = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")

PathOrBytes = str | os.PathLike[str] | bytes | bytearray | memoryview


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path next to ``path``; move it onto ``path`` only if the block succeeds.

    The temporary file lives in the same directory so ``os.replace`` is a same-filesystem rename
    (atomic on POSIX). On any exception it is deleted, so no partial output is ever left behind.
    Shared with ``dyad.media.video``.
    """
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    if not os.path.isdir(directory):
        raise InvalidInput("path", f"directory does not exist: {directory}")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        # mkstemp creates 0600; artefacts on a shared volume must be readable by other users.
        os.chmod(tmp, 0o644)
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_rate(rate: object, field: str) -> int:
    """A sample rate in Hz as a positive int, or InvalidInput naming ``field``."""
    if isinstance(rate, bool):
        raise InvalidInput(field, f"sample rate must be a positive integer (Hz), got {rate!r}")
    try:
        value = operator.index(rate)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidInput(
            field, f"sample rate must be a positive integer (Hz), got {rate!r}"
        ) from None
    if value <= 0:
        raise InvalidInput(field, f"sample rate must be positive (Hz), got {value}")
    return value


def check_samples(x: object, field: str, *, max_channels: int | None = None) -> np.ndarray:
    """Validate float samples ``[N]`` or ``[N, C]``; return them as float32 ``[N, C]``.

    Rejects non-arrays, integer dtypes (whose scale is ambiguous), other ranks, zero samples or
    channels, too many channels and NaN/Inf — each as InvalidInput naming ``field``.
    """
    if not isinstance(x, np.ndarray):
        raise InvalidInput(field, f"expected a numpy array of samples, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise InvalidInput(field, f"expected float samples in [-1, 1], got dtype {x.dtype}")
    if x.ndim not in (1, 2):
        raise InvalidInput(field, f"expected shape [N] or [N, C], got {list(x.shape)}")
    samples = x[:, None] if x.ndim == 1 else x  # [N, C]
    n, channels = samples.shape
    if n == 0 or channels == 0:
        raise InvalidInput(field, f"no samples (shape {list(x.shape)})")
    if max_channels is not None and channels > max_channels:
        raise InvalidInput(field, f"at most {max_channels} channels, got {channels}")
    if not np.isfinite(samples).all():
        raise InvalidInput(field, "contains NaN or infinite samples")
    return samples.astype(np.float32, copy=False)


def read_wav(
    path_or_bytes: PathOrBytes, *, field: str = "audio", limits: MediaLimits | None = None
) -> tuple[np.ndarray, int]:
    """Read an audio file (path or its bytes) → (float32 ``[N, C]`` in [-1, 1], rate in Hz).

    Any format and sample width libsndfile reads: WAV (8-bit unsigned, 16/24/32-bit int,
    32/64-bit float), FLAC, OGG, MP3. Float files are clipped to [-1, 1]. The header is checked
    against ``limits`` (``DYAD_MEDIA_*``: rate range, channels, duration, decoded size) before a
    sample is decoded, and the decode itself never reads past those limits, whatever the
    header claims. Corrupt, empty, truncated or oversized input raises InvalidInput(``field``).
    """
    lim = limits or MediaLimits.from_env()
    data = _file_bytes(path_or_bytes, field, lim)
    header = probe_audio(data, field=field, limits=lim)
    cap = max_frames(lim, header.rate, header.channels)
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            # One frame more than allowed tells a too-long file from one exactly at the limit.
            samples = f.read(frames=cap + 1, dtype="float32", always_2d=True)  # [N, C]
    except sf.LibsndfileError as e:
        raise InvalidInput(field, f"not a readable audio file ({e.error_string})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as e:
        raise InvalidInput(field, f"not a readable audio file ({e})") from None
    if samples.shape[0] > cap:
        raise InvalidInput(
            field,
            f"longer than {cap} frames at {header.rate} Hz (DYAD_MEDIA_MAX_AUDIO_S / "
            "DYAD_MEDIA_MAX_DECODED_BYTES)",
        )
    if samples.shape[0] == 0 or samples.shape[1] == 0:
        raise InvalidInput(field, "the file holds no samples")
    if not np.isfinite(samples).all():
        raise InvalidInput(field, "the file contains NaN or infinite samples")
    # Integer formats are already within [-1, 1); float files may overshoot full scale.
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples, header.rate


def _file_bytes(path_or_bytes: PathOrBytes, field: str, lim: MediaLimits) -> bytes:
    """The file's bytes; a path is size-checked before it is read."""
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return bytes(path_or_bytes)
    if not isinstance(path_or_bytes, str | os.PathLike):
        raise InvalidInput(field, f"expected a path or bytes, got {type(path_or_bytes).__name__}")
    path = os.fspath(path_or_bytes)
    if not os.path.isfile(path):
        raise InvalidInput(field, f"no such file: {path}")
    size = os.path.getsize(path)
    if size > lim.max_audio_bytes:
        raise InvalidInput(field, f"{size} bytes; the limit is {lim.max_audio_bytes}")
    with open(path, "rb") as f:
        return f.read()


def resample(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample ``[N]`` or ``[N, C]`` from ``src_rate`` to ``dst_rate`` Hz (polyphase FIR).

    Returns float32 with exactly ``round(N · dst_rate / src_rate)`` samples (halves round up)
    and the input's rank, so lengths stay predictable for timeline arithmetic.
    """
    src = check_rate(src_rate, "src_rate")
    dst = check_rate(dst_rate, "dst_rate")
    if not isinstance(x, np.ndarray) or x.ndim not in (1, 2):
        shape = list(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise InvalidInput("x", f"expected an array of shape [N] or [N, C], got {shape}")
    n = x.shape[0]
    # Integer arithmetic: float round() of n*dst/src can land on the wrong side for long inputs.
    n_out = (n * dst + src // 2) // src
    if src == dst or n == 0:
        out = x.astype(np.float32, copy=True)
    else:
        # The filter has 20·max(up, down) taps: the rate range of ``MediaLimits`` (checked on
        # every file's header) bounds it to ~4 M taps (30 MB, ~0.5 s to design) at 191999 Hz;
        # unchecked, a 2^30 Hz header made a 167 M-tap filter and 7.8 GB.
        g = math.gcd(src, dst)
        out = resample_poly(x.astype(np.float32, copy=False), dst // g, src // g, axis=0)
    # resample_poly yields ceil(n·up/down) samples, never fewer than n_out: trim the excess.
    out = out[:n_out]
    return np.ascontiguousarray(out, dtype=np.float32)


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average channels: ``[N, C]`` → ``[N]`` float32; ``[N]`` is returned as float32."""
    if not isinstance(x, np.ndarray) or x.ndim not in (1, 2):
        shape = list(x.shape) if isinstance(x, np.ndarray) else type(x).__name__
        raise InvalidInput("x", f"expected an array of shape [N] or [N, C], got {shape}")
    if x.ndim == 1:
        return x.astype(np.float32, copy=False)
    if x.shape[1] == 0:
        raise InvalidInput("x", "no channels (shape [N, 0])")
    return x.mean(axis=1, dtype=np.float64).astype(np.float32)


def load_audio(
    path_or_bytes: PathOrBytes,
    rate: int = SAMPLE_RATE,
    mono: bool = True,
    *,
    field: str = "audio",
    limits: MediaLimits | None = None,
) -> np.ndarray:
    """The standard entry point: any audio file → float32 in [-1, 1] at ``rate`` Hz.

    Returns ``[N]`` when ``mono`` (channels averaged; the default, DESIGN.md §2), else
    ``[N, C]``. Down-mixing happens before resampling, which is C times cheaper. The file is
    checked against ``limits`` before decoding (``read_wav``).
    """
    target = check_rate(rate, "rate")
    data, src_rate = read_wav(path_or_bytes, field=field, limits=limits)  # [N, C]
    audio = to_mono(data) if mono else data
    audio = resample(audio, src_rate, target)
    # The resampling filter rings by a few percent on full-scale steps; keep the [-1, 1] contract.
    np.clip(audio, -1.0, 1.0, out=audio)
    return audio


def _wav_args(x: object, rate: object, subtype: object) -> tuple[np.ndarray, int, str]:
    """Validate ``write_wav``/``wav_bytes`` arguments → (float32 ``[N, C]``, rate, subtype)."""
    samples = check_samples(x, "x")  # [N, C]
    hz = check_rate(rate, "rate")
    if subtype not in _WAV_SUBTYPES:
        raise InvalidInput(
            "subtype", f"expected one of {', '.join(_WAV_SUBTYPES)}, got {subtype!r}"
        )
    if str(subtype).startswith("PCM"):
        # Clip here, not in libsndfile: its float→int overflow handling is a setting
        # (SFC_SET_CLIPPING) and varies by build; 1.2.2 clips, which we do not rely on.
        samples = np.clip(samples, -1.0, 1.0)
    return samples, hz, str(subtype)


def write_wav(
    path: str | os.PathLike[str],
    x: np.ndarray,
    rate: int,
    subtype: WavSubtype = "FLOAT",
) -> None:
    """Write float samples ``[N]`` or ``[N, C]`` at ``rate`` Hz to a WAV file, atomically.

    ``subtype`` picks the sample format (``FLOAT`` keeps values exactly; ``PCM_16`` is the
    compact interchange format; PCM formats clip to [-1, 1]). NaN/Inf, empty input and
    non-positive rates raise InvalidInput before anything touches the disk.
    """
    samples, hz, fmt = _wav_args(x, rate, subtype)  # [N, C]
    with atomic_output(path) as tmp:
        sf.write(tmp, samples, hz, subtype=fmt, format="WAV")


def wav_bytes(x: np.ndarray, rate: int, subtype: WavSubtype = "PCM_16") -> bytes:
    """Encode float samples ``[N]`` or ``[N, C]`` at ``rate`` Hz as WAV bytes, in memory."""
    samples, hz, fmt = _wav_args(x, rate, subtype)  # [N, C]
    buf = io.BytesIO()
    sf.write(buf, samples, hz, subtype=fmt, format="WAV")
    return buf.getvalue()
