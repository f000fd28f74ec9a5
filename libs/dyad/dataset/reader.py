"""Reading DualTalk-layout directories: ours (``dyad dataset synth``, a job's dataset export)
and the public DualTalk dataset (``<root>/{train,test,ood}/<clip>_speaker{1,2}.{wav,npz}``).

Motion keys read per rig (other keys — ``shape``, ``tex``, ``cam``, ``light`` … — are ignored):

- ``flame56``: ``exp`` [T, ≥50] and ``pose`` [T, 6] (DECA/EMOCA: pose = global/neck | jaw) →
  ``exp[:, :50] | pose[:, 3:6] | pose[:, 0:3]`` (exp | jaw | neck); else ``motion`` when the
  file's ``rig`` is flame56.
- ``arkit55``: ``arkit`` [T, 55]; else ``motion`` when the file's ``rig`` is arkit55.

Alignment (``load_pair``): each speaker's motion must have ceil(samples / 640) frames ± 1
(DualTalk's 29.95 s demo audio comes with 750 frames, one more than the ceiling). The pair is
then cut to T = the fewest frames of the four (two motions, two audio ceilings), and both audio
tracks to exactly T · 640 samples, zero-padding the last partial frame. Window ``i`` therefore
holds audio ``[i·640, (i+w)·640)`` and motion ``[i, i+w)`` of the same T-frame pair.

Tails (``iter_windows``): windows start every ``hop`` frames (= ``w`` by default: DualTalk's
non-overlapping 200-frame windows). What is left after the last full window is handled by
``tail``: ``"shift"`` (default) adds one more full window ending at the last frame (it overlaps
the previous one; no padding, every frame is trained on), ``"drop"`` discards it (DualTalk),
``"pad"`` adds a zero-padded window whose ``valid`` says how many frames are real. A clip
shorter than one window gives no window unless ``tail="pad"``. Each window is a new object
with its own copies of the slices (the DualTalk release appended one dict for every window).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from dyad.dataset.layout import SPLITS
from dyad.domain import Relation
from dyad.errors import InvalidInput, NotFound
from dyad.media import load_audio
from dyad.rigs import get_rig
from dyad.timebase import SAMPLE_RATE, SAMPLES_PER_FRAME

TAILS = ("shift", "drop", "pad")


@dataclass(frozen=True)
class ClipPair:
    clip: str
    split: str
    wav_a: Path  # speaker1 = A
    wav_b: Path  # speaker2 = B
    npz_a: Path
    npz_b: Path
    relation: Relation | None


@dataclass(frozen=True)
class PairData:
    clip: str
    rig: str
    audio_a: np.ndarray  # [T·640] float32, 16 kHz
    audio_b: np.ndarray
    motion_a: np.ndarray  # [T, C] float32
    motion_b: np.ndarray
    relation: Relation | None

    @property
    def frames(self) -> int:
        return int(self.motion_a.shape[0])


@dataclass(frozen=True)
class Window:
    clip: str
    start: int  # first frame
    valid: int  # real frames (< window length only for a padded tail)
    audio_a: np.ndarray  # [w·640]
    audio_b: np.ndarray
    motion_a: np.ndarray  # [w, C]
    motion_b: np.ndarray
    relation: Relation | None


def _relations(root: Path) -> dict[str, Relation]:
    out: dict[str, Relation] = {}
    path = root / "metadata.jsonl"
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            out[str(row["clip"])] = Relation.from_dict(row["relation"])
        except (ValueError, KeyError, TypeError, InvalidInput):
            continue  # other datasets' metadata lines: no relation for that clip
    return out


def scan(root: str | Path, split: str) -> list[ClipPair]:
    """Complete pairs (both wavs and both npz files) in ``root/split``, sorted by clip name;
    the relation comes from ``root/metadata.jsonl`` when it has the clip, else None."""
    if split not in SPLITS:
        raise InvalidInput("split", f"{split!r} is not one of {list(SPLITS)}")
    folder = Path(root) / split
    if not folder.is_dir():
        raise NotFound(f"no {split} directory under {root}")
    relations = _relations(Path(root))
    pairs = []
    for wav_a in sorted(folder.glob("*_speaker1.wav")):
        clip = wav_a.name[: -len("_speaker1.wav")]
        wav_b, npz_a, npz_b = (
            folder / f"{clip}_{s}" for s in ("speaker2.wav", "speaker1.npz", "speaker2.npz")
        )
        if wav_b.is_file() and npz_a.is_file() and npz_b.is_file():
            pairs.append(ClipPair(clip, split, wav_a, wav_b, npz_a, npz_b, relations.get(clip)))
    return pairs


def read_motion(path: Path, rig: str) -> np.ndarray:
    """A speaker's ``[T, C]`` motion for ``rig`` from a DualTalk-style or dyad ``.npz``."""
    r = get_rig(rig)
    field = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
            own = "motion" in keys and "rig" in keys and str(z["rig"]) == r.name
            if r.name == "flame56" and {"exp", "pose"} <= keys:
                exp, pose = z["exp"], z["pose"]
                if exp.ndim != 2 or exp.shape[1] < 50 or pose.shape != (exp.shape[0], 6):
                    raise InvalidInput(
                        field, f"exp {exp.shape} / pose {pose.shape}: need [T, ≥50] and [T, 6]"
                    )
                motion = np.concatenate([exp[:, :50], pose[:, 3:6], pose[:, 0:3]], axis=1)
            elif r.name == "arkit55" and "arkit" in keys:
                motion = z["arkit"]
            elif own:
                motion = z["motion"]
            else:
                raise InvalidInput(field, f"no {r.name} motion in keys {sorted(keys)}")
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise InvalidInput(field, f"not a readable .npz file: {e}") from None
    return r.validate(motion, field_name=field, check_range=False)


