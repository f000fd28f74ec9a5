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
from dyad.domain import StoredConversation
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


def test_a_team_avatar_renders_the_same_served_and_embedded(
    served: ServedStages, tmp_path: Path
) -> None:
    """A job's ``avatar_a`` (the store key of a team's avatar) reaches the renderer on both
    paths: served and embedded give the same bytes."""
    from dyad.services.gateway.avatars import TeamAvatars
    from dyad.services.renderer.avatars.avatar import create_avatar

    create_avatar("a tall woman with red hair", head="procedural", seed=7).save(tmp_path)
    files = [(tmp_path / n).read_bytes() for n in ("config.json", "model.safetensors")]
    info, _ = TeamAvatars(served.store, 8 << 20).put("red", "ana", *files)
    # The conversation the first test made on this store (its stages cached): render only.
    (out,) = Orchestrator(served).generate(PROMPT, OPTS)
    arts = out.artifacts
    conv = StoredConversation(
        out.timeline,
        out.dialogue,
        arts["speaker_a.wav"],
        arts["speaker_b.wav"],
        arts.get("mix.wav"),
        out.timeline.duration_s,
    )
    motion = (arts["motion_a.npz"], arts["motion_b.npz"])
    speakers = conv.timeline.speakers
    kw: dict[str, Any] = {"layout": "side", "head_px": 64, "per_speaker": False}
    identities = (speakers["a"], speakers["b"])
    team_avatars = {"a": info.key, "b": info.key}  # both: no generated head to build here
    with_avatar = served.render(motion, conv, identities, avatars=team_avatars, **kw)
    embedded = EmbeddedStages(served.store).render(
        motion, conv, identities, avatars=team_avatars, **kw
    )
    assert with_avatar.conversation.sha256 == embedded.conversation.sha256
    # That the avatar changes the video (not only agrees): tests/test_jobs_avatars.py.
