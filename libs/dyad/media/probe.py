"""Media headers checked against limits before a single sample is decoded (issue 16).

A file's header is a claim made by whoever sent it. A 244-byte WAV that claims 2^30 Hz used to
cost 104 s of CPU and 7.8 GB of memory in the resampler; a header whose ``data`` chunk claims
4 GB made every stage read what was not there. Every decoder of client input therefore reads
the header first (``probe_audio``; ``dyad.media.arrays`` for ``.npy``/``.npz``), checks it
against ``MediaLimits`` and only then allocates — and the Job API gateway applies the same
checks before it queues a job, so a job that can only fail is never accepted.

Limits are settings (``DYAD_MEDIA_*``, one typed object: ``MediaLimits.from_env()``); the
memory a decode may take is bounded by ``max_decoded_bytes`` whatever the file says.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

import soundfile as sf

from dyad.config import load, setting
from dyad.errors import ConfigError, InvalidInput

PREFIX = "DYAD_MEDIA_"

#: A WAV ``data`` size at or above this is a streaming writer's placeholder, meaning "to
#: the end of the file": writers that cannot seek back leave 0xFFFFFFFF (ffmpeg to a pipe) or
#: 0x7FFFF000 (espeak-ng --stdout); libsndfile reads such files the same way.
_PLACEHOLDER_FROM = 0x7FFF0000
#: WAV format codes whose frame count is ``data`` size / block align (PCM, float, A/µ-law,
#: WAVE_FORMAT_EXTENSIBLE); other codecs inside WAV need libsndfile on the whole file.
_FRAME_FORMATS = (0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE)
#: libsndfile's "unknown length" (a FLAC stream without a total-samples field).
_UNKNOWN_FRAMES = 1 << 62
#: What ``probe_audio_file`` reads of a WAV: every real header fits.
_WAV_HEAD_BYTES = 64 * 1024
#: Decoded samples are float32.
_BYTES_PER_SAMPLE = 4


@dataclass(frozen=True)
class MediaLimits:
    """What a decoder of client media accepts; checked on headers, before decoding."""

    min_sample_rate: int = setting(8000, "lowest accepted audio sample rate, Hz")
    max_sample_rate: int = setting(192000, "highest accepted audio sample rate, Hz")
    max_channels: int = setting(8, "most audio channels in one file")
    max_audio_s: float = setting(600.0, "longest accepted audio, seconds")
    min_audio_s: float = setting(
        0.04, "shortest accepted audio, seconds (default: one video frame at 25 fps)"
    )
    max_audio_bytes: int = setting(512 * 1024 * 1024, "largest accepted audio file, bytes")
    max_decoded_bytes: int = setting(
        256 * 1024 * 1024, "most memory one decoded audio file may take (float32 samples), bytes"
    )
    max_array_bytes: int = setting(
        256 * 1024 * 1024, "largest array in a client's .npy/.npz (motion, features), bytes"
    )

    def validate(self) -> None:
        if not 1 <= self.min_sample_rate <= self.max_sample_rate:
            raise ConfigError(f"{PREFIX}MIN_SAMPLE_RATE", "must be ≥ 1 and ≤ MAX_SAMPLE_RATE")
        for name in (
            "max_channels",
            "max_audio_bytes",
            "max_decoded_bytes",
            "max_array_bytes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{PREFIX}{name.upper()}", "must be at least 1")
        if not 0 <= self.min_audio_s < self.max_audio_s:
            raise ConfigError(f"{PREFIX}MIN_AUDIO_S", "must be ≥ 0 and below MAX_AUDIO_S")

    @classmethod
    def from_env(cls) -> MediaLimits:
        return load(cls, prefix=PREFIX)


@dataclass(frozen=True)
class AudioHeader:
    """What an audio file's header says, once checked: rate (Hz), channels, frames, seconds.

    ``frames`` is 0 where the format does not say (a FLAC stream without its total); the
    decoder then reads at most ``max_frames`` and rejects a longer file.
    """

    rate: int
    channels: int
    frames: int
    format: str

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def max_frames(limits: MediaLimits, rate: int, channels: int) -> int:
    """The most frames a file at ``rate`` with ``channels`` may decode to under ``limits``."""
    by_time = int(limits.max_audio_s * rate)
    by_memory = limits.max_decoded_bytes // (_BYTES_PER_SAMPLE * max(1, channels))
    return max(1, min(by_time, by_memory))


def is_riff_wave(head: bytes) -> bool:
    """Whether ``head`` starts a RIFF/WAVE file (the only format read from its header alone)."""
    return len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def probe_audio(
    data: bytes,
    *,
    field: str,
    total_size: int | None = None,
    limits: MediaLimits | None = None,
) -> AudioHeader:
    """Check an audio file's header against ``limits``; InvalidInput(``field``) otherwise.

    For a RIFF/WAVE file ``data`` may be only its first bytes (64 KiB hold every real header)
    when ``total_size`` gives the file's size; any other format needs the whole file in
    ``data`` (libsndfile reads its header). Nothing here decodes samples.
    """
    lim = limits or MediaLimits.from_env()
    size = len(data) if total_size is None else total_size
    if size == 0 or len(data) == 0:
        raise InvalidInput(field, "empty input (0 bytes)")
    if size > lim.max_audio_bytes:
        raise InvalidInput(field, f"{size} bytes; the limit is {lim.max_audio_bytes}")
    header = _wav_header(data, size, field) if is_riff_wave(data) else None
    if header is None:
        if len(data) < size:
            raise ValueError("probe_audio needs the whole file for formats other than WAV")
        header = _libsndfile_header(data, field)
    _check(header, lim, field)
    return header


def probe_audio_file(
    f: BinaryIO, *, field: str, total_size: int, limits: MediaLimits | None = None
) -> AudioHeader:
    """``probe_audio`` on a seekable file: a WAV from its first 64 KiB, any other format by
    libsndfile reading the header from the file — never the whole file in memory (the Job API
    checks uploads of up to ``max_audio_bytes`` this way)."""
    lim = limits or MediaLimits.from_env()
    head = f.read(_WAV_HEAD_BYTES)
    if is_riff_wave(head) or not head or total_size > lim.max_audio_bytes:
        return probe_audio(head, field=field, total_size=total_size, limits=lim)
    f.seek(0)
    header = _libsndfile_header(f, field)
    _check(header, lim, field)
    return header


def _check(h: AudioHeader, lim: MediaLimits, field: str) -> None:
    if not lim.min_sample_rate <= h.rate <= lim.max_sample_rate:
        raise InvalidInput(
            field,
            f"sample rate {h.rate} Hz is outside {lim.min_sample_rate}–{lim.max_sample_rate} Hz",
        )
    if not 1 <= h.channels <= lim.max_channels:
        raise InvalidInput(field, f"{h.channels} channels; expected 1–{lim.max_channels}")
    if h.frames and h.seconds < lim.min_audio_s:
        raise InvalidInput(
            field,
            f"{h.seconds * 1000:.1f} ms of audio; the shortest accepted is "
            f"{lim.min_audio_s * 1000:g} ms",
        )
    if h.frames and h.seconds > lim.max_audio_s:
        raise InvalidInput(field, f"{h.seconds:.1f} s of audio; the limit is {lim.max_audio_s:g} s")
    if h.frames > max_frames(lim, h.rate, h.channels):
        decoded = h.frames * h.channels * _BYTES_PER_SAMPLE
        raise InvalidInput(
            field, f"decodes to {decoded} bytes; the limit is {lim.max_decoded_bytes}"
        )


def _wav_header(head: bytes, size: int, field: str) -> AudioHeader | None:
    """Walk RIFF chunks to ``fmt `` and ``data``; None for a WAV codec libsndfile must size.

    A ``data`` chunk that claims more bytes than the file holds is a truncated file (unless
    the claim is a streaming writer's placeholder, which means "to the end of the file").
    """
    pos, fmt = 12, None
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        (chunk,) = struct.unpack("<I", head[pos + 4 : pos + 8])
        body = pos + 8
        if cid == b"fmt ":
            if chunk < 16 or body + 16 > len(head):
                raise InvalidInput(field, "truncated or malformed WAV `fmt ` chunk")
            fmt = struct.unpack("<HHIIHH", head[body : body + 16])
        elif cid == b"data":
            if fmt is None:
                raise InvalidInput(field, "WAV `data` chunk before its `fmt ` chunk")
            code, channels, rate, _byte_rate, block, _bits = fmt
            held = max(0, size - body)
            if chunk >= _PLACEHOLDER_FROM:
                chunk = held
            elif chunk > held:
                raise InvalidInput(
                    field,
                    f"truncated WAV: the header declares {chunk} bytes of samples, "
                    f"the file holds {held}",
                )
            if code not in _FRAME_FORMATS:
                return None
            if block == 0:
                raise InvalidInput(field, "malformed WAV: block align is 0")
            frames = chunk // block
            if frames == 0:
                raise InvalidInput(field, "the file holds no samples")
            return AudioHeader(int(rate), int(channels), int(frames), "WAV")
        pos = body + chunk + (chunk & 1)
    if pos + 8 <= size and len(head) < size:
        raise InvalidInput(field, f"no WAV `data` chunk within the first {len(head)} bytes")
    raise InvalidInput(field, "truncated WAV: no `data` chunk")


def _libsndfile_header(data: bytes | BinaryIO, field: str) -> AudioHeader:
    try:
        info = sf.info(io.BytesIO(data) if isinstance(data, bytes) else data)
    except sf.LibsndfileError as e:
        raise InvalidInput(field, f"not a readable audio file ({e.error_string})") from None
    except (sf.SoundFileError, RuntimeError, ValueError, OSError, TypeError) as e:
        raise InvalidInput(field, f"not a readable audio file ({e})") from None
    frames = int(info.frames)
    if frames >= _UNKNOWN_FRAMES or frames < 0:
        frames = 0  # unknown: the bounded decode decides
    return AudioHeader(int(info.samplerate), int(info.channels), frames, str(info.format))
