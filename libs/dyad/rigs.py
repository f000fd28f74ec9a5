"""Motion rigs: ordered channel names, valid ranges, validation of ``[T, C]`` clips.

The definitions are DESIGN.md §2's, written down once here:

- ``flame56``: ``exp[0:50] | jaw[50:53] | neck[53:56]``; jaw and neck are axis-angle (radians),
  DualTalk / DECA / EMOCA layout, FLAME 2020 (global head rotation on the neck joint).
- ``arkit55``: the 52 ARKit blendshapes in Apple's documented order (left eye, right eye,
  mouth and jaw, brows, cheeks, nose, tongue), then ``headPitch, headYaw, headRoll`` (radians).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dyad.errors import InvalidInput
from dyad.timebase import FPS

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    # left eye
    "eyeBlinkLeft",
    "eyeLookDownLeft",
    "eyeLookInLeft",
    "eyeLookOutLeft",
    "eyeLookUpLeft",
    "eyeSquintLeft",
    "eyeWideLeft",
    # right eye
    "eyeBlinkRight",
    "eyeLookDownRight",
    "eyeLookInRight",
    "eyeLookOutRight",
    "eyeLookUpRight",
    "eyeSquintRight",
    "eyeWideRight",
    # mouth and jaw
    "jawForward",
    "jawLeft",
    "jawRight",
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    # brows
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    # cheeks, nose, tongue
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
    "tongueOut",
)
HEAD_POSE = ("headPitch", "headYaw", "headRoll")

FLAME_EXPRESSION = tuple(f"exp{i:02d}" for i in range(50))
FLAME_JAW = ("jawX", "jawY", "jawZ")
FLAME_NECK = ("neckX", "neckY", "neckZ")

# Axis-angle components beyond ±π describe the same rotation as a smaller one; a head turned
# past ±π/2 is not a conversation. These are validity bounds, not typical ranges.
_HALF_PI = float(np.pi / 2)
# FLAME expression coefficients are unit-variance PCA weights; |x| > 10 is off the model.
_FLAME_EXP_LIMIT = 10.0


@dataclass(frozen=True)
class Rig:
    """An ordered set of motion channels with per-channel valid ranges."""

    name: str
    channels: tuple[str, ...]
    lower: np.ndarray = field(repr=False)  # [C]
    upper: np.ndarray = field(repr=False)  # [C]
    #: Named channel groups, as slices (e.g. ``exp``, ``jaw``, ``pose``).
    groups: dict[str, slice] = field(default_factory=dict, repr=False)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    def index(self, channel: str) -> int:
        """Column of ``channel``; raises InvalidInput for an unknown name."""
        try:
            return self.channels.index(channel)
        except ValueError:
            raise InvalidInput(
                "channel", f"{channel!r} is not a channel of rig {self.name}"
            ) from None

    def neutral(self, num_frames: int) -> np.ndarray:
        """A neutral clip: all zeros, ``[T, C]`` float32 (zero is inside every range)."""
        return np.zeros((num_frames, self.num_channels), dtype=np.float32)

    def validate(
        self, motion: np.ndarray, *, field_name: str = "motion", check_range: bool = True
    ) -> np.ndarray:
        """Check a ``[T, C]`` clip against this rig and return it as C-contiguous float32.

        Rejects wrong rank or channel count, non-numeric dtypes, NaN/Inf and (with
        ``check_range``) values outside a channel's valid range, naming the first offender.
        """
        arr = np.asarray(motion)
        if arr.ndim != 2:
            raise InvalidInput(field_name, f"expected [T, C] array, got shape {arr.shape}")
        if arr.shape[1] != self.num_channels:
            raise InvalidInput(
                field_name,
                f"rig {self.name} has {self.num_channels} channels, array has {arr.shape[1]}",
            )
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidInput(field_name, f"expected a numeric array, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        bad = ~np.isfinite(arr)
        if bad.any():
            t, c = np.argwhere(bad)[0]
            raise InvalidInput(
                field_name, f"non-finite value at frame {t}, channel {self.channels[c]}"
            )
        if check_range:
            out = (arr < self.lower) | (arr > self.upper)
            if out.any():
                t, c = np.argwhere(out)[0]
                raise InvalidInput(
                    field_name,
                    f"{self.channels[c]}={arr[t, c]:.4g} at frame {t} outside "
                    f"[{self.lower[c]:.4g}, {self.upper[c]:.4g}]",
                )
        return arr

    def clip(self, motion: np.ndarray) -> np.ndarray:
        """Clamp a ``[T, C]`` clip into the valid ranges."""
        return np.clip(motion, self.lower, self.upper).astype(np.float32, copy=False)


def _arkit55() -> Rig:
    n_bs = len(ARKIT_BLENDSHAPES)
    lower = np.concatenate([np.zeros(n_bs), np.full(3, -_HALF_PI)]).astype(np.float32)
    upper = np.concatenate([np.ones(n_bs), np.full(3, _HALF_PI)]).astype(np.float32)
    return Rig(
        name="arkit55",
        channels=ARKIT_BLENDSHAPES + HEAD_POSE,
        lower=lower,
        upper=upper,
        groups={"blendshapes": slice(0, n_bs), "pose": slice(n_bs, n_bs + 3)},
    )


def _flame56() -> Rig:
    lim = np.concatenate([np.full(50, _FLAME_EXP_LIMIT), np.full(6, np.pi)]).astype(np.float32)
    return Rig(
        name="flame56",
        channels=FLAME_EXPRESSION + FLAME_JAW + FLAME_NECK,
        lower=-lim,
        upper=lim,
        groups={"exp": slice(0, 50), "jaw": slice(50, 53), "neck": slice(53, 56)},
    )


RIGS: dict[str, Rig] = {r.name: r for r in (_flame56(), _arkit55())}


def get_rig(name: str, *, field_name: str = "rig") -> Rig:
    """The rig called ``name``; InvalidInput naming ``field_name`` otherwise."""
    try:
        return RIGS[name]
    except KeyError:
        raise InvalidInput(
            field_name, f"unknown rig {name!r}; expected one of {sorted(RIGS)}"
        ) from None


def check_channels(rig: Rig, channels: Sequence[str], *, field_name: str = "channels") -> None:
    """Check that ``channels`` is exactly the rig's ordered channel list."""
    if tuple(channels) != rig.channels:
        raise InvalidInput(field_name, f"channel names do not match rig {rig.name} in order")


