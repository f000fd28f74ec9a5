"""Limits on a job's options that every entry point checks the same way: the Job API before it
queues, the CLI before it starts, the stages when they are called directly (issue 16).

A job that can only fail must be refused where it enters, not after minutes of work: a seed of
−5 used to run the dialogue stage and end in a traceback; ``--head-px 63`` rendered for 78 s
before the renderer refused it.
"""

from __future__ import annotations

import re

from dyad.errors import InvalidInput

#: Seeds are non-negative 64-bit signed integers (what numpy and torch generators accept, and a
#: proto ``int64`` holds); conversation ``i`` of a job uses ``seed + i``.
SEED_MAX = 2**63 - 1
#: Rendered head size in pixels: even (H.264 4:2:0 needs even sides), 64–2048.
HEAD_PX_MIN, HEAD_PX_MAX = 64, 2048


def check_seed(seed: object, *, n: int = 1, field: str = "seed") -> int:
    """``seed`` such that ``seed + n − 1`` is still a valid seed; InvalidInput otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(field, f"expected an integer, got {seed!r}")
    top = SEED_MAX - (max(1, n) - 1)
    if not 0 <= seed <= top:
        raise InvalidInput(field, f"expected 0–{top}, got {seed}")
    return seed


def check_head_px(head_px: object, *, field: str = "head_px") -> int:
    """An even head size in ``HEAD_PX_MIN``–``HEAD_PX_MAX`` pixels; InvalidInput otherwise."""
    if isinstance(head_px, bool) or not isinstance(head_px, int):
        raise InvalidInput(field, f"expected an integer, got {head_px!r}")
    if not HEAD_PX_MIN <= head_px <= HEAD_PX_MAX or head_px % 2:
        raise InvalidInput(
            field, f"expected an even size in {HEAD_PX_MIN}–{HEAD_PX_MAX} pixels, got {head_px}"
        )
    return head_px


#: A speech voice: ``engine:name`` (``piper:en_US-joe-medium``, ``flite:slt``, ``espeak:en-us+f3``).
VOICE_ID = re.compile(r"^([a-z]+):([A-Za-z0-9_.+-]{1,64})$")


def check_voice_id(value: object, *, field: str = "voice") -> tuple[str, str]:
    """``engine:name`` → (engine, name); InvalidInput naming ``field`` otherwise. Whether the
    voice is installed is the dialogue service's to say."""
    m = VOICE_ID.match(value.strip()) if isinstance(value, str) else None
    if m is None:
        raise InvalidInput(field, f"{value!r} is not a voice id (`engine:name`, e.g. `flite:slt`)")
    return m.group(1), m.group(2)