def _fit(audio: np.ndarray, frames: int) -> np.ndarray:
    n = frames * SAMPLES_PER_FRAME
    return np.ascontiguousarray(np.pad(audio[:n], (0, max(0, n - audio.size))), dtype=np.float32)


def _aligned_frames(clip: str, motion_frames: tuple[int, int], samples: tuple[int, int]) -> int:
    audio_frames = tuple(math.ceil(n / SAMPLES_PER_FRAME) for n in samples)
    for who, t, f in zip(("speaker1", "speaker2"), motion_frames, audio_frames, strict=True):
        if abs(t - f) > 1:
            raise InvalidInput(f"{clip}_{who}", f"{t} motion frames for {f} frames of audio")
    return min(*motion_frames, *audio_frames)


def load_pair(pair: ClipPair, rig: str) -> PairData:
    """Both speakers' audio and motion, aligned and cut to a common T (see the module doc)."""
    audio_a, audio_b = load_audio(pair.wav_a), load_audio(pair.wav_b)
    motion_a, motion_b = read_motion(pair.npz_a, rig), read_motion(pair.npz_b, rig)
    t = _aligned_frames(
        pair.clip, (motion_a.shape[0], motion_b.shape[0]), (audio_a.size, audio_b.size)
    )
    return PairData(
        pair.clip,
        get_rig(rig).name,
        _fit(audio_a, t),
        _fit(audio_b, t),
        motion_a[:t].copy(),
        motion_b[:t].copy(),
        pair.relation,
    )


def window_starts(
    frames: int, window: int, hop: int | None = None, tail: str = "shift"
) -> list[tuple[int, int]]:
    """(start, valid frames) of every window of a ``frames``-long clip (module doc: tails)."""
    hop = window if hop is None else hop
    for name, v in (("window_frames", window), ("hop_frames", hop)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidInput(name, f"expected a positive integer, got {v!r}")
    if tail not in TAILS:
        raise InvalidInput("tail", f"{tail!r} is not one of {list(TAILS)}")
    out = [(s, window) for s in range(0, frames - window + 1, hop)]
    covered = out[-1][0] + window if out else 0
    if covered < frames and tail == "shift" and frames >= window:
        out.append((frames - window, window))
    elif covered < frames and tail == "pad":
        start = out[-1][0] + hop if out else 0
        out.append((start, frames - start))
    return out


def _window(data: PairData, start: int, valid: int, window: int) -> Window:
    a0, a1 = start * SAMPLES_PER_FRAME, (start + valid) * SAMPLES_PER_FRAME
    pad_a, pad_m = (window - valid) * SAMPLES_PER_FRAME, ((0, window - valid), (0, 0))
    return Window(
        data.clip,
        start,
        valid,
        np.pad(data.audio_a[a0:a1], (0, pad_a)),
        np.pad(data.audio_b[a0:a1], (0, pad_a)),
        np.pad(data.motion_a[start : start + valid], pad_m),
        np.pad(data.motion_b[start : start + valid], pad_m),
        data.relation,
    )


def iter_windows(
    data: PairData, window_frames: int = 200, hop_frames: int | None = None, *, tail: str = "shift"
) -> Iterator[Window]:
    """Aligned windows of a pair, each a new ``Window`` owning copies of its slices."""
    for start, valid in window_starts(data.frames, window_frames, hop_frames, tail):
        yield _window(data, start, valid, window_frames)


def _samples(wav: Path) -> int:
    info = sf.info(str(wav))
    return (info.frames * SAMPLE_RATE + info.samplerate // 2) // info.samplerate  # load_audio's


def _npz_frames(path: Path, rig: str) -> int:
    """Motion frames from the ``.npy`` header alone (no array is read)."""
    key = {"flame56": "exp", "arkit55": "arkit"}[get_rig(rig).name]
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        name = next((f"{k}.npy" for k in (key, "motion") if f"{k}.npy" in names), None)
        if name is None:
            raise InvalidInput(str(path), f"no {rig} motion in keys {sorted(names)}")
        with zf.open(name) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape = np.lib.format.read_array_header_1_0(f)[0]
            elif version == (2, 0):
                shape = np.lib.format.read_array_header_2_0(f)[0]
            else:
                return int(read_motion(path, rig).shape[0])
    return int(shape[0])
