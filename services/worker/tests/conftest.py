"""Shared by the pipeline tests: one embedded run of the whole pipeline (made once per
session; the served-stages test compares against it)."""

from __future__ import annotations

from typing import Any

import pytest

from dyad.services.worker.pipeline.embedded import EmbeddedStages
from dyad.services.worker.pipeline.orchestrator import GenerateOptions, Orchestrator
from dyad.storage import LocalStore

PROMPT = "Two neighbours argue about a noisy party"
PX = 64
OPTS = GenerateOptions(n=1, seed=3, turns=(5, 5), refine=False, head_px=PX)
FILES = {
    *("conversation.mp4", "speaker_a.mp4", "speaker_b.mp4", "manifest.json"),
    *("speaker_a.wav", "speaker_b.wav", "mix.wav", "timeline.json", "dialogue.json"),
    *("motion_a.npz", "motion_b.npz", "features_a.npy", "features_b.npy"),
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, float]] = []

    def stage(self, name: str, fraction: float, message: str = "") -> None:
        self.events.append((name, fraction))

    def check_cancelled(self) -> None:
        pass


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("gen")
    orch = Orchestrator(EmbeddedStages(LocalStore(root / "store")))
    rec = Recorder()
    outs = orch.generate(PROMPT, OPTS, rec)
    return root, orch, outs, rec
