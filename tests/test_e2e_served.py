"""The whole system served: redis-server + moto S3 + a local Ray Serve running every application
of ``deploy/ray/serve_config.yaml`` (fitted to this machine as ``dyad serve`` fits it) + two
worker processes running the real pipeline against the served stages over gRPC.

A team submits a prompt through the gateway (the Serve gRPC proxy, with its token), watches the
stages to completion, downloads the video through its presigned URL and checks it with
ffprobe; another team cannot read the job. Slow (models load in six replicas on two cores):
``make test-slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from dyad import errors
from dyad.client import DyadClient
from dyad.media import probe
from dyad.testing import RayServe, RedisServer, S3Server

pytestmark = [pytest.mark.slow, pytest.mark.integration]
CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "ray" / "serve_config.yaml"
RED, BLUE = "red-team-token-0123456789", "blue-team-token-0123456789"


def test_prompt_to_video_through_ray_serve_and_workers(tmp_path: Path) -> None:
    with RedisServer() as rs, S3Server() as s3:
        env = {
            "DYAD_STORE_URI": f"s3://e2e-{uuid.uuid4().hex[:8]}/dyad",
            "DYAD_S3_ENDPOINT": s3.endpoint,
            "DYAD_S3_ACCESS_KEY": s3.access_key,
            "DYAD_S3_SECRET_KEY": s3.secret_key,
            "DYAD_REDIS_URL": rs.url,
            "DYAD_GATEWAY_TOKENS": f"red:{RED},blue:{BLUE}",
            "DYAD_LOG_LEVEL": "WARNING",
            "OMP_NUM_THREADS": "1",
        }
        with RayServe(None, env, num_cpus=8) as ray_serve:
            endpoint = f"127.0.0.1:{ray_serve.grpc_port}"
            workers = []
            for name in ("w1", "w2"):
                wenv = {
                    **os.environ,
                    **env,
                    "DYAD_PIPELINE_STAGES": "served",
                    "DYAD_PIPELINE_ENDPOINT": endpoint,
                    "DYAD_WORKER_CONSUMER": name,
                }
                log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 (closed below)
                cmd = [sys.executable, "-m", "dyad.services.worker"]
                proc = subprocess.Popen(cmd, env=wenv, stdout=subprocess.DEVNULL, stderr=log)
                workers.append((proc, log))
            try:
                red = DyadClient(endpoint, RED, timeout=60, application="gateway")
                job = red.submit(
                    "Two colleagues plan a product launch",
                    n=1,
                    turns=(5, 5),
                    head_px=64,
                    refine_steps=2,
                    seed=1,
                )
                stages: set[str] = set()
                done = red.watch(job.job_id, on_progress=lambda e: stages.add(e.stage), timeout=900)
                assert done.status == "succeeded", (done, (tmp_path / "w1.log").read_text())
                assert {"dialogue", "speech", "motion", "refine", "render"} <= stages
                files = red.download(done, tmp_path / "out")
                video = next(p for n, p in files.items() if n.endswith("conversation.mp4"))
                info = probe(video)
                assert info["video"] is not None and info["audio"] is not None
                assert (info["video"]["codec"], info["video"]["fps"]) == ("h264", 25)
                assert (info["video"]["width"], info["video"]["height"]) == (128, 64)
                assert info["audio"]["codec"] == "aac"
                blue = DyadClient(endpoint, BLUE, timeout=60, application="gateway")
                with pytest.raises(errors.PermissionDenied):
                    blue.get(job.job_id)
            finally:
                for proc, log in workers:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                    log.close()
                time.sleep(0.1)
