"""Settings of the batch workers (env vars ``DYAD_WORKER_*``).

The queue itself (visibility timeout, retries, backoff, dead-letter threshold) is configured by
the platform settings ``DYAD_QUEUE_*``; Redis by ``DYAD_REDIS_URL``; the store by
``DYAD_STORE_URI``/``DYAD_S3_*``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_WORKER_"


@dataclass(frozen=True)
class WorkerSettings:
    runner: str = setting(
        "dyad.services.worker.pipeline.jobs:build_runner",
        "the JobRunner as `module:attr` (an instance or a zero-argument factory)",
    )
    consumer: str = setting(
        "", "consumer name in the Redis group (empty: `<hostname>-<pid>-<random>`)"
    )
    concurrency: int = setting(1, "jobs run at once by this process (threads; one runner)")
    heartbeat_interval_s: float = setting(
        10.0, "lease renewal period; keep well under DYAD_QUEUE_VISIBILITY_TIMEOUT_S"
    )
    claim_block_s: float = setting(2.0, "longest wait for a job in one claim")
    shutdown_grace_s: float = setting(
        30.0, "on SIGTERM, time for running jobs to finish before they are released"
    )
    job_kinds: str = setting(
        "generate",
        "the job kinds this worker claims, comma-separated: `generate` (conversations), "
        "`fit_avatar` (avatars fitted to a team's video: a GPU group); each kind has its own "
        "queue (`<DYAD_QUEUE_PREFIX>` and `<DYAD_QUEUE_PREFIX>:fit`)",
    )
    max_jobs: int = setting(0, "exit after this many jobs (0: never; for one-shot pods)")
    fault_kill_at: str = setting(
        "",
        "TEST ONLY, leave empty: SIGKILL this process in the middle of the named stage, once "
        "its outputs are written and before it is recorded as done (`manifest`: just before "
        "the job manifest is written); the fault tests (`make test-faults`) use it",
    )

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(k.strip() for k in self.job_kinds.split(",") if k.strip()))

    def validate(self) -> None:
        from dyad.services.gateway.fitjobs import JOB_KINDS

        if not self.kinds or any(k not in JOB_KINDS for k in self.kinds):
            raise ConfigError(f"{PREFIX}JOB_KINDS", f"comma-separated, of {', '.join(JOB_KINDS)}")
        if self.concurrency < 1:
            raise ConfigError(f"{PREFIX}CONCURRENCY", "must be at least 1")
        if self.heartbeat_interval_s <= 0 or self.claim_block_s <= 0:
            raise ConfigError(f"{PREFIX}HEARTBEAT_INTERVAL_S", "intervals must be positive")
        if self.shutdown_grace_s < 0 or self.max_jobs < 0:
            raise ConfigError(f"{PREFIX}SHUTDOWN_GRACE_S", "must not be negative")
        if self.fault_kill_at and not self.fault_kill_at.isidentifier():
            raise ConfigError(f"{PREFIX}FAULT_KILL_AT", "expected a stage name or `manifest`")

    @classmethod
    def from_env(cls) -> WorkerSettings:
        return load(cls, prefix=PREFIX)
