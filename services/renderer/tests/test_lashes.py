"""The lower lashes are mostly skin (``heads.human.lashes``): no eyeliner ring under every eye.

On a dark-haired, fair-skinned face: the lower lash triangles lie below the eyes and their
albedo sits ``LOWER_SHARE`` of the way from the skin to the lash colour; the upper lashes keep
the brows' dark colour; nothing else changes.
"""

from __future__ import annotations

import numpy as np

from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.heads.human.lashes import LOWER_SHARE
from dyad.services.renderer.heads.model import Material


def test_lower_lashes_lean_to_the_skin_and_upper_ones_stay_dark() -> None:
    av = create_avatar("a woman with fair skin and long black hair", head="human")
    head = av.head
    labels = np.asarray(head.face_labels)
    lower = head.lower_lash_faces
    upper = (labels == Material.BROW) & ~lower & (np.arange(len(labels)) < len(head.bust.faces))
    assert lower.sum() > 50 and upper.sum() > 50
    centre = head.neutral()[np.asarray(head.faces)].mean(axis=1)  # [F, 3]
    assert np.median(centre[lower, 1]) < np.median(centre[upper, 1])  # below, under the eyes
    albedo = av.albedo.numpy()
    skin = np.median(albedo[labels == Material.SKIN], axis=0)
    dark = np.median(albedo[upper], axis=0)
    assert np.linalg.norm(skin - dark) > 0.5  # a contrast to read: fair skin, black hair
    got = np.median(albedo[lower], axis=0)
    # LOWER_SHARE of the way from the skin to the lash colour (± the per-face jitter)
    np.testing.assert_allclose(got, skin + LOWER_SHARE * (dark - skin), atol=0.05)
