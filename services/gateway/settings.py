"""Settings of the gateway (env vars ``DYAD_GATEWAY_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dyad.config import load, setting
from dyad.errors import ConfigError

PREFIX = "DYAD_GATEWAY_"


@dataclass(frozen=True)
class GatewaySettings:
    tokens_file: Path | None = setting(
        None, "bearer tokens: JSON `{team: [token, …]}` or lines `team:token` (re-read on change)"
    )
    tokens: str = setting(
        "", "inline tokens `team:token,team:token` (dev; prefer the file)", secret=True
    )
    max_prompt_chars: int = setting(4000, "longest accepted prompt, characters")
    max_n: int = setting(16, "most conversations one prompt may ask for (`n`)")
    max_audio_duration_s: float = setting(600.0, "longest accepted input audio, seconds")
    max_audio_bytes: int = setting(
        512 * 1024 * 1024, "largest accepted input audio artefact, bytes"
    )
    max_avatar_bytes: int = setting(
        7 * 1024 * 1024,
        "largest UploadAvatar (config.json + model.safetensors), bytes; keep under "
        "DYAD_GRPC_MAX_MESSAGE_BYTES, which bounds the whole request",
    )
    max_video_bytes: int = setting(
        256 * 1024 * 1024, "largest video a fit-avatar job accepts, bytes"
    )
    max_video_upload_bytes: int = setting(
        7 * 1024 * 1024,
        "largest UploadVideo, bytes; keep under DYAD_GRPC_MAX_MESSAGE_BYTES (larger videos go "
        "to uploads/<team>/… in the store directly)",
    )
    max_video_duration_s: float = setting(120.0, "longest video a fit-avatar job accepts, seconds")
    max_fit_iters: int = setting(20000, "most optimisation steps a fit-avatar job may ask for")
    presign_expiry_s: float = setting(3600.0, "lifetime of result download URLs, seconds (≤ 7 d)")
    list_page_size: int = setting(50, "ListJobs page size when the request names none")
    max_list_page_size: int = setting(500, "largest ListJobs page")
    watch_poll_s: float = setting(1.0, "WatchJob: longest blocking read of the event stream")
    watch_max_s: float = setting(3600.0, "WatchJob: longest stream before the client must resume")

    def validate(self) -> None:
        if not 1.0 <= self.presign_expiry_s <= 7 * 24 * 3600:
            raise ConfigError(f"{PREFIX}PRESIGN_EXPIRY_S", "between 1 s and 7 days (SigV4)")
        for name in (
            "max_avatar_bytes",
            "max_video_bytes",
            "max_video_upload_bytes",
            "max_fit_iters",
            "max_prompt_chars",
            "max_n",
            "list_page_size",
            "max_list_page_size",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{PREFIX}{name.upper()}", "must be at least 1")
        if self.list_page_size > self.max_list_page_size:
            raise ConfigError(f"{PREFIX}LIST_PAGE_SIZE", "larger than MAX_LIST_PAGE_SIZE")
        if self.max_video_duration_s <= 0:
            raise ConfigError(f"{PREFIX}MAX_VIDEO_DURATION_S", "must be positive")
        if self.watch_poll_s <= 0 or self.watch_max_s <= 0:
            raise ConfigError(f"{PREFIX}WATCH_POLL_S", "watch times must be positive")

    @classmethod
    def from_env(cls) -> GatewaySettings:
        return load(cls, prefix=PREFIX)
