"""Face units rebuilt from the mesh where the CC0 unit's SHAPE is wrong (``face_units``).

The face reader (``bench/face_reader.py``) reads these channels on real faces (p99 0.17–0.55,
``bench/results/face_ceiling-vm.md``) but not on the CC0 units at any gain: mouthPress moved
the corners 4 mm up and 5 mm out (read as a smile, +0.35), mouthLowerDown moved the lower lip
≤ 2 mm, eyeLookUp turned the globe 10°, and no CC0 eye unit is rigid (the globe's radius
changes by up to ±1.7 mm, its centre moves 1.9 mm; the CC0 data are exactly mirror-symmetric,
so eyeLookInLeft reading worse than eyeLookInRight is the reader's, not the rig's). Each unit
here is built from the bust (decimetres, +y up, +z out of the face, +x the subject's left),
regions from its groups, the ``LIPS``/``EYELID`` labels and the CC0 units' supports, never
from vertex indices; each is a fixed linear delta (the rig is a linear basis), deterministic
and bounded by the constants below.

**eyeLookUp<S>, eyeLookIn<S>** (the eyeball turns about its centre): the globe
(``helper-<s>-eye``) turns rigidly about the ``joint-<s>-eye`` cube's centre, forward being
towards ``joint-<s>-eye-target``, by ``LOOK_UP_DEG`` about forward × up or ``LOOK_IN_DEG``
about forward × nasal. A linear delta of a rotation is its chord: at drive w the globe's
points lie at ``sqrt(1 − 2w(1−w)(1−cos θ))`` of the radius (worst at w = ½: ``cos(θ/2)``,
0.44 mm inwards on the 15 mm globe at 28°, 0.23 mm at 20°; never outwards, so it cannot poke
through a lid) and the gaze is ``atan2(w sin θ, 1 − w + w cos θ)``, within 0.11° of w·θ.
Up: 28° (ARKit's 25–30°). In: 20°, less than ARKit's 30–40° because this mesh's lid opening
is narrow: at 30° the iris hides in the inner corner and the reader's score FALLS with the
drive (eyeLookInLeft 0.15 at 15° → 0.03 at 30° on Mei); at 20° it rises on every identity.
(``heads/rotators.py`` maps gaze to these channels with 21.8° for up and 28.6° for in/out.)
eyeLookUp lifts the upper lid and lashes with the gaze: each vertex above the eye's centre
that the CC0 unit moves turns about the same axis by ``LID_FOLLOW`` × θ × its coupling (the
angle the CC0 unit turned it through, |CC0 delta| ÷ its distance to the centre, scaled so
the most coupled vertex, the lid margin, has 1), so the lid rides the
globe at its distance and the iris stays in view; the lower lid stays. eyeLookIn keeps the
CC0 lid and lash motion (≤ 1 mm). ``face_units.limit_look_up`` lets a blink close the lid.

**mouthPress<S>** (the lips pressed together, the red thinning, corners not raised): the
lip seam y_s is midway between the lowest upper-lip and the highest lower-lip vertex near
the midline (upper and lower lip: the ``LIPS`` vertices that jawOpen moves < 10 % / > 50 % of
its most). Every body vertex in front of the mouth cavity moves vertically towards the seam
by k × its height t above or below it: the red shrinks by k and the lips stay closed (a
contraction towards y_s keeps their order). k is 0.78 on the upper lip and 0.94 on the lower
(``PRESS`` their mean, ``PRESS_LOWER`` their ratio: ARKit's "upward compression of the lower
lip"). Beyond the lip's border (the lower lip's height on both sides: the ``LIPS`` lens runs
up into the philtrum) the border's displacement fades to 0 over ``PRESS_FADE`` × that height,
so the nose and chin stay. The lips also go back by ``PRESS_BACK`` × the vertical motion
(rolling in). Along the mouth the weight is ``1 − (x/x_c)²`` (x_c: the lips' outermost
vertex): at the corner, where t is also ~0, nothing moves up, down or out.

**mouthLowerDown<S>** (the lower lip pulled down on that side, showing the lower teeth): the
lower lip, weighted by how far jawOpen moves a vertex (0 at 10 % of its most, where the upper
lip ends, 1 at the lower lip's motion: the cheeks beside the corner follow partly, nothing
above the seam moves), drops ``LOWER_DOWN`` and comes forwards ``LOWER_OUT`` × that, fully
from the seam to the lip's lower border, fading to 0 over ``LOWER_FALL`` below it (the chin
stays); along the mouth ``1 − (x/x_c)⁴``. The teeth stay, so the lips part over them.

Sides: a Left unit's weight is ``smoothstep`` across the mouth (0 at x = −``SIDE_BLEND``·x_c,
½ on the midline, 1 at +``SIDE_BLEND``·x_c; Right its mirror): Left + Right is the whole
mouth, and one side alone still presses or drops the other side a little, as real faces do
(a sharper split, 0.3·x_c, read weaker: the reader scored one-sided presses as mouthRight).

Measured (quick bench, 4 identities × yaws 0°, ±25°; median r / mean gain): eyeLookIn and
mouthPress readable (r ≥ 0.95, gain 0.10–0.27); eyeLookUp r 0.82–0.97 but gain 0.02–0.06
(the reader's p99 on real up-gaze is only 0.17); mouthLowerDown r ~0.9, gain ≤ 0.01: the
reader does not score a lowered lip on a closed jaw (7 or 14 mm alike, ≤ 0.03), a little
with the jaw open: jawOpen 0.15 (alone ≤ 0.006) + both sides scores 0.02–0.09 (CC0
0.01–0.03), 0.1–0.2 were the drop 14 mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dyad.rigs import ARKIT_BLENDSHAPES

from ..model import Material
from .bust import Bust

LOOK_UP_DEG = 28.0
LOOK_IN_DEG = 20.0
LID_FOLLOW = 0.8
PRESS = 0.86
PRESS_LOWER = 1.2  # lower lip / upper lip compression
PRESS_BACK = 0.3
PRESS_FADE = 0.5  # × the lip's height
LOWER_DOWN = 0.07  # dm: 7 mm
LOWER_OUT = 0.25
LOWER_FALL = 0.15  # dm
LOWER_ALONG = 4.0
SIDE_BLEND = 1.0

REBUILT = (
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
)
_IDX = {n: i for i, n in enumerate(ARKIT_BLENDSHAPES)}


def rotation(axis: np.ndarray, deg: float) -> np.ndarray:
    """``[3, 3]`` rotation by ``deg`` about unit ``axis`` (right hand)."""
    k = axis / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    t = np.radians(deg)
    return np.eye(3) + np.sin(t) * kx + (1.0 - np.cos(t)) * (kx @ kx)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def eye_axes(centre: np.ndarray, forward: np.ndarray) -> dict[str, np.ndarray]:
    """The turn axes of one eye: "up" (forward × +y) and "in" (forward × the nasal side)."""
    nasal = np.array([-np.sign(centre[0]), 0.0, 0.0])
    up, inward = np.cross(forward, [0.0, 1.0, 0.0]), np.cross(forward, nasal)
    return {"up": up / np.linalg.norm(up), "in": inward / np.linalg.norm(inward)}


def _eye_unit(
    bust: Bust, cc0: np.ndarray, side: str, eye: tuple[np.ndarray, np.ndarray], kind: str
) -> np.ndarray:
    v = bust.vertices
    centre, forward = eye
    axis = eye_axes(centre, forward)[kind]
    deg = LOOK_UP_DEG if kind == "up" else LOOK_IN_DEG
    out = cc0.copy() if kind == "in" else np.zeros_like(cc0)
    ball = bust.vertices_in(f"helper-{side}-eye")
    q = v[ball] - centre
    out[ball] = q @ (rotation(axis, deg) - np.eye(3)).T
    if kind == "up":  # the lid and lashes ride the globe
        others = np.setdiff1d(np.flatnonzero(np.linalg.norm(cc0, axis=1) > 0.0), ball)
        others = others[v[others, 1] > centre[1]]  # the upper lid: the lower lid stays
        qo = v[others] - centre
        follow = np.linalg.norm(cc0[others], axis=1) / np.linalg.norm(qo, axis=1)  # CC0 turn
        follow = follow / follow.max()  # the lid margin follows fully
        for i, (p, w) in enumerate(zip(qo, follow, strict=True)):
            out[others[i]] = (rotation(axis, LID_FOLLOW * deg * w) - np.eye(3)) @ p
    return out


def mouth_frame(bust: Bust, labels: np.ndarray, jaw: np.ndarray) -> dict[str, Any]:
    """The mouth measured on the bust: the lip seam height ``y_s``, the corner's |x| ``x_c``,
    the lips' half-heights ``h_up``/``h_low``, the cavity's front ``z_back`` and the lower
    lip's jawOpen motion ``jaw_lip`` (dm)."""
    v, f = bust.vertices, bust.faces
    lips = np.unique(f[(labels == Material.LIPS) & bust.faces_in("body")])
    j_max = jaw[lips].max()
    lower, upper = lips[jaw[lips] > 0.5 * j_max], lips[jaw[lips] < 0.1 * j_max]
    x_c = float(np.abs(v[lips, 0]).max())
    mid_u = upper[np.abs(v[upper, 0]) < 0.25 * x_c]
    mid_l = lower[np.abs(v[lower, 0]) < 0.25 * x_c]
    y_s = 0.5 * (v[mid_u, 1].min() + v[mid_l, 1].max())
    return {
        "y_s": float(y_s),
        "x_c": x_c,
        "h_up": float(v[upper, 1].max() - y_s),
        "h_low": float(y_s - v[lower, 1].min()),
        "z_back": float(v[lips, 2].min()),
        "jaw_lip": float(np.median(jaw[lower])),
        "jaw_still": float(0.1 * j_max),
        "lower": lower,
        "upper": upper,
    }


