"""``render_videos`` with each head drawn in its own thread (``overlap``, the default) against
the serial reference: the same frames in every output, whether each thread draws alone or
shares the parallel kernel; an error in a head's thread reaches the caller."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad.rigs import get_rig
from dyad.services.renderer import video
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.video import HeadTrack, VideoOutput, head_camera, render_videos

PX, FRAMES = 64, 6


@pytest.fixture(scope="module")
def heads() -> dict[str, HeadTrack]:
    rig = get_rig("arkit55")
    m = np.zeros((FRAMES, len(rig.channels)), np.float32)
    m[:, rig.channels.index("jawOpen")] = np.linspace(0.0, 0.9, FRAMES)
    m[:, rig.channels.index("headYaw")] = np.linspace(-0.2, 0.2, FRAMES)
    av = create_avatar("")
    return {
        "a": HeadTrack(av, m, head_camera("a", PX)),
        "b": HeadTrack(av, m[::-1].copy(), head_camera("b", PX)),
    }


def _capture(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[np.ndarray]]:
    written: dict[str, list[np.ndarray]] = {}

    def write_mp4(path: Path, frames: Iterable[np.ndarray], **_: Any) -> None:
        written[Path(path).name] = [f.copy() for f in frames]

    monkeypatch.setattr(video, "write_mp4", write_mp4)
    return written


def _outputs() -> list[VideoOutput]:
    return [
        VideoOutput(Path("conversation.mp4"), "side", None),
        VideoOutput(Path("speaker_a.mp4"), "single", None, "a"),
        VideoOutput(Path("speaker_b.mp4"), "single", None, "b"),
    ]


@pytest.mark.parametrize("cores", [2, 8])  # each head's thread alone; sharing the kernel
def test_overlapped_heads_give_the_serial_frames(
    heads: dict[str, HeadTrack], monkeypatch: pytest.MonkeyPatch, cores: int
) -> None:
    written = _capture(monkeypatch)
    monkeypatch.setattr(video, "_cores", lambda: cores)
    kw: dict[str, Any] = {"audio_rate": 16000, "backend": "cpu"}
    assert render_videos(heads, _outputs(), overlap=False, **kw) == FRAMES
    serial = dict(written)
    written.clear()
    assert render_videos(heads, _outputs(), overlap=True, **kw) == FRAMES
    assert set(written) == set(serial) == {o.path.name for o in _outputs()}
    for name, frames in serial.items():
        assert len(written[name]) == FRAMES
        for a, b in zip(frames, written[name], strict=True):
            np.testing.assert_array_equal(a, b)
    assert (serial["speaker_a.mp4"][0] != serial["speaker_b.mp4"][0]).any()


class _Broken:
    """An avatar whose third frame fails (as a bad stored avatar might)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def scenes(self, motion: np.ndarray, **kw: Any) -> Iterator[Any]:
        for i, scene in enumerate(self.inner.scenes(motion, **kw)):
            if i == 2:
                raise RuntimeError("head b broke")
            yield scene


def test_an_error_in_a_heads_thread_reaches_the_caller(
    heads: dict[str, HeadTrack], monkeypatch: pytest.MonkeyPatch
) -> None:
    _capture(monkeypatch)
    b = heads["b"]
    broken = {"a": heads["a"], "b": HeadTrack(_Broken(b.avatar), b.motion, b.camera)}
    with pytest.raises(RuntimeError, match="head b broke"):
        render_videos(broken, _outputs(), audio_rate=16000, backend="cpu", overlap=True)
