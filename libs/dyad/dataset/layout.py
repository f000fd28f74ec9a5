"""DualTalk's corpus layout, as Dyad writes it (``dyad dataset synth``, a job's dataset export)::

    <root>/metadata.jsonl                        one JSON object per clip (``metadata_line``)
    <root>/{train,test,ood}/<clip>_speaker1.wav  speaker A, 16 kHz mono IEEE float32
    <root>/{train,test,ood}/<clip>_speaker2.wav  speaker B
    <root>/{train,test,ood}/<clip>_speaker{1,2}.npz  motion (``motion_arrays``)

NPZ keys: flame56 → ``exp`` [T,50] and ``pose`` [T,6] = [neck/global (3) | jaw (3)] (DualTalk);
arkit55 → ``arkit`` [T,55]; always ``motion`` [T,C], ``rig``, ``channels``, ``fps`` as in
``dyad.motion_io``. The bytes are reproducible: scipy's WAV writer has no timestamped PEAK
chunk, and the NPZ zip entries carry a fixed date. ``reader`` reads the layout back.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np
from scipy.io import wavfile

from dyad.domain import Timeline
from dyad.rigs import get_rig
from dyad.timebase import FPS, SAMPLE_RATE

SPLITS = ("train", "test", "ood")
#: Speaker A is ``speaker1``, B ``speaker2`` (DualTalk's naming).
SPEAKER_TAGS = {"a": "speaker1", "b": "speaker2"}


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed ``.npz`` (``np.load`` reads it) with fixed zip dates: reproducible."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
    return buf.getvalue()


def motion_arrays(motion: np.ndarray, rig: str) -> dict[str, np.ndarray]:
    """DualTalk's keys for the rig plus ``motion``/``rig``/``channels``/``fps``."""
    r = get_rig(rig)
    m = r.validate(motion, check_range=False)
    own = {
        "motion": m,
        "rig": np.array(r.name),
        "channels": np.array(r.channels),
        "fps": np.array(FPS),
    }
    if r.name == "flame56":  # pose = [global/neck | jaw]
        return {"exp": m[:, 0:50], "pose": np.concatenate([m[:, 53:56], m[:, 50:53]], 1), **own}
    return {"arkit": m, **own}


def wav_bytes(audio: np.ndarray) -> bytes:
    """16 kHz mono IEEE-float WAV (DualTalk's format), without libsndfile's timestamp."""
    buf = io.BytesIO()
    wavfile.write(buf, SAMPLE_RATE, np.asarray(audio, dtype=np.float32))
    return buf.getvalue()


def metadata_line(meta: dict[str, Any]) -> str:
    """One clip's ``metadata.jsonl`` line (sorted keys, compact, UTF-8 kept)."""
    return json.dumps(meta, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def timeline_metadata(timeline: Timeline) -> dict[str, Any]:
    """What every clip's metadata says of its conversation: the duration, each sentence's
    emotion with its time span, and the whole timeline."""
    return {
        "duration_s": round(timeline.duration_s, 6),
        "emotions": [
            {
                "speaker": s.speaker,
                "category": s.emotion.category,
                "intensity": s.emotion.intensity,
                "start_s": round(s.start_s, 6),
                "end_s": round(s.end_s, 6),
            }
            for s in timeline.segments
            if s.kind == "sentence"
        ],
        "timeline": timeline.to_dict(),
    }
