"""``.npy`` / ``.npz`` from clients, read header first (issue 16).

``np.load`` trusts a file: a 0-byte upload is an ``EOFError``, an ``.npy`` header may claim a
shape of 10^12 elements, a zip member may claim gigabytes. Here every array's header (dtype,
shape) and every zip member's size is checked against ``MediaLimits.max_array_bytes`` before
its data is read, and every failure is an InvalidInput naming the field. Object arrays (pickles)
are refused outright.
"""

from __future__ import annotations

import io
import tokenize
import zipfile
from typing import BinaryIO

import numpy as np

from dyad.errors import InvalidInput
from dyad.media.probe import MediaLimits

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
#: The errors numpy, zipfile and zlib raise on malformed input (numpy parses an .npy header's
#: dict with ``tokenize`` and ``ast.literal_eval``).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    zipfile.BadZipFile,
    KeyError,
    TypeError,
    SyntaxError,
    tokenize.TokenError,
)


def _read_array(f: BinaryIO, field: str, limit: int) -> np.ndarray:
    """One ``.npy`` stream → array, after checking its header's dtype and size."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = fmt.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = fmt.read_array_header_2_0(f)
    else:
        raise InvalidInput(field, f"unsupported .npy version {version}")
    if dtype.hasobject:
        raise InvalidInput(field, "object arrays are not accepted")
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * dtype.itemsize
    if nbytes > limit:
        raise InvalidInput(
            field, f"an array of shape {list(shape)} takes {nbytes} bytes; the limit is {limit}"
        )
    flat = np.empty(count, dtype=dtype)  # allocated only now that its size is known to be fine
    view, got = memoryview(flat.view(np.uint8).data), 0
    while got < nbytes:
        n = f.readinto(view[got:])  # type: ignore[attr-defined]  # BytesIO and zip members have it
        if not n:
            raise InvalidInput(field, f"truncated array: {got} of {nbytes} bytes")
        got += n
    return flat.reshape(shape, order="F" if fortran else "C")


def load_npy(data: bytes, *, field: str, limits: MediaLimits | None = None) -> np.ndarray:
    """A client's ``.npy`` bytes → array; InvalidInput(``field``) for anything malformed."""
    lim = limits or MediaLimits.from_env()
    if not data:
        raise InvalidInput(field, "empty file (0 bytes)")
    if not data.startswith(_NPY_MAGIC):
        raise InvalidInput(field, "not an .npy file")
    try:
        return _read_array(io.BytesIO(data), field, lim.max_array_bytes)
    except InvalidInput:
        raise
    except _DECODE_ERRORS as e:
        raise InvalidInput(field, f"not a readable .npy file ({e})") from None


def load_npz(
    data: bytes, *, field: str, limits: MediaLimits | None = None
) -> dict[str, np.ndarray]:
    """A client's ``.npz`` bytes → ``{name: array}``, each member checked before it is read.

    The total of all members is bounded too (``max_array_bytes``), so many small members
    cannot add up to what one large one may not.
    """
    lim = limits or MediaLimits.from_env()
    if not data:
        raise InvalidInput(field, "empty file (0 bytes)")
    if not data.startswith(_ZIP_MAGIC):
        raise InvalidInput(field, "not an .npz file")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
            claimed = sum(m.file_size for m in members)
            if claimed > lim.max_array_bytes + 4096 * len(members):
                raise InvalidInput(
                    field, f"members claim {claimed} bytes; the limit is {lim.max_array_bytes}"
                )
            left = lim.max_array_bytes
            for m in members:
                name = m.filename.removesuffix(".npy")
                with z.open(m) as f:
                    arr = _read_array(f, f"{field}.{name}", left)  # type: ignore[arg-type]
                left -= arr.nbytes
                out[name] = arr
    except InvalidInput:
        raise
    except _DECODE_ERRORS as e:
        raise InvalidInput(field, f"not a readable .npz file ({e})") from None
    return out
