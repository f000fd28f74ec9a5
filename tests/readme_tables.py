"""Every settings class and the README that documents it: the tables are generated from the
classes (``dyad.config.settings_table``), so they cannot drift. ``test_readmes.py`` checks them;
``python -m tests.readme_tables`` rewrites the tables in place after a settings change."""

from __future__ import annotations

from pathlib import Path

from dyad.config import PlatformSettings, settings_table
from dyad.media.probe import MediaLimits
from dyad.services.audio_encoder.settings import AudioEncoderSettings
from dyad.services.capture.settings import CaptureSettings
from dyad.services.dialogue.settings import DialogueSettings
from dyad.services.gateway.settings import GatewaySettings
from dyad.services.motion.settings import MotionSettings
from dyad.services.refiner.settings import RefinerSettings
from dyad.services.renderer.settings import RendererSettings
from dyad.services.worker.pipeline.settings import PipelineSettings
from dyad.services.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[1]
HEADER = "| env var | default | meaning |"

#: (README, settings class, env var prefix)
TABLES: list[tuple[str, type, str]] = [
    ("README.md", PlatformSettings, "DYAD_"),
    ("README.md", MediaLimits, "DYAD_MEDIA_"),
    ("services/audio_encoder/README.md", AudioEncoderSettings, "DYAD_AUDIO_"),
    ("services/dialogue/README.md", DialogueSettings, "DYAD_DIALOGUE_"),
    ("services/motion/README.md", MotionSettings, "DYAD_MOTION_"),
    ("services/refiner/README.md", RefinerSettings, "DYAD_REFINER_"),
    ("services/renderer/README.md", RendererSettings, "DYAD_RENDER_"),
    ("services/capture/README.md", CaptureSettings, "DYAD_"),
    ("services/gateway/README.md", GatewaySettings, "DYAD_GATEWAY_"),
    ("services/worker/README.md", WorkerSettings, "DYAD_WORKER_"),
    ("services/worker/README.md", PipelineSettings, "DYAD_PIPELINE_"),
]


def table_span(text: str, cls: type, prefix: str) -> tuple[int, int] | None:
    """Where the README's table for ``cls`` is: the header whose first row is one of its
    variables, through the last row (character offsets); None if there is none."""
    names = {f"| `{prefix}{n.upper()}`" for n in cls.__dataclass_fields__}  # type: ignore[attr-defined]
    lines = text.splitlines(keepends=True)
    pos = 0
    for i, line in enumerate(lines):
        if line.rstrip("\n") == HEADER and i + 2 < len(lines):
            first = lines[i + 2].split(" | ", 1)[0]
            if first in names:
                end = i + 2
                while end < len(lines) and lines[end].startswith("| `"):
                    end += 1
                return pos, pos + sum(len(x) for x in lines[i:end])
        pos += len(line)
    return None


def update(readme: Path, cls: type, prefix: str) -> bool:
    """Rewrite ``cls``'s table in ``readme``; True if it changed."""
    text = readme.read_text()
    span = table_span(text, cls, prefix)
    if span is None:
        raise SystemExit(f"{readme}: no settings table for {cls.__name__}")
    new = text[: span[0]] + settings_table(cls, prefix=prefix) + "\n" + text[span[1] :]
    if new != text:
        readme.write_text(new)
    return new != text


def main() -> int:
    for rel, cls, prefix in TABLES:
        if update(REPO / rel, cls, prefix):
            print(f"updated {rel} ({cls.__name__})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
