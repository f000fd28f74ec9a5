"""What SFBG and RFBG read: a conversation's motion and conditions on one frame axis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dyad.services.refiner.turns import Span

SPEAKERS = ("a", "b")
PARTNER = {"a": "b", "b": "a"}
_BLOCK_IDS = {"sfbg": 1, "rfbg": 2}


@dataclass
class ConversationState:
    """Both speakers' motion ``[T, C]`` (updated block by block) and their conditions."""

    motion: dict[str, np.ndarray]  # "a"/"b" → [T, C] raw rig units
    frames: dict[str, np.ndarray]  # "a"/"b" → [T, 20] turns.frame_conditions
    audio: dict[str, np.ndarray] | None  # "a"/"b" → [T, A] mel features, or None
    ids: dict[str, np.ndarray]  # "a"/"b" → [3] turns.identity_ids
    style: dict[str, np.ndarray]  # "a"/"b" → [2C] mean ‖ std of the initial motion
    spans: list[Span]

    @property
    def num_frames(self) -> int:
        return int(self.motion["a"].shape[0])

    def audio_of(self, speaker: str, lo: int, hi: int) -> np.ndarray | None:
        return None if self.audio is None else self.audio[speaker][lo:hi]


def motion_style(motion: np.ndarray) -> np.ndarray:
    """``[2C]``: per-channel mean and standard deviation over the frames."""
    m = np.asarray(motion, dtype=np.float64)
    return np.concatenate([m.mean(0), m.std(0)]).astype(np.float32)


def window_seed(seed: int, block: str, speaker: str, index: int) -> int:
    """A window's own noise seed from the request seed and where the window is."""
    words = [int(seed) % 2**63, _BLOCK_IDS[block], SPEAKERS.index(speaker), int(index)]
    return int(np.random.SeedSequence(words).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
