"""RGB images ↔ PNG bytes with zlib only (no imaging library is a dependency).

Images are ``[H, W, 3]`` uint8 RGB (DESIGN §2).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.audio import atomic_output

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_bytes(image: np.ndarray, level: int = 6) -> bytes:
    """Encode ``[H, W, 3]`` uint8 RGB as PNG (8-bit truecolour, no filtering)."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise InvalidInput("image", f"expected [H, W, 3] uint8, got {img.dtype} {img.shape}")
    h, w, _ = img.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, w * 3)], axis=1)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write ``image`` as a PNG at ``path``, atomically."""
    data = png_bytes(image)
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def read_png(data: bytes) -> np.ndarray:
    """Decode what ``png_bytes`` writes (8-bit RGB, filter type 0) → ``[H, W, 3]`` uint8."""
    if not data.startswith(_SIGNATURE):
        raise InvalidInput("png", "not a PNG")
    pos, idat, size = len(_SIGNATURE), b"", (0, 0)
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour = struct.unpack(">IIBB", body[:10])
            if (depth, colour) != (8, 2):
                raise InvalidInput("png", "only 8-bit RGB PNGs are supported")
            size = (h, w)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    h, w = size
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(h, 1 + 3 * w)
    if np.any(rows[:, 0]):
        raise InvalidInput("png", "filtered scanlines are not supported")
    return rows[:, 1:].reshape(h, w, 3).copy()
