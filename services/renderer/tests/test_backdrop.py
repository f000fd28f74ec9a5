"""Soft-focus backdrops per sound environment, and the heads composited over them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from dyad.domain import ENVIRONMENTS
from dyad.media.image import read_png
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.backdrop import _cached, backdrop
from dyad.services.renderer.core import RendererCore
from dyad.services.renderer.raster import render, render_frame, to_uint8
from dyad.services.renderer.raster.frame_kernels import frame_coverage
from dyad.services.renderer.raster.matte import grow
from dyad.services.renderer.settings import RendererSettings
from dyad.services.renderer.tests.test_service import PX, _request, serve
from dyad.services.renderer.video import HeadTrack, head_camera, head_frames
from dyad.storage import LocalStore

REST = np.zeros((1, len(get_rig("arkit55").channels)), np.float32)


@pytest.fixture(scope="module")
def avatar() -> Any:
    return create_avatar("woman, dark skin, curly black hair", head="procedural")


def test_each_environment_has_its_own_plate() -> None:
    means = {e: backdrop(e, 96, "a").mean(axis=(0, 1)) for e in ENVIRONMENTS}
    for e in ENVIRONMENTS:
        assert backdrop(e, 96, "a").shape == (96, 96, 3) and backdrop(e, 96).dtype == np.float32
    for e1, e2 in itertools.combinations(ENVIRONMENTS, 2):
        # mean colours apart, and the pictures apart pixel by pixel
        assert np.linalg.norm(means[e1] - means[e2]) > 0.04, (e1, e2)
        assert np.abs(backdrop(e1, 96) - backdrop(e2, 96)).mean() > 0.06, (e1, e2)


@pytest.mark.parametrize("size", [64, 256])
def test_plates_are_soft_focus(size: int) -> None:
    for e in ENVIRONMENTS:
        p = backdrop(e, size, "a")
        step = max(np.abs(np.diff(p, axis=0)).max(), np.abs(np.diff(p, axis=1)).max())
        # at most ~10 % of full scale across 1 % of the frame: no sharp edge anywhere
        assert step * size < 12.0, (e, size, step)
        assert p.std() > 0.03, e  # not flat either: there is a place behind the head


def test_plates_are_deterministic_cached_and_mirrored() -> None:
    first = {e: backdrop(e, 80, "a").copy() for e in ENVIRONMENTS}
    _cached.cache_clear()
    for e in ENVIRONMENTS:
        again = backdrop(e, 80, "a")
        assert np.array_equal(again, first[e])
        assert backdrop(e, 80, "a") is again  # cached
        assert not again.flags.writeable
        assert np.array_equal(backdrop(e, 80, "b"), again[:, ::-1])
        assert np.array_equal(backdrop(e, 80, "front"), again)
    assert np.array_equal(backdrop("unknown", 80), first["studio"])
    assert np.array_equal(backdrop("", 80), first["studio"])


def test_head_over_plate_keeps_head_and_shows_plate(avatar: Any) -> None:
    px = 64
    cam = head_camera("a", px)
    plate = backdrop("cafe", px, "a")
    (scene,) = list(avatar.scenes(REST, cull_from=cam.position))
    over_black = render(scene, cam, background=(0.0, 0.0, 0.0), backend="cpu")
    frame = next(head_frames(HeadTrack(avatar, REST, cam), background=plate, backend="cpu"))
    assert scene.surface is not None
    cover = frame_coverage(cam, *scene.surface).astype(bool)  # the video frame's matte
    head = (over_black.alpha > 0.999) & grow(cover, 1)
    empty = (over_black.alpha < 1e-3) | ~grow(cover, 2)
    assert head.sum() > 0.15 * px * px and empty.sum() > 0.15 * px * px
    # where the head is opaque its pixels are the over-black render's (±1 level of rounding
    # for the 0.1 % of plate still showing through)
    diff = np.abs(frame[head].astype(int) - to_uint8(over_black.rgb)[head].astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.05
    np.testing.assert_array_equal(frame[empty], to_uint8(plate)[empty])
    with pytest.raises(Exception, match="plate"):
        next(head_frames(HeadTrack(avatar, REST, cam), background=plate[:32], backend="cpu"))


def test_plain_backdrop_is_todays_frame(avatar: Any) -> None:
    settings = RendererSettings(head_px=64, backend="cpu", head="procedural")
    env_core = RendererCore(None, settings)
    plain_core = RendererCore(None, replace(settings, backdrop="plain"))
    cam = head_camera("front", 64)
    (scene,) = list(avatar.scenes(REST, cull_from=cam.position))
    today = render_frame(scene, cam, background=plain_core.background, backend="cpu")
    assert np.array_equal(plain_core.preview(avatar, environment="cafe"), today)
    assert np.array_equal(env_core.preview(avatar), today)  # no environment: plain colour
    assert plain_core.backgrounds("cafe", 64) == plain_core.background
    cafe = env_core.preview(avatar, environment="cafe")
    assert np.abs(cafe.astype(int) - today.astype(int)).mean() > 20
    assert set(env_core.backgrounds("car", 64)) == {"a", "b"}


def test_requests_name_their_environment(tmp_path: Path) -> None:
    async def t(stub: Any, store: LocalStore) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            await stub.RenderVideo(_request(store, sound_environment="moon"), timeout=120)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert e.value.details().startswith("sound_environment"), e.value.details()
        assert "moon" in e.value.details()

        req = _request(store, sound_environment="office")
        chunks = [ch async for ch in stub.StreamFrames(req, timeout=300)]
        first = read_png(chunks[0].png_frames[0])
        plates = [to_uint8(backdrop("office", PX, s)) for s in "ab"]
        # the top corners, beside the heads, show each camera's (mirrored) plate
        corners = (slice(0, 4), slice(0, 4)), (slice(0, 4), slice(PX - 4, PX))
        for half, plate in zip((first[:, :PX], first[:, PX:]), plates, strict=True):
            for c in corners:
                assert np.abs(half[c].astype(int) - plate[c].astype(int)).max() <= 1

    serve(tmp_path, t, head="procedural")
