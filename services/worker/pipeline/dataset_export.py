"""A job's conversations written as a training corpus: DualTalk's layout, as
``dyad dataset synth`` writes it (``dyad.dataset.layout``), under a store prefix.

``<prefix>/<split>/<clip>_speaker{1,2}.wav`` (16 kHz float), ``<clip>_speaker{1,2}.npz``
(``arkit`` or ``exp``/``pose`` plus ``motion``/``rig``/``channels``/``fps``) and the clip's
metadata line, one ``<prefix>/metadata/<job_id>.jsonl`` per job — so concurrent jobs never
rewrite each other's lines — folded into ``<prefix>/metadata.jsonl`` (what the corpus loaders
read) after each job. Clip names are ``<job_id>_<i>``, so a rerun rewrites the same files.
The gateway allows a team only prefixes under ``datasets/<team>/``.
"""

from __future__ import annotations

import json
from typing import Any

from dyad.dataset.layout import (
    SPLITS,
    metadata_line,
    motion_arrays,
    npz_bytes,
    timeline_metadata,
    wav_bytes,
)
from dyad.errors import InvalidInput
from dyad.media import read_wav
from dyad.motion_io import load_motion
from dyad.services.worker.pipeline.orchestrator import DialogueOutput
from dyad.storage import ArtifactStore


def export_dataset(
    store: ArtifactStore, prefix: str, split: str, job_id: str, outputs: list[DialogueOutput]
) -> dict[str, Any]:
    """Write ``outputs`` under ``prefix``; returns ``{"prefix", "clips", "metadata"}``."""
    if split not in SPLITS:
        raise InvalidInput("options.dataset_split", f"one of {list(SPLITS)}")
    lines = []
    for i, out in enumerate(outputs):
        clip = f"{job_id}_{i:02d}"
        base = f"{prefix}/{split}/{clip}"
        for spk, tag in (("a", "speaker1"), ("b", "speaker2")):
            audio, _rate = read_wav(store.get_bytes(out.artifacts[f"speaker_{spk}.wav"]))
            store.put_named(f"{base}_{tag}.wav", wav_bytes(audio[:, 0]), "audio/wav")
            m = load_motion(store.get_bytes(out.artifacts[f"motion_{spk}.npz"]))
            store.put_named(f"{base}_{tag}.npz", npz_bytes(motion_arrays(m.motion, m.rig.name)))
        tl, d = out.timeline, out.dialogue
        meta = {
            "clip": clip,
            "index": i,
            "split": split,
            "job_id": job_id,
            "rig": m.rig.name,
            "fps": m.fps,
            "sample_rate": tl.sample_rate,
            "frames": m.num_frames,
            **timeline_metadata(tl),
            "prompt": d.prompt if d else None,
            "scenario": d.scenario if d else None,
            "environment": tl.sound_environment,
            "relation": tl.relation.to_dict(),
            "identities": {s: tl.speakers[s].to_dict() for s in ("a", "b")},
        }
        store.put_named(f"{base}.json", (metadata_line(meta) + "\n").encode(), "application/json")
        lines.append(metadata_line(meta))
    per_job = f"{prefix}/metadata/{job_id}.jsonl"
    store.put_named(per_job, "".join(f"{x}\n" for x in lines).encode(), "application/jsonl")
    merged = merge_metadata(store, prefix)
    return {"prefix": prefix, "clips": len(lines), "metadata": store.uri(merged)}


def merge_metadata(store: ArtifactStore, prefix: str) -> str:
    """``<prefix>/metadata.jsonl`` from every job's file, sorted by clip (replaced whole)."""
    rows: list[str] = []
    for key in store.list(f"{prefix}/metadata/"):
        if key.endswith(".jsonl"):
            rows += [x for x in store.get_bytes(key).decode().splitlines() if x]
    rows.sort(key=lambda x: json.loads(x)["clip"])
    key = f"{prefix}/metadata.jsonl"
    store.put_named(key, "".join(f"{x}\n" for x in rows).encode(), "application/jsonl")
    return key