def side_weight(x: np.ndarray, x_c: float, side: str) -> np.ndarray:
    """``[N]`` the Left (+x) / Right (−x) unit's share of a vertex at ``x``; L + R = 1."""
    s = 1.0 if side == "Left" else -1.0
    return _smoothstep((s * x / (SIDE_BLEND * x_c) + 1.0) / 2.0)


def _press(bust: Bust, m: dict[str, Any], side: str) -> np.ndarray:
    v = bust.vertices
    out = np.zeros_like(v)
    body = bust.vertices_in("body")
    p = v[body]
    t = p[:, 1] - m["y_s"]
    h = np.where(t >= 0.0, min(m["h_up"], m["h_low"]), m["h_low"])
    k = PRESS * np.where(t >= 0.0, 1.0, PRESS_LOWER) / ((1.0 + PRESS_LOWER) / 2.0)
    held = np.clip(t, -h, h)  # beyond the border: the border's displacement, fading out
    fade = np.clip(1.0 - (np.abs(t) - h) / (PRESS_FADE * h), 0.0, 1.0)
    along = np.clip(1.0 - (p[:, 0] / m["x_c"]) ** 2, 0.0, 1.0)
    front = _smoothstep((p[:, 2] - (m["z_back"] - 0.1)) / 0.1)
    w = along * front * side_weight(p[:, 0], m["x_c"], side)
    dy = -k * held * fade * w
    out[body, 1] = dy
    out[body, 2] = -PRESS_BACK * np.abs(dy)
    return out