def num_frames(seconds: float, fps: int = FPS) -> int:
    """``T = ceil(seconds · fps)`` (DESIGN.md §2); tolerant of float error at exact frames."""
    return int(np.ceil(round(seconds * fps, 9)))


@dataclass(frozen=True)
class ChannelGroup:
    """A named set of a rig's channels (its columns), as DualTalk scores and trains them."""

    name: str
    index: tuple[int, ...]


def _arkit_groups() -> tuple[ChannelGroup, ...]:
    # mouth: jawOpen, jawForward/Left/Right, every mouth* channel, cheekPuff, tongueOut (29);
    # face: the other 23 blendshapes (eyes, brows, cheekSquint, noseSneer); pose: the head.
    mouth = tuple(
        i
        for i, n in enumerate(ARKIT_BLENDSHAPES)
        if n.startswith(("jaw", "mouth")) or n in ("cheekPuff", "tongueOut")
    )
    face = tuple(i for i in range(len(ARKIT_BLENDSHAPES)) if i not in mouth)
    n = len(ARKIT_BLENDSHAPES)
    return (
        ChannelGroup("mouth", mouth),
        ChannelGroup("face", face),
        ChannelGroup("pose", (n, n + 1, n + 2)),
    )


#: Each rig's channel groups: flame56's EXP / JAW / POSE (DualTalk's release), arkit55's
#: mouth / face / pose (ours, by the same rule).
CHANNEL_GROUPS: dict[str, tuple[ChannelGroup, ...]] = {
    "flame56": (
        ChannelGroup("exp", tuple(range(0, 50))),
        ChannelGroup("jaw", tuple(range(50, 53))),
        ChannelGroup("pose", tuple(range(53, 56))),
    ),
    "arkit55": _arkit_groups(),
}
