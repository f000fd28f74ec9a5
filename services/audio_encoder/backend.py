"""What every feature backend implements (``mel``, ``mfcc``, ``wav2vec2``).

A backend turns 16 kHz mono waveforms into features already aligned to motion frames. It owns
its normalisation and its alignment step, because where the interpolation happens is part of
the model (wav2vec2 interpolates its CNN features *before* the transformer, as the DualTalk
release does), but it must use ``alignment.interpolate_frames`` semantics and produce exactly
the frame counts it is given.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from dyad.services.audio_encoder.alignment import Span


@runtime_checkable
class FeatureBackend(Protocol):
    #: ``mel``, ``mfcc`` or ``wav2vec2``.
    name: str
    #: Feature dimension D.
    dim: int

    def config_hash(self) -> str:
        """Hex digest identifying everything that changes the output (config, weights)."""
        ...

    def encode_batch(
        self,
        waves: list[np.ndarray],
        num_frames: list[int],
        spans: list[Span | None] | None = None,
    ) -> list[np.ndarray]:
        """Encode several tracks (or windows of tracks) at once.

        ``waves[i]`` is float32 ``[N_i]`` at 16 kHz, finite, already validated; ``num_frames[i]``
        is the number of motion frames wanted for it. ``spans[i]``, when given, says which part
        of a longer clip ``waves[i]`` is: the backend then aligns with
        ``alignment.window_positions`` so that windows line up with a one-shot encoding.
        Returns float32 ``[num_frames[i], D]`` arrays, equal (within float tolerance) to
        encoding each track alone.
        """
        ...

    def warm_up(self) -> None:
        """Run one small forward pass so the first real request is not the slow one."""
        ...
