"""Media I/O: audio files ↔ float32 arrays, RGB frames → H.264/AAC MP4, ffprobe summaries.

Conventions (DESIGN.md §2): audio is float32 in [-1, 1], mono per speaker, 16 kHz for the
encoders (``load_audio`` gives exactly that); images are RGB uint8 ``[H, W, 3]``; video is
H.264 + AAC in MP4. Every file written here appears atomically.
"""

from dyad.media.audio import (
    SAMPLE_RATE,
    load_audio,
    read_wav,
    resample,
    to_mono,
    wav_bytes,
    write_wav,
)
from dyad.media.video import probe as probe_video
from dyad.media.video import write_mp4

__all__ = [
    "SAMPLE_RATE",
    "load_audio",
    "probe_video",
    "read_wav",
    "resample",
    "to_mono",
    "wav_bytes",
    "write_mp4",
    "write_wav",
]
