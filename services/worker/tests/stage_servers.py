"""Real servers of every stage on one store, for tests that drive ``ServedStages``."""

from __future__ import annotations

from dyad.config import PlatformSettings
from dyad.rpc import DyadServer
from dyad.services.audio_encoder.__main__ import build_server as audio_server
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.dialogue.__main__ import build_server as dialogue_server
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.motion.__main__ import build_server as motion_server
from dyad.services.motion.settings import MotionSettings
from dyad.services.refiner.__main__ import build_server as refiner_server
from dyad.services.refiner.settings import RefinerSettings
from dyad.services.renderer.__main__ import build_server as renderer_server
from dyad.services.renderer.settings import RendererSettings


def stage_servers(
    platform: PlatformSettings, renderer: RendererSettings | None = None
) -> dict[str, DyadServer]:
    """``{stage: server}`` (not started) under the names ``ServedStages`` routes by."""
    return {
        "dialogue": dialogue_server(platform, DialogueSettings()),
        "audio": audio_server(platform, AudioEncoderSettings()),
        "motion": motion_server(platform, MotionSettings()),
        "refiner": refiner_server(platform, RefinerSettings()),
        "renderer": renderer_server(platform, renderer or RendererSettings()),
    }
