"""Audio features of a DualTalk-layout corpus for the neural motion model, cached on disk.

``ensure_features(root)`` encodes every speaker track of ``root/{train,test,ood}`` with the
weight-free ``mel`` backend (log-mel + Δ, 160 dims) at 25 fps and stores it beside the wav as
``<root>/<split>/<clip>_speaker{1,2}.mel.npy`` (float32 ``[T, 160]``). ``T`` is that speaker's
motion frame count (read from the ``.npz`` header): the encoder's ``ceil(samples / 640)``
frames are cut to ``T``, or the last frame repeated up to ``T``. Raw log-mel values are stored
(no normalisation: the audio encoder leaves that to the model).

A cache file is reused when it exists and is at least as new as its wav; it is written under a
hidden temporary name and renamed, so a killed run never leaves a truncated file behind.
``load_features(pair, frames)`` reads both speakers' features cut to the pair's aligned ``T``
(``dyad.dataset.reader.load_pair``'s).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dyad.dataset.reader import SPLITS, ClipPair, scan
from dyad.errors import InvalidInput
from dyad.media import load_audio
from dyad.services.audio_encoder.core import AudioEncoder, load_backend
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.timebase import FPS

BACKEND = "mel"
SUFFIX = f".{BACKEND}.npy"
_MOTION_KEYS = ("motion", "arkit", "exp")  # every one of them has T rows


def feature_path(wav: Path) -> Path:
    """``…/<clip>_speaker1.wav`` → ``…/<clip>_speaker1.mel.npy``."""
    return wav.with_name(wav.name[: -len(wav.suffix)] + SUFFIX)


def motion_frames(npz: Path) -> int:
    """Frames of a speaker's motion from the ``.npy`` header inside the ``.npz`` (no data read)."""
    try:
        with zipfile.ZipFile(npz) as zf:
            names = set(zf.namelist())
            key = next((f"{k}.npy" for k in _MOTION_KEYS if f"{k}.npy" in names), None)
            if key is None:
                raise InvalidInput(str(npz), f"no motion array in keys {sorted(names)}")
            with zf.open(key) as f:
                major = np.lib.format.read_magic(f)[0]
                header = (
                    np.lib.format.read_array_header_1_0
                    if major == 1
                    else (np.lib.format.read_array_header_2_0)
                )
                shape = header(f)[0]
    except (OSError, zipfile.BadZipFile, ValueError) as e:
        raise InvalidInput(str(npz), f"not a readable .npz file: {e}") from None
    return int(shape[0])


def fit_frames(feats: np.ndarray, frames: int) -> np.ndarray:
    """Cut ``[T', D]`` to ``frames`` rows, or repeat the last row up to it (float32)."""
    if feats.shape[0] >= frames:
        out = feats[:frames]
    elif feats.shape[0] == 0:
        out = np.zeros((frames, feats.shape[1]), dtype=np.float32)
    else:
        out = np.pad(feats, ((0, frames - feats.shape[0]), (0, 0)), mode="edge")
    return np.ascontiguousarray(out, dtype=np.float32)


def _fresh(cache: Path, wav: Path) -> bool:
    return cache.is_file() and cache.stat().st_mtime_ns >= wav.stat().st_mtime_ns


def _save_atomic(path: Path, arr: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, arr, allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


_ENCODER: list[AudioEncoder] = []


def encoder() -> AudioEncoder:
    """The process's ``mel`` AudioEncoder (built once)."""
    if not _ENCODER:
        settings = AudioEncoderSettings()
        _ENCODER.append(AudioEncoder(load_backend(BACKEND, settings), settings))
    return _ENCODER[0]


def encode_wave(wave: np.ndarray, frames: int | None = None) -> np.ndarray:
    """``[T, 160]`` mel features of a 16 kHz wave at 25 fps (fitted to ``frames`` if given)."""
    feats = encoder().encode([np.asarray(wave, dtype=np.float32)], fps=FPS)[0]
    return feats if frames is None else fit_frames(feats, frames)


def ensure_pair(pair: ClipPair) -> tuple[Path, Path]:
    """Both speakers' cache files of one pair, encoding the missing or stale ones."""
    out = []
    for wav, npz in ((pair.wav_a, pair.npz_a), (pair.wav_b, pair.npz_b)):
        path = feature_path(wav)
        if not _fresh(path, wav):
            _save_atomic(path, encode_wave(load_audio(wav), motion_frames(npz)))
        out.append(path)
    return out[0], out[1]


def ensure_features(
    root: str | Path, splits: Iterable[str] = SPLITS, *, progress: bool = False
) -> dict[str, int]:
    """Cache the features of every pair in ``root/<split>`` (splits without a folder are
    skipped); returns the pairs per split."""
    from tqdm import tqdm

    counts = {}
    for split in splits:
        if split not in SPLITS:
            raise InvalidInput("split", f"{split!r} is not one of {list(SPLITS)}")
        if not (Path(root) / split).is_dir():
            continue
        pairs = scan(root, split)
        for pair in tqdm(pairs, desc=f"features {split}", unit="clip", disable=not progress):
            ensure_pair(pair)
        counts[split] = len(pairs)
    return counts


def load_features(pair: ClipPair, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' cached features ``[frames, 160]`` (encoded first when missing)."""
    path_a, path_b = ensure_pair(pair)
    return (fit_frames(np.load(path_a), frames), fit_frames(np.load(path_b), frames))
