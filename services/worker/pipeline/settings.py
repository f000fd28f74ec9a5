"""Settings of the pipeline's stages (env vars ``DYAD_PIPELINE_*``).

Where the stages run: ``embedded`` (every service's core in the worker's process) or ``served``
(the services over gRPC: one Ray Serve gRPC proxy for all, routed by the ``application``
metadata, or a standalone server per service).
"""

from __future__ import annotations

from dataclasses import dataclass

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_PIPELINE_"
MODES = ("embedded", "served")
#: The stage services, by the short name their endpoint setting carries.
SERVICES = ("dialogue", "audio", "motion", "refiner", "renderer")


@dataclass(frozen=True)
class PipelineSettings:
    stages: str = setting(
        "embedded", "where the stages run: this process, or the services over gRPC", choices=MODES
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

    def validate(self) -> None:
        if self.timeout_s <= 0:
            raise ConfigError(f"{PREFIX}TIMEOUT_S", "must be positive")
        if self.stages == "served":
            missing = [s for s in SERVICES if not self.endpoint_of(s)]
            if missing:
                raise ConfigError(
                    f"{PREFIX}ENDPOINT",
                    f"served stages need an endpoint; none for {', '.join(missing)}",
                )

    def endpoint_of(self, service: str) -> str:
        """The service's own endpoint, else the shared proxy's (empty if neither is set)."""
        own: str = getattr(self, f"{service}_endpoint")
        return own or self.endpoint

    @classmethod
    def from_env(cls) -> PipelineSettings:
        return load(cls, prefix=PREFIX)
