"""The lower lashes, mostly skin.

hm08 ships both lash rows as little sheets standing off the lids, and the bust labels them
like the brows (``Material.BROW``: the hair's darkest colour). On the upper lid that reads as
lashes; on the lower lid, where real lashes are short, sparse and pale against the skin, a
brow-dark ring under each eye read as heavy eyeliner on every face. The lower row keeps
``LOWER_SHARE`` of the lash colour over the skin's (baked into the albedo at creation, like
``mouth``; saved avatars keep their colours).
"""

from __future__ import annotations

import numpy as np

#: hm08's lower lash groups (``-1``: below the eye's centre; ``-2`` is the upper row).
LOWER_GROUPS = ("helper-l-eyelashes-1", "helper-r-eyelashes-1")
#: Share of the lash colour the lower row keeps; the rest is the skin's. Half: at 0.3 the
#: face reader's blink read weaker on one eye (median r 0.95 → 0.88; 0.90 at half), the
#: lower lid's dark line being one of its cues (``bench.face_reader``).
LOWER_SHARE = 0.5


def soften_lower_lashes(
    albedo: np.ndarray, lower: np.ndarray, skin: tuple[float, float, float]
) -> np.ndarray:
    """``albedo [F, 3]`` with the faces ``lower [F]`` (bool) moved to ``LOWER_SHARE`` of their
    colour over ``skin``'s (a copy)."""
    out = np.array(albedo, np.float32, copy=True)
    out[lower] = LOWER_SHARE * out[lower] + (1.0 - LOWER_SHARE) * np.asarray(skin, np.float32)
    return out
