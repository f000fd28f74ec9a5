"""``make bench``: platform benchmarks against real servers; results in bench/results/.

Measured in one run, each against its reference, reported as medians and ratios:

- artefact store: put/get of a 20 MiB object, ``LocalStore`` (reference) vs ``S3Store`` on
  a local moto server (multipart, 5 MiB parts);
- job queue: submit → claim → complete round trips per second on a local redis-server with
  AOF ``appendfsync always`` vs ``everysec`` (the reference for what durability costs).

The result file names the machine (hostname, CPU count, platform).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from bench.common import median_s, write_result
from dyad.queue import JobQueue, QueueConfig
from dyad.storage import LocalStore, S3Store
from dyad.testing import RedisServer, S3Server

MiB = 1024 * 1024


def bench_store(repeat: int = 5) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, S3Server() as s3:
        stores = {
            "local": LocalStore(Path(tmp) / "store"),
            "s3_moto": S3Store(
                "bench",
                endpoint=s3.endpoint,
                access_key=s3.access_key,
                secret_key=s3.secret_key,
                part_size=5 * MiB,
            ),
        }
        for name, store in stores.items():
            blobs = [os.urandom(20 * MiB) for _ in range(repeat)]  # distinct: no CAS skip
            it = iter(blobs)
            put = median_s(lambda st=store, it=it: st.put_bytes(next(it)), repeat, warmup=False)
            ref = store.put_bytes(blobs[0])
            get = median_s(lambda st=store, r=ref: st.get_bytes(r), repeat)
            again = median_s(lambda st=store, b=blobs[0]: st.put_bytes(b), repeat)
            out[name] = {
                "put_20MiB_median_s": put,
                "get_20MiB_median_s": get,
                "repeat_put_median_s": again,
                "put_MiB_per_s": 20 / put,
                "get_MiB_per_s": 20 / get,
            }
    out["s3_over_local_put_ratio"] = (
        out["s3_moto"]["put_20MiB_median_s"] / out["local"]["put_20MiB_median_s"]
    )
    out["s3_over_local_get_ratio"] = (
        out["s3_moto"]["get_20MiB_median_s"] / out["local"]["get_20MiB_median_s"]
    )
    return out


def bench_queue(jobs: int = 300) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fsync in ("everysec", "always"):
        with RedisServer(fsync=fsync) as server:
            q = JobQueue(
                redis.Redis.from_url(server.url, decode_responses=True), QueueConfig(prefix="b")
            )
            t0 = time.perf_counter()
            for i in range(jobs):
                q.submit({"i": i})
            submit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            done = 0
            while (d := q.claim("bench", block_s=0.01)) is not None:
                d.progress("stage", 1.0)
                d.complete()
                done += 1
            work_s = time.perf_counter() - t0
            assert done == jobs, (done, jobs)
            out[f"aof_{fsync}"] = {
                "submit_per_s": jobs / submit_s,
                "claim_progress_complete_per_s": jobs / work_s,
            }
    out["always_over_everysec_throughput_ratio"] = (
        out["aof_always"]["claim_progress_complete_per_s"]
        / out["aof_everysec"]["claim_progress_complete_per_s"]
    )
    return out


def main() -> None:
    """Every benchmark; each writes its own result file naming the machine."""
    result = {"store": bench_store(), "queue": bench_queue()}
    print(json.dumps(result, indent=2))
    print(f"written to {write_result('platform', result)}")
    # the model benchmarks load torch and numba: only after the platform numbers are taken
    from bench import audio, corpus, dialogue, e2e, refiner, render

    audio.main()
    dialogue.main()
    corpus.main()
    render.main()
    refiner.main()
    e2e.main()


if __name__ == "__main__":
    main()
