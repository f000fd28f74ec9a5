"""A small real ``JobRunner`` for the worker and gateway tests (not the Dyad pipeline).

It does actual work in three stages, each written content-addressed to the store:
``speech`` (a 16 kHz WAV: tones derived from the prompt, or the mix of the input tracks),
``motion`` (a per-frame loudness envelope, ``[T, 1]`` float32 ``.npz`` at 25 fps) and
``render`` (an H.264/AAC MP4 whose brightness follows the envelope), then the manifest at
``jobs/<job_id>/manifest.json``. Each finished stage leaves a checkpoint
(``jobs/<job_id>/stages/<stage>.json``) so a rerun of the job reuses it — the resume
behaviour the real pipeline has through content addressing. Stages sleep ``stage_s`` so kill
and cancel tests have a window.

Subprocess workers select it with
``DYAD_WORKER_RUNNER=dyad.services.worker.tests.toy_runner:build_runner`` and tune it with
``DYAD_TOY_STAGE_S``, ``DYAD_TOY_FAIL_STAGE`` (a stage that always raises) and
``DYAD_TOY_LOG`` (a file that gets one ``pid job_id stage`` line per stage actually run and per
manifest written).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from dyad.media import read_wav, to_mono, wav_bytes, write_mp4
from dyad.services.worker.runner import StageReporter
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import FPS
from dyad.timebase import SAMPLE_RATE as RATE


class ToyRunner:
    stages = ("speech", "motion", "render")

    def __init__(
        self, stage_s: float = 0.2, steps: int = 2, fail_stage: str = "", log: str = ""
    ) -> None:
        self.stage_s, self.steps, self.fail_stage = stage_s, steps, fail_stage
        self.log = Path(log) if log else None

    def _note(self, job_id: str, what: str) -> None:
        if self.log is not None:
            with open(self.log, "a") as f:  # one short O_APPEND write: whole lines
                f.write(f"{os.getpid()} {job_id} {what}\n")

    def run(
        self, job_id: str, spec: dict[str, Any], store: ArtifactStore, report: StageReporter
    ) -> dict[str, Any]:
        refs: dict[str, ArtifactRef] = {}
        for name in self.stages:
            report.check_cancelled()
            checkpoint = f"jobs/{job_id}/stages/{name}.json"
            if store.exists(checkpoint):
                ref = ArtifactRef.from_dict(json.loads(store.get_bytes(checkpoint)))
                if store.exists(ref.uri):
                    refs[name] = ref
                    report.stage(name, 1.0, "reused")
                    continue
            self._note(job_id, name)
            if name == self.fail_stage:
                raise RuntimeError(f"toy failure in {name}")
            for i in range(1, self.steps):
                time.sleep(self.stage_s / self.steps)
                report.stage(name, i / self.steps)
            time.sleep(self.stage_s / self.steps)
            refs[name] = getattr(self, f"_{name}")(spec, store, refs)
            store.put_named(checkpoint, json.dumps(refs[name].to_dict()).encode())
            report.stage(name, 1.0)
        report.check_cancelled()
        manifest = {
            "job_id": job_id,
            "spec": spec,
            "artifacts": {k: v.to_dict() for k, v in refs.items()},
        }
        self._note(job_id, "manifest")
        mref = store.put_manifest(job_id, manifest)
        return {
            "manifest": mref.to_dict(),
            "video": refs["render"].to_dict(),
            # Named like the pipeline's per-conversation artefacts ("<dialogue_id>/<file>").
            "artifacts": {
                "conv0/audio.wav": refs["speech"].to_dict(),
                "conv0/motion.npz": refs["motion"].to_dict(),
            },
        }

    # --- stages -------------------------------------------------------------------------
    def _audio(self, spec: dict[str, Any], store: ArtifactStore) -> np.ndarray:
        """[N] float32 at 16 kHz."""
        if spec.get("input") == "audio":
            tracks = []
            for ref in spec["audio"].values():
                x, rate = read_wav(store.get_bytes(ArtifactRef.from_dict(ref)))
                assert rate == RATE, "the toy runner takes 16 kHz input"
                tracks.append(to_mono(x))
            n = min(len(t) for t in tracks)
            return np.clip(sum(t[:n] for t in tracks), -1, 1).astype(np.float32)
        digest = hashlib.sha256(str(spec.get("prompt", "")).encode()).digest()
        t = np.arange(RATE, dtype=np.float32) / RATE  # 1 s
        tones = [np.sin(2 * np.pi * (200 + 5 * b) * t) for b in digest[:3]]
        gate = (np.sin(2 * np.pi * 2 * t) > 0).astype(np.float32)  # syllable-like bursts
        return (0.2 * sum(tones) * gate).astype(np.float32)

    def _speech(
        self, spec: dict[str, Any], store: ArtifactStore, refs: dict[str, ArtifactRef]
    ) -> ArtifactRef:
        return store.put_bytes(wav_bytes(self._audio(spec, store), RATE), "audio/wav")

    def _motion(
        self, spec: dict[str, Any], store: ArtifactStore, refs: dict[str, ArtifactRef]
    ) -> ArtifactRef:
        x, _ = read_wav(store.get_bytes(refs["speech"]))
        hop = RATE // FPS
        frames = len(x) // hop
        env = np.sqrt((to_mono(x)[: frames * hop].reshape(frames, hop) ** 2).mean(axis=1))
        buf = io.BytesIO()
        np.savez(buf, motion=env[:, None].astype(np.float32), fps=np.int64(FPS))  # [T, 1]
        return store.put_bytes(buf.getvalue(), "application/x-npz")

    def _render(
        self, spec: dict[str, Any], store: ArtifactStore, refs: dict[str, ArtifactRef]
    ) -> ArtifactRef:
        env = np.load(io.BytesIO(store.get_bytes(refs["motion"])))["motion"][:, 0]  # [T]
        level = (40 + 200 * env / max(float(env.max()), 1e-6)).astype(np.uint8)
        frames = np.broadcast_to(level[:, None, None, None], (len(env), 64, 64, 3))  # [T,H,W,3]
        audio, _ = read_wav(store.get_bytes(refs["speech"]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "video.mp4"
            write_mp4(path, np.ascontiguousarray(frames), FPS, audio=audio, audio_rate=RATE)
            return store.put_file(path, "video/mp4")


def build_runner() -> ToyRunner:
    return ToyRunner(
        stage_s=float(os.environ.get("DYAD_TOY_STAGE_S", "0.2")),
        fail_stage=os.environ.get("DYAD_TOY_FAIL_STAGE", ""),
        log=os.environ.get("DYAD_TOY_LOG", ""),
    )
