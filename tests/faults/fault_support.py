"""Helpers of the fault tests (``tests/faults``): a bucket per test on the session's moto S3
server, worker processes (``python -m dyad.services.worker``) with their stderr kept for the
failure message, and the exactly-once checks (one manifest, one ``succeeded`` event, every
artefact a manifest names present and whole)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from dyad.motion_io import motion_bytes
from dyad.protoconv import timeline_to_pb
from dyad.queue import JobEvent, JobQueue, JobStatus, QueueConfig
from dyad.serving.processes import free_port
from dyad.storage import ArtifactRef, ArtifactStore, LocalStore, S3Store, manifest_key
from dyad.testing import RedisServer, S3Server
from dyad.testing.data import make_timeline, smooth_motion
from dyad.testing.grpc import wait_serving
from dyad.v1 import common_pb2 as c
from dyad.v1 import refiner_service_pb2 as pb

PREFIX = "f"
TOY = "dyad.services.worker.tests.toy_runner:build_runner"


def new_bucket(s3: S3Server, endpoint: str = "") -> S3Store:
    return S3Store(
        f"f-{uuid.uuid4().hex[:12]}",
        endpoint=endpoint or s3.endpoint,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
    )


def queue(server: RedisServer, **cfg: Any) -> JobQueue:
    return JobQueue(
        redis.Redis.from_url(server.url, decode_responses=True),
        QueueConfig(prefix=PREFIX, **cfg),
    )


def worker_env(
    redis_server: RedisServer, s3: S3Server, store: S3Store, endpoint: str = "", **extra: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DYAD_REDIS_URL": redis_server.url,
        "DYAD_STORE_URI": store.root_uri,
        "DYAD_S3_ENDPOINT": endpoint or s3.endpoint,
        "DYAD_S3_ACCESS_KEY": s3.access_key,
        "DYAD_S3_SECRET_KEY": s3.secret_key,
        "DYAD_QUEUE_PREFIX": PREFIX,
        "DYAD_LOG_LEVEL": "WARNING",
        "DYAD_LOG_JSON": "false",
        "DYAD_WORKER_HEARTBEAT_INTERVAL_S": "0.3",
        "DYAD_WORKER_CLAIM_BLOCK_S": "0.2",
        **extra,
    }


class Workers:
    """Worker processes started by a test; all killed and reaped at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def spawn(self, env: dict[str, str], name: str = "") -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"worker-{name or len(self.procs)}.log"
        with open(log, "wb") as err:
            p = subprocess.Popen(
                [sys.executable, "-m", "dyad.services.worker"],
                env={**env, **({"DYAD_WORKER_CONSUMER": name} if name else {})},
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.procs.append((p, log))
        return p

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in self.procs)

    def stop(self) -> None:
        for p, _ in self.procs:
            if p.poll() is None:
                p.terminate()
        for p, _ in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def wait_for(pred: Callable[[], Any], timeout_s: float, what: str = "", on_fail: Any = None) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    detail = on_fail() if callable(on_fail) else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}\n{detail}")


def all_events(q: JobQueue, job_id: str) -> list[JobEvent]:
    raw = q.r.xrange(f"{q.cfg.prefix}:events:{job_id}")
    return [JobEvent.decode(eid, fields["event"]) for eid, fields in raw]


def refs_in(obj: Any) -> Iterator[ArtifactRef]:
    """Every ArtifactRef dict inside a manifest (any depth)."""
    if isinstance(obj, dict):
        if {"uri", "sha256", "size_bytes"} <= obj.keys():
            yield ArtifactRef.from_dict(obj)
        else:
            for v in obj.values():
                yield from refs_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs_in(v)


def assert_exactly_once(q: JobQueue, store: ArtifactStore, job_id: str) -> dict[str, Any]:
    """The job succeeded once: one ``succeeded`` event, the last; one manifest under
    ``jobs/<id>/``; every artefact it names (and those its per-conversation manifests name)
    is in the store with the size and sha256 the manifest claims. Returns the manifest."""
    rec = q.get(job_id)
    assert rec.status == JobStatus.SUCCEEDED, (job_id, rec.status, rec.error)
    statuses = [e.status for e in all_events(q, job_id)]
    assert statuses.count(JobStatus.SUCCEEDED) == 1, statuses
    assert statuses[-1] == JobStatus.SUCCEEDED, statuses
    assert [k for k in store.list(f"jobs/{job_id}/") if k.endswith("manifest.json")] == [
        manifest_key(job_id)
    ]
    manifest = store.get_manifest(job_id)
    assert manifest["job_id"] == job_id
    assert rec.result_uri == store.uri(manifest_key(job_id))
    checked = 0
    pending = list(refs_in(manifest))
    while pending:
        ref = pending.pop()
        data = store.get_bytes(ref)  # checks size and sha256: no partial artefact
        checked += 1
        if ref.content_type == "application/json":
            pending.extend(refs_in(json.loads(data)))
    assert checked > 0
    return manifest


def start_refiner(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    """A standalone refiner (``python -m dyad.services.refiner``), SERVING; its stderr in a file."""
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dyad.services.refiner"],
            env={
                **os.environ,
                "DYAD_STORE_URI": f"file://{tmp_path / 'store'}",
                "DYAD_GRPC_PORT": str(port),
                "DYAD_LOG_LEVEL": "INFO",
                "DYAD_LOG_JSON": "false",
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        wait_serving(port, proc, "the refiner", 120)
    except (RuntimeError, TimeoutError) as e:
        raise AssertionError(f"{e}\n{log.read_text()}") from None
    return proc, port, log


def long_request(
    store: LocalStore, seconds: float = 60.0, steps: int = 1000
) -> pb.RefineMotionRequest:
    """``steps`` denoising steps over ``seconds`` of two-person motion (1000 over a minute: well
    over a minute on one CPU core)."""
    frames = int(seconds * 25)

    def clip(seed: int, speaker: Any) -> c.MotionClip:
        ref = store.put_bytes(motion_bytes(smooth_motion(frames, seed), "arkit55"))
        return c.MotionClip(
            speaker=speaker, rig="arkit55", num_frames=frames, artifact=ref.to_proto()
        )

    turns = [
        ("a" if i % 2 == 0 else "b", i * 6.0 + 0.2, i * 6.0 + 5.6, "neutral")
        for i in range(int(seconds // 6))
    ]
    return pb.RefineMotionRequest(
        motion_a=clip(1, c.SPEAKER_A),
        motion_b=clip(2, c.SPEAKER_B),
        timeline=timeline_to_pb(make_timeline(seconds, turns)),
        relation=c.SocialRelation(blood=True, equal=False),
        identity_a=c.Identity(name="Ana", age_band="adult"),
        identity_b=c.Identity(name="Ben", age_band="teen"),
        num_steps=steps,
        seed=1,
    )
