"""Settings of the pipeline's stages (env vars ``DYAD_PIPELINE_*``).

Where the stages run: ``served`` (the services over gRPC: one Ray Serve gRPC proxy for all,
routed by the ``application`` metadata, or a standalone server per service) or ``embedded``
(every service's core in the worker's process). ``auto``, the default, serves whenever an
endpoint is configured — the served system — and embeds otherwise (a laptop).
"""

from __future__ import annotations

from dataclasses import dataclass

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_PIPELINE_"
MODES = ("auto", "embedded", "served")
#: The stage services, by the short name their endpoint setting carries.
SERVICES = ("dialogue", "audio", "motion", "refiner", "renderer")


@dataclass(frozen=True)
class PipelineSettings:
    stages: str = setting(
        "auto",
        "where the stages run: the services over gRPC, or this process (auto: served when an "
        "endpoint is set)",
        choices=MODES,
    )
    endpoint: str = setting(
        "", "`host:port` of Ray Serve's gRPC proxy serving every stage (served mode)"
    )
    dialogue_endpoint: str = setting("", "`host:port` of a standalone dialogue server")
    audio_endpoint: str = setting("", "`host:port` of a standalone audio encoder server")
    motion_endpoint: str = setting("", "`host:port` of a standalone motion server")
    refiner_endpoint: str = setting("", "`host:port` of a standalone refiner server")
    renderer_endpoint: str = setting("", "`host:port` of a standalone renderer server")
    timeout_s: float = setting(1800.0, "deadline of one stage call, seconds")
    retries: int = setting(
        4, "retries of a stage call that failed UNAVAILABLE or RESOURCE_EXHAUSTED (0: none)"
    )
    backoff_base_s: float = setting(0.5, "retry backoff: base · 2^(attempt-1) seconds")
    backoff_max_s: float = setting(15.0, "retry backoff ceiling, seconds")

    def validate(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError(f"{PREFIX}TIMEOUT_S", "must be positive")
        if self.retries < 0 or self.retries > 20:
            raise ConfigError(f"{PREFIX}RETRIES", "between 0 and 20")
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            raise ConfigError(
                f"{PREFIX}BACKOFF_BASE_S", "≥ 0 and at most DYAD_PIPELINE_BACKOFF_MAX_S"
            )
        if self.served:
            missing = [s for s in SERVICES if not self.endpoint_of(s)]
            if missing:
                raise ConfigError(
                    f"{PREFIX}ENDPOINT",
                    f"served stages need an endpoint; none for {', '.join(missing)}",
                )

    @property
    def served(self) -> bool:
        """Whether the stages run as services (``auto``: whenever an endpoint is set)."""
        if self.stages == "auto":
            return any(self.endpoint_of(s) for s in SERVICES)
        return self.stages == "served"

    def endpoint_of(self, service: str) -> str:
        """The service's own endpoint, else the shared proxy's (empty if neither is set)."""
        own: str = getattr(self, f"{service}_endpoint")
        return own or self.endpoint

    @classmethod
    def from_env(cls) -> PipelineSettings:
        return load(cls, prefix=PREFIX)