def _lower_down(bust: Bust, m: dict[str, Any], jaw: np.ndarray, side: str) -> np.ndarray:
    v = bust.vertices
    out = np.zeros_like(v)
    body = bust.vertices_in("body")
    p = v[body]
    below = m["y_s"] - m["h_low"] - p[:, 1]  # > 0 under the lower lip's border
    fall = np.clip(1.0 - below / LOWER_FALL, 0.0, 1.0)
    still = m["jaw_still"]
    lip = np.clip((jaw[body] - still) / (m["jaw_lip"] - still), 0.0, 1.0)
    lip *= p[:, 1] < m["y_s"] + 0.02
    along = np.clip(1.0 - (p[:, 0] / m["x_c"]) ** LOWER_ALONG, 0.0, 1.0)
    front = _smoothstep((p[:, 2] - (m["z_back"] - 0.15)) / 0.1)
    w = lip * fall * along * front * side_weight(p[:, 0], m["x_c"], side)
    out[body, 1] = -LOWER_DOWN * w
    out[body, 2] = LOWER_OUT * LOWER_DOWN * w
    return out


def rebuild_units(
    deltas: np.ndarray,
    bust: Bust,
    eyes: dict[str, tuple[np.ndarray, np.ndarray]],
    labels: np.ndarray,
) -> np.ndarray:
    """A copy of ``deltas`` ``[52, V, 3]`` (dm, CC0) with the ``REBUILT`` units built from the
    bust (see the module doc); ``eyes``: side ("l"/"r") → (globe centre, unit forward)."""
    out = deltas.copy()
    jaw = np.linalg.norm(deltas[_IDX["jawOpen"]], axis=1)
    m = mouth_frame(bust, labels, jaw)
    for name in REBUILT:
        side = "Left" if name.endswith("Left") else "Right"
        cc0 = deltas[_IDX[name]]
        if name.startswith("eyeLook"):
            s = side[0].lower()
            kind = "up" if "Up" in name else "in"
            out[_IDX[name]] = _eye_unit(bust, cc0, s, eyes[s], kind)
        elif name.startswith("mouthPress"):
            out[_IDX[name]] = _press(bust, m, side)
        else:
            out[_IDX[name]] = _lower_down(bust, m, jaw, side)
    return out
