"""``python -m bench.soak``: the resident memory of every stage service over a soak of requests.

Each stage service runs as its standalone gRPC server (``python -m dyad.services.<name>``, a
local store), is sent ``--requests`` small distinct requests one after another (distinct
seeds and inputs: no cache hit hides a leak), and its ``VmRSS`` (``/proc/<pid>/status``) is
sampled after every request (``dialogue_speech``: the dialogue service, every request also
speaking the dialogue; ``--services`` picks some, keeping the others' last results). Reported
per service: RSS after warm-up (the first 10 % of the
requests), at the end and at most, and the least-squares slope over the second half of the
soak in KiB per 100 requests — a flat line is a slope near zero; a leak is a steady slope.
Every answer must be OK (a failed request is counted and reported).

Results: ``bench/results/soak-<hostname>.json``; summarised in ``bench/reliability.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from bench.common import RESULTS, machine, write_result
from dyad.media import wav_bytes
from dyad.motion_io import motion_bytes
from dyad.protoconv import timeline_to_pb
from dyad.rigs import get_rig
from dyad.serving.processes import free_port
from dyad.storage import LocalStore
from dyad.testing.data import make_timeline, smooth_motion
from dyad.testing.grpc import wait_serving
from dyad.timebase import SAMPLE_RATE
from dyad.v1 import audio_encoder_service_pb2 as audio_pb
from dyad.v1 import audio_encoder_service_pb2_grpc as audio_grpc
from dyad.v1 import common_pb2 as c
from dyad.v1 import dialogue_service_pb2 as dialogue_pb
from dyad.v1 import dialogue_service_pb2_grpc as dialogue_grpc
from dyad.v1 import motion_service_pb2 as motion_pb
from dyad.v1 import motion_service_pb2_grpc as motion_grpc
from dyad.v1 import refiner_service_pb2 as refiner_pb
from dyad.v1 import refiner_service_pb2_grpc as refiner_grpc
from dyad.v1 import renderer_service_pb2 as renderer_pb
from dyad.v1 import renderer_service_pb2_grpc as renderer_grpc

Request = tuple[str, Any]  # (method, message)
FRAMES = 50  # 2 s at 25 fps
SECONDS = FRAMES / 25


def _tone(i: int, speaker: int) -> np.ndarray:
    """2 s of speech-like tone, distinct per request and speaker; silent while the other talks."""
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    f = 180.0 + 7.0 * (i % 50) + 60.0 * speaker
    on = (t < 1.0) if speaker == 0 else (t >= 1.0)
    return (0.3 * np.sin(2 * np.pi * f * t) * on).astype(np.float32)


def _timeline() -> Any:
    return timeline_to_pb(
        make_timeline(SECONDS, [("a", 0.1, 0.9, "happy"), ("b", 1.5, 1.9, "neutral")])
    )


def _track(store: LocalStore, x: np.ndarray, speaker: Any) -> c.AudioTrack:
    ref = store.put_bytes(wav_bytes(x, SAMPLE_RATE), "audio/wav")
    return c.AudioTrack(speaker=speaker, artifact=ref.to_proto())


def _clip(store: LocalStore, motion: np.ndarray, speaker: Any) -> c.MotionClip:
    ref = store.put_bytes(motion_bytes(motion, "arkit55"), "application/x-npz")
    return c.MotionClip(
        speaker=speaker, rig="arkit55", num_frames=len(motion), artifact=ref.to_proto()
    )


def dialogue_request(store: LocalStore, i: int) -> Request:
    if i % 10 == 9:  # every tenth: speak a written dialogue (espeak-ng, the store)
        d = dialogue_pb.WriteDialoguesRequest(prompt=f"two friends, topic {i}", seed=i)
        return "WriteThenSpeak", d
    return "WriteDialogues", dialogue_pb.WriteDialoguesRequest(
        prompt=f"two colleagues talk about plan {i}", num_dialogues=1, seed=i
    )


def speech_request(store: LocalStore, i: int) -> Request:
    """Every request writes a dialogue and speaks it (SynthesizeConversation)."""
    return "WriteThenSpeak", dialogue_pb.WriteDialoguesRequest(
        prompt=f"two friends, topic {i}", seed=i
    )


def audio_request(store: LocalStore, i: int) -> Request:
    return "EncodeAudio", audio_pb.EncodeAudioRequest(
        tracks=[
            _track(store, _tone(i, 0), c.SPEAKER_A),
            _track(store, _tone(i, 1), c.SPEAKER_B),
        ]
    )


def motion_request(store: LocalStore, i: int) -> Request:
    return "GenerateMotion", motion_pb.GenerateMotionRequest(
        backend="procedural",
        rig="arkit55",
        track_a=_track(store, _tone(i, 0), c.SPEAKER_A),
        track_b=_track(store, _tone(i, 1), c.SPEAKER_B),
        timeline=_timeline(),
        relation=c.SocialRelation(blood=False, equal=True),
        identity_a=c.Identity(name="Ana", age_band="adult"),
        identity_b=c.Identity(name="Ben", age_band="adult"),
        seed=i,
    )


def refiner_request(store: LocalStore, i: int) -> Request:
    return "RefineMotion", refiner_pb.RefineMotionRequest(
        motion_a=_clip(store, smooth_motion(FRAMES, 2 * i), c.SPEAKER_A),
        motion_b=_clip(store, smooth_motion(FRAMES, 2 * i + 1), c.SPEAKER_B),
        timeline=_timeline(),
        relation=c.SocialRelation(blood=False, equal=True),
        identity_a=c.Identity(name="Ana", age_band="adult"),
        identity_b=c.Identity(name="Ben", age_band="adult"),
        num_steps=2,
        seed=i,
    )


def renderer_request(store: LocalStore, i: int) -> Request:
    rig = get_rig("arkit55")
    a, b = _tone(i, 0), _tone(i, 1)

    def motion(phase: float) -> np.ndarray:
        m = np.zeros((FRAMES, rig.num_channels), np.float32)
        t = np.arange(FRAMES) / 25.0
        m[:, rig.channels.index("jawOpen")] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t + phase)
        return m

    return "RenderVideo", renderer_pb.RenderVideoRequest(
        motion_a=_clip(store, motion(0.1 * i), c.SPEAKER_A),
        motion_b=_clip(store, motion(0.1 * i + 1.0), c.SPEAKER_B),
        audio=store.put_bytes(wav_bytes(np.stack([a, b], 1), SAMPLE_RATE)).to_proto(),
        track_a=store.put_bytes(wav_bytes(a, SAMPLE_RATE)).to_proto(),
        track_b=store.put_bytes(wav_bytes(b, SAMPLE_RATE)).to_proto(),
        identity_a=c.Identity(name="Ana", appearance=["pale", "skin", "red", "hair"]),
        identity_b=c.Identity(name="Ben", appearance=["dark", "skin", "bald"]),
        head_size_px=64,
    )


#: service → (module, stub class, request maker)
SERVICES: dict[str, tuple[str, Any, Callable[[LocalStore, int], Request]]] = {
    "dialogue": ("dyad.services.dialogue", dialogue_grpc.DialogueServiceStub, dialogue_request),
    "dialogue_speech": (
        "dyad.services.dialogue",
        dialogue_grpc.DialogueServiceStub,
        speech_request,
    ),
    "audio_encoder": (
        "dyad.services.audio_encoder",
        audio_grpc.AudioEncoderServiceStub,
        audio_request,
    ),
    "motion": ("dyad.services.motion", motion_grpc.MotionServiceStub, motion_request),
    "refiner": ("dyad.services.refiner", refiner_grpc.RefinerServiceStub, refiner_request),
    "renderer": ("dyad.services.renderer", renderer_grpc.RendererServiceStub, renderer_request),
}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _serving(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    wait_serving(port, proc, "the server", timeout_s)


def _slope_kib_per_100(rss: list[int]) -> float:
    half = rss[len(rss) // 2 :]
    x = np.arange(len(half), dtype=np.float64)
    return float(np.polyfit(x, np.asarray(half, np.float64), 1)[0] * 100)


def soak(name: str, requests: int, root: Path) -> dict[str, Any]:
    module, stub_cls, make = SERVICES[name]
    store = LocalStore(root / name / "store")
    port = free_port()
    log = root / f"{name}.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env={
                **os.environ,
                "DYAD_STORE_URI": store.root_uri,
                "DYAD_GRPC_PORT": str(port),
                "DYAD_LOG_LEVEL": "WARNING",
            },
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        _serving(port, proc)
        rss = [rss_kib(proc.pid)]
        failed: list[str] = []
        t0 = time.perf_counter()
        with grpc.insecure_channel(
            f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", 8 << 20)]
        ) as ch:
            stub = stub_cls(ch)
            for i in range(requests):
                method, req = make(store, i)
                try:
                    if method == "WriteThenSpeak":
                        d = stub.WriteDialogues(req, timeout=120).dialogues[0]
                        stub.SynthesizeConversation(
                            dialogue_pb.SynthesizeConversationRequest(dialogue=d, seed=i),
                            timeout=120,
                        )
                    else:
                        getattr(stub, method)(req, timeout=120)
                except grpc.RpcError as e:
                    failed.append(f"{i}: {e.code().name} {e.details()}")
                rss.append(rss_kib(proc.pid))
        seconds = time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    warm = rss[max(1, requests // 10)]
    out = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "requests": requests,
        "failed": len(failed),
        "failures": failed[:5],
        "seconds": round(seconds, 1),
        "rss_start_MiB": round(rss[0] / 1024, 1),
        "rss_after_warmup_MiB": round(warm / 1024, 1),
        "rss_end_MiB": round(rss[-1] / 1024, 1),
        "rss_max_MiB": round(max(rss) / 1024, 1),
        "growth_after_warmup_MiB": round((rss[-1] - warm) / 1024, 1),
        "slope_second_half_KiB_per_100": round(_slope_kib_per_100(rss), 1),
        # Every 10th sample, for the plot in reliability.md.
        "rss_MiB_every_10": [round(r / 1024, 1) for r in rss[::10]],
    }
    print(
        f"{name:14s} {requests} requests in {seconds:6.1f} s, failed {len(failed)}: RSS "
        f"{out['rss_after_warmup_MiB']} → {out['rss_end_MiB']} MiB (max "
        f"{out['rss_max_MiB']}), slope {out['slope_second_half_KiB_per_100']} KiB/100 requests",
        flush=True,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=300, help="requests per service")
    p.add_argument("--services", default=",".join(SERVICES), help="comma-separated")
    p.add_argument(
        "--counts",
        default="renderer=150,dialogue_speech=150",
        help="per-service request counts overriding --requests, `name=N,…` (a render or a "
        "synthesis takes ~2 s on 2 cores)",
    )
    args = p.parse_args(argv)
    names = [s for s in args.services.split(",") if s]
    counts = {k: int(v) for k, _, v in (x.partition("=") for x in args.counts.split(",") if x)}
    result: dict[str, Any] = {"command": "python -m bench.soak " + " ".join(argv or sys.argv[1:])}
    with tempfile.TemporaryDirectory(prefix="dyad-soak-") as tmp:
        result["services"] = {n: soak(n, counts.get(n, args.requests), Path(tmp)) for n in names}
    # A run of some services keeps the others' last results (each names its own time).
    previous = RESULTS / f"soak-{machine()['hostname']}.json"
    if previous.exists():
        kept = json.loads(previous.read_text()).get("services", {})
        result["services"] = {**kept, **result["services"]}
    path = write_result("soak", result)
    print(f"wrote {path}")
    return 1 if any(s["failed"] for s in result["services"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
