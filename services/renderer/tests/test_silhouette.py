"""Issue 17: no Gaussians outside the head's silhouette, and no holes inside it.

At 128², for the procedural head and the human bust (hair, beard, glasses), at rest, with the
jaw open and turned 25°: pixels with α > 0.02 outside the mesh silhouette dilated by 2 px stay
under a bound, and the silhouette eroded by 2 px stays opaque (α ≥ 0.99).

This is ``render`` — the Gaussians themselves, unmatted, as fitting sees them. Video frames
are matted to the mesh outline and hold zero stray pixels (``test_matte``). Here the bound
is not zero: the fringe comes from the in-plane spread that closes the surface
(``bench/silhouette.py`` says why, with the numbers). It sits between what the
avatars render now and what the old shapes (normal std 0.08 k, opacity 0.98, no posed
coverage) rendered, and the same avatar given the old normal std and opacity must stray
clearly more, so a return of the fringe those put round the outline fails here even when the
head meshes change.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.raster import render
from dyad.services.renderer.video import head_camera

from .silhouette_helpers import POSES, WALTER, SilhouetteStats, mesh_mask, silhouette_stats

PX = 128
#: head → pose → most stray pixels at 128², front camera (now: procedural 67/69/124, human
#: 264/263/316; the old shapes: 92/93/144 and 358/359/405).
STRAY_BOUND = {
    "procedural": {"neutral": 78, "jawOpen": 80, "yaw25": 135},
    "human": {"neutral": 305, "jawOpen": 305, "yaw25": 365},
}
OPAQUE_BOUND = 0.999  # fraction of the interior with α ≥ 0.99 (now 1.0 and 0.9992)
OLD_RATIO = 0.9  # stray now / stray with the old normal std and opacity (now 0.73–0.83)


@pytest.fixture(scope="module", params=["procedural", "human"])
def avatar(request: pytest.FixtureRequest) -> GaussianAvatar:
    return create_avatar(WALTER, head=request.param)


@pytest.mark.parametrize("pose", list(POSES))
def test_render_stays_inside_the_mesh_silhouette_without_holes(
    avatar: GaussianAvatar, pose: str
) -> None:
    rig = get_rig("arkit55")
    motion = np.zeros((1, len(rig.channels)), np.float32)
    for name, value in POSES[pose].items():
        motion[0, rig.channels.index(name)] = value
    cam = head_camera("front", PX)
    mask = mesh_mask(avatar.head.pose(motion)[0], np.asarray(avatar.head.faces), cam)

    def stats_of(av: GaussianAvatar) -> SilhouetteStats:
        out = render(next(av.scenes(motion)), cam, background=(1, 1, 1), backend="cpu")
        return silhouette_stats(out.alpha, mask)

    stats = stats_of(avatar)
    kind = avatar.head_config["kind"]
    assert stats.interior_px > 0.15 * PX * PX  # the head fills the frame
    assert stats.stray_px <= STRAY_BOUND[kind][pose], stats
    assert stats.interior_opaque >= OPAQUE_BOUND, stats
    old_scale = avatar.log_scale.clone()
    old_scale[:, 1] = float(np.log(0.08))  # the normal std the fringe came from
    old = replace(avatar, log_scale=old_scale, opacity=torch.full_like(avatar.opacity, 0.98))
    assert stats.stray_px <= OLD_RATIO * stats_of(old).stray_px, (stats, stats_of(old))
