"""Identity parameters of the built-in procedural head: proportions and hair style.

Every proportion is a relative multiplier around 1.0 (an average adult), validated against a
range wide enough for visibly different people and narrow enough that the mesh stays valid
(no feature pokes through another).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum

from dyad.errors import InvalidInput

#: Valid range of every ``HeadShape`` multiplier.
SHAPE_RANGE = (0.8, 1.2)


class HairStyle(StrEnum):
    """Which scalp and neck faces carry the HAIR material, and how much volume hair adds."""

    BALD = "bald"  # no hair at all
    SHAVED = "shaved"  # hair colour on the scalp, no volume
    RECEDING = "receding"  # short hair with a high, receding hairline and a thin crown
    SHORT = "short"
    CURLY = "curly"  # short-to-medium, voluminous
    LONG = "long"  # down the back of the neck
    BUN = "bun"  # pulled back with a bun at the back of the crown


@dataclass(frozen=True)
class HeadShape:
    """Proportions of a head, each a multiplier of the average adult's (1.0)."""

    head_width: float = 1.0
    head_height: float = 1.0
    head_depth: float = 1.0
    jaw_width: float = 1.0
    chin_length: float = 1.0
    cheekbones: float = 1.0
    nose_length: float = 1.0
    nose_width: float = 1.0
    nose_projection: float = 1.0
    eye_spacing: float = 1.0
    eye_size: float = 1.0
    mouth_width: float = 1.0
    lip_fullness: float = 1.0
    brow_height: float = 1.0
    brow_thickness: float = 1.0
    ear_size: float = 1.0
    neck_width: float = 1.0

    def __post_init__(self) -> None:
        lo, hi = SHAPE_RANGE
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"shape.{f.name}", f"expected a number, got {value!r}")
            if not math.isfinite(value) or not lo <= value <= hi:
                raise InvalidInput(f"shape.{f.name}", f"{value} is outside [{lo}, {hi}]")
            object.__setattr__(self, f.name, float(value))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))
