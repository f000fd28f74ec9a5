"""``ServedStages`` — the pipeline over gRPC — against real in-process servers of every stage
on one shared store: the same conversation as the embedded pipeline, byte for byte, with the
audio features computed once and handed to motion and refinement."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dyad.config import PlatformSettings
from dyad.services.worker.pipeline.embedded import EmbeddedStages
from dyad.services.worker.pipeline.orchestrator import Orchestrator
from dyad.services.worker.pipeline.served import ServedStages
from dyad.storage import LocalStore
from dyad.testing import ServerThread

from .conftest import OPTS, PROMPT
from .stage_servers import stage_servers

#: What must come out identical: the conversation, its features and both speakers' motion.
SAME = (
    *("dialogue.json", "timeline.json", "features_a.npy", "features_b.npy"),
    *("motion_a.npz", "motion_b.npz"),
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStages]:
    store_dir = tmp_path_factory.mktemp("served") / "store"
    platform = PlatformSettings(store_uri=f"file://{store_dir}", grpc_port=0)
    servers = stage_servers(platform)
    with ServerThread(list(servers.values())) as running:
        endpoints = {s: f"127.0.0.1:{p}" for s, p in zip(servers, running.ports, strict=True)}
        stages = ServedStages(LocalStore(store_dir), endpoints, route_by_application=False)
        yield stages
        stages.close()


def test_the_served_pipeline_gives_what_the_embedded_one_gives(
    served: ServedStages, generated: Any
) -> None:
    _root, embedded_orch, (embedded,), _rec = generated
    orch = Orchestrator(served)
    (out,) = orch.generate(PROMPT, OPTS)
    for name in SAME:
        assert out.artifacts[name].sha256 == embedded.artifacts[name].sha256, name
    manifest = orch.manifest(out, OPTS)
    assert set(manifest["stages"].values()) == {"served"}
    assert embedded_orch.manifest(embedded, OPTS)["stages"]["motion"] == "embedded"
    assert out.artifacts["conversation.mp4"].size_bytes > 0


def test_the_served_renderer_skips_per_speaker_videos_when_asked(served: ServedStages) -> None:
    orch = Orchestrator(served)
    (out,) = orch.generate(PROMPT, dataclasses.replace(OPTS, per_speaker_videos=False))
    assert out.log.ran["render"] == "served"
    videos = {name for name in out.artifacts if name.endswith(".mp4")}
    assert videos == {"conversation.mp4"}


def test_features_reach_the_neural_model_and_the_refiner(
    served: ServedStages, tmp_path: Path
) -> None:
    """The neural backend and the refiner read the features the encode stage made (no stage
    encodes audio again): served and embedded calls on the same inputs give the same bytes."""
    orch = Orchestrator(served)
    (dialogue,) = served.write(PROMPT, 1, seed=3, relation=None, turns=(5, 5))
    conv = served.speak(dialogue, seed=3)
    features = tuple(served.encode([conv.track_a, conv.track_b]))
    embedded = EmbeddedStages(served.store)
    kw: dict[str, Any] = {"backend": "neural", "rig": "arkit55", "seed": 3}
    motion = served.animate(conv, features, **kw)
    assert motion == embedded.animate(conv, features, **kw)
    refined = served.refine(motion, conv, features, steps=2, seed=3)
    assert refined == embedded.refine(motion, conv, features, steps=2, seed=3)
    assert refined != motion and orch.store.exists(refined[0].uri)
