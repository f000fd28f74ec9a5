"""Deep fuzzing of every stage RPC (issue 16): real requests, recorded from a tiny conversation
run through ``ServedStages`` against real in-process servers of every stage on one store, each
sent again with one to three fields changed to hostile values (``dyad.testing.fuzz.mutations``).

Random requests mostly stop at the first check; these pass it and reach the cores — the
decoders, the caches, the avatar loader, the renderer — where the adversarial probe found its
INTERNALs. Only client statuses may come back, no message may reveal the server's store path,
and every server still answers health SERVING at the end. ``DYAD_FUZZ_EXAMPLES`` /
``DYAD_FUZZ_RANDOM=1`` widen the run (``make test-faults``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc

from dyad.config import PlatformSettings
from dyad.services.renderer.settings import RendererSettings
from dyad.services.worker.pipeline.orchestrator import GenerateOptions, Orchestrator
from dyad.services.worker.pipeline.served import ServedStages
from dyad.services.worker.tests.stage_servers import stage_servers
from dyad.storage import LocalStore
from dyad.testing import ServerThread
from dyad.testing.fuzz import (
    RSS_GROWTH_BOUND_MB,
    ArtifactPool,
    fuzz_budget,
    fuzz_call,
    method_call,
    mutations,
    rss_mb,
)

OPTS = GenerateOptions(n=1, seed=5, turns=(5, 5), refine=True, refine_steps=2, head_px=64)
SERVICES = {
    "dialogue": "dyad.v1.DialogueService",
    "audio": "dyad.v1.AudioEncoderService",
    "motion": "dyad.v1.MotionService",
    "refiner": "dyad.v1.RefinerService",
    "renderer": "dyad.v1.RendererService",
}


class Recorded:
    """The stage servers, their store, an artefact pool and one real request per method."""

    def __init__(self, store_dir: Path, ports: dict[str, int]) -> None:
        self.store_dir, self.ports = store_dir, ports
        self.requests: dict[tuple[str, str], Any] = {}
        self.pool = ArtifactPool.build(LocalStore(store_dir))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorded]:
    store_dir = tmp_path_factory.mktemp("fuzz") / "store"
    platform = PlatformSettings(store_uri=f"file://{store_dir}", grpc_port=0)
    # A short longest clip keeps every fuzzed render bounded (the limit itself is fuzzed too).
    servers = stage_servers(platform, RendererSettings(backend="cpu", max_duration_s=40.0))
    with ServerThread(list(servers.values())) as running:
        ports = dict(zip(servers, running.ports, strict=True))
        rec = Recorded(store_dir, ports)
        stages = ServedStages(
            LocalStore(store_dir),
            {s: f"127.0.0.1:{p}" for s, p in ports.items()},
            route_by_application=False,
        )
        real_call = stages._call

        def record(service: str, method: str, request: Any) -> Any:
            rec.requests.setdefault((service, method), request)
            return real_call(service, method, request)

        stages._call = record  # type: ignore[method-assign]
        orch = Orchestrator(stages)
        (out,) = orch.generate("Two old friends plan a fishing trip", OPTS)
        orch.animate(out.artifacts["speaker_a.wav"], out.artifacts["speaker_b.wav"], OPTS)
        stages.close()
        yield rec


CASES = [
    ("dialogue", "WriteDialogues"),
    ("dialogue", "SynthesizeConversation"),
    ("dialogue", "SegmentConversation"),
    ("audio", "EncodeAudio"),
    ("motion", "GenerateMotion"),
    ("refiner", "RefineMotion"),
    ("renderer", "RenderVideo"),
]


@pytest.mark.parametrize(("service", "method"), CASES, ids=[m for _, m in CASES])
def test_a_real_request_with_hostile_fields_gets_a_client_status(
    recorded: Recorded, service: str, method: str
) -> None:
    base = recorded.requests[(service, method)]
    desc = descriptor_pool.Default().FindServiceByName(SERVICES[service])
    # A render may legitimately take seconds (a fuzzed head size of 2048 px is allowed).
    examples, fresh = fuzz_budget(5 if method == "RenderVideo" else 12)
    with grpc.insecure_channel(f"127.0.0.1:{recorded.ports[service]}") as channel:
        call = method_call(channel, desc.methods_by_name[method])
        assert call(base, timeout=120) is not None  # the recorded request itself is fine
        strategy = mutations(base, recorded.pool)
        before = rss_mb()
        fuzz_call(call, method, strategy, (), [str(recorded.store_dir)], examples, fresh)
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=30).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        grew = rss_mb() - before
        assert grew < RSS_GROWTH_BOUND_MB, f"the stage servers grew by {grew:.0f} MB"
