"""Hair for the human bust: a shell of triangles offset outward from the scalp.

``hair_shell`` picks the scalp by a hairline (a height for each direction around the head),
copies those skin triangles pushed out along smoothed vertex normals by a style-dependent
thickness, and closes the shell's edge with a rim of triangles down to the skin, so nothing
shows through between hair and scalp at the hairline. Every triangle it returns is meant to be
labelled ``Material.HAIR``; ``create_avatar`` then binds one hair Gaussian to each.

Head coordinates throughout: metres, +y up, +z out of the face, +x the subject's left, origin
at eye height midway between the front and back of the skull. Landmarks measured on hm08
(``HumanHead.neutral()``): eyes' centres at y = 0, z ≈ 0.074, x = ±0.032; brows up to
y ≈ 0.035, z ≤ 0.088; top of the head y ≈ 0.12; back of the skull z ≈ −0.103; the ears
stick out to |x| ≈ 0.088 around (y ≈ −0.004, z ≈ −0.018), 7 cm tall.

Posing contract (what ``HumanHead`` must do with the result): new vertex ``k`` is attached to
bust vertex ``skin[k]``. Minimal rule: its posed position is
``shell[k] + (posed[skin[k]] − neutral[skin[k]])`` — it translates with that skin vertex.
That is exact for the face units (the scalp barely moves under them) but does not turn the
offset with the head: LONG's curtain sits up to ~5.5 cm off its skin vertex, so at a 0.5 rad
yaw the error would reach ~2.7 cm. Better (what the integration should do): add the face-unit
displacement of ``skin[k]`` first, then put the hair vertices through the same head-turn
deformer as the bust with the skin vertex's neck weight (``head_weights[skin]``), so hair
turns rigidly with the head. Rim triangles also use bust vertices directly (indices ``< V``),
which pose as the bust does.
"""

from __future__ import annotations

import numpy as np

from ..model import Material
from ..shape import HairStyle
from .shells import distance_to, edges_of, neighbour_mean, relax_heights, smoothstep, vertex_normals

#: Full hair thickness over the scalp (metres) by style; near the hairline it tapers to
#: ``_EDGE_FRACTION`` of this over ``_RAMP`` metres (hair thins out at its edge).
THICKNESS = {
    HairStyle.BALD: 0.0,
    HairStyle.SHAVED: 0.0005,
    HairStyle.RECEDING: 0.004,
    HairStyle.SHORT: 0.0075,
    HairStyle.CURLY: 0.0165,
    HairStyle.LONG: 0.008,
    HairStyle.BUN: 0.005,
}
_EDGE_FRACTION = 0.35
_RAMP = 0.015
#: CURLY: ± this fraction of noise on the thickness (15 mm ± 3 mm → 12–18 mm).
_CURL_NOISE = 0.2
#: LONG: below the ears the hair hangs as a curtain at least this far out to each side and
#: back (metres), instead of wrapping the neck.
_DRAPE_X = 0.075
_DRAPE_Z = -0.088
#: LONG: the thickness grows to this below the ears (hair hanging off the neck).
_LONG_HANG = 0.02

# Hairline height (y, metres) as a function of |azimuth| about +y (0 = front, π = back):
# forehead, its corners, temples, in front of the ears (sideburns), over the ears, behind the
# ears, the back, the nape.
_AZIMUTH = np.array([0.0, 0.45, 0.85, 1.25, 1.5, 1.8, 2.2, 2.6, np.pi])
_HAIRLINE = {
    HairStyle.SHAVED: [0.082, 0.078, 0.068, 0.045, -0.020, -0.020, -0.045, -0.060, -0.068],
    HairStyle.SHORT: [0.082, 0.078, 0.068, 0.045, -0.020, -0.020, -0.045, -0.060, -0.068],
    HairStyle.RECEDING: [0.104, 0.109, 0.090, 0.060, 0.000, -0.010, -0.045, -0.060, -0.066],
    HairStyle.CURLY: [0.079, 0.075, 0.064, 0.042, -0.025, -0.025, -0.050, -0.066, -0.075],
    HairStyle.LONG: [0.082, 0.078, 0.068, 0.045, -0.165, -0.165, -0.165, -0.165, -0.165],
    HairStyle.BUN: [0.082, 0.078, 0.068, 0.045, -0.015, -0.010, -0.040, -0.050, -0.055],
}
#: Below this height LONG hair stays within ``|x| < _LONG_HALF_WIDTH`` (off the shoulders).
_SHOULDER_Y = -0.11
_LONG_HALF_WIDTH = 0.07
# The ears: an ellipse in (y, z) on each side beyond ``_EAR_X``; short styles leave it (and a
# margin) skin, LONG covers it.
_EAR_X = 0.06
_EAR_CENTRE = (-0.004, -0.018)  # (y, z)
_EAR_RADII = (0.038, 0.022)  # (y, z)
_EAR_MARGIN = 0.005
# RECEDING: a thin crown, drawn as a bald spot of this radius around the top of the crown.
_CROWN = np.array([0.0, 0.118, -0.035])
_CROWN_RADIUS = 0.022
# BUN: direction from the origin to the bun's root on the scalp, and its half-axes (tangent
# across, tangent up, along the normal).
_BUN_DIRECTION = np.array([0.0, 0.55, -0.83])
_BUN_RADII = (0.030, 0.026, 0.021)
_BUN_SEGMENTS = (18, 11)  # (around, pole to pole)

_SCALP_LABELS = (Material.SKIN, Material.NECK)


def hairline_at(points: np.ndarray, style: HairStyle) -> np.ndarray:
    """The hairline's height (y, metres) in the direction of each of ``points [..., 3]``."""
    azimuth = np.abs(np.arctan2(points[..., 0], points[..., 2]))
    return np.interp(azimuth, _AZIMUTH, np.asarray(_HAIRLINE[style], dtype=np.float64))


def _in_ear(points: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """``[N]`` bool: points within the ear ellipses (grown by ``margin``)."""
    dy = (points[:, 1] - _EAR_CENTRE[0]) / (_EAR_RADII[0] + margin)
    dz = (points[:, 2] - _EAR_CENTRE[1]) / (_EAR_RADII[1] + margin)
    return (np.abs(points[:, 0]) > _EAR_X - margin) & (dy * dy + dz * dz < 1.0)


def scalp_vertices(vertices_m: np.ndarray, style: HairStyle) -> np.ndarray:
    """``[V]`` bool: which vertices lie on the scalp of ``style`` (label-blind)."""
    v = np.asarray(vertices_m, dtype=np.float64)
    if style is HairStyle.BALD:
        return np.zeros(len(v), dtype=bool)
    keep = v[:, 1] > hairline_at(v, style)
    if style is HairStyle.LONG:
        keep &= (v[:, 1] > _SHOULDER_Y) | (np.abs(v[:, 0]) < _LONG_HALF_WIDTH)
    else:
        keep &= ~_in_ear(v, _EAR_MARGIN)
    if style is HairStyle.RECEDING:
        keep &= np.linalg.norm(v - _CROWN, axis=1) > _CROWN_RADIUS
    return keep


def _soft_max(a: np.ndarray, b: float, soft: float = 0.01) -> np.ndarray:
    """A smooth ``max(a, b)`` (within ``soft / 2`` of it), strictly increasing in ``a``."""
    return 0.5 * (a + b + np.sqrt((a - b) ** 2 + soft * soft))


def _curl_noise(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise in [−1, 1] over ``points [N, 3]``: a sum of random plane waves with
    wavelengths of 3–5 cm (curls' clumps)."""
    n_waves = 8
    direction = rng.normal(size=(n_waves, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    wavelength = rng.uniform(0.03, 0.05, size=n_waves)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=n_waves)
    s = np.sin(points @ (direction.T * (2.0 * np.pi / wavelength)) + phase).sum(axis=1)
    return np.clip(s / np.sqrt(n_waves / 2.0) / 1.5, -1.0, 1.0)


def _bun(
    shell: np.ndarray,
    skin_of: np.ndarray,
    skin_position: np.ndarray,
    normals: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int]:
    """A bun at the back of the crown: a slightly lumpy ellipsoid ``(vertices [B, 3],
    faces [G, 3] local, outward)`` sitting on the shell, and the bust vertex it follows."""
    direction = _BUN_DIRECTION / np.linalg.norm(_BUN_DIRECTION)
    root = int(skin_of[np.argmax(shell @ direction)])  # the scalp vertex the bun sits on
    n = normals[root]
    across = np.cross(np.array([0.0, 1.0, 0.0]), n)
    across /= np.linalg.norm(across)
    up = np.cross(n, across)
    k = int(np.flatnonzero(skin_of == root)[0])
    centre = shell[k] + n * (0.35 * _BUN_RADII[2])  # sunk into the shell: no gap

    n_around, n_rings = _BUN_SEGMENTS
    polar = np.linspace(0.0, np.pi, n_rings + 1)[1:-1]  # [R] rings between the poles
    azim = np.linspace(0.0, 2.0 * np.pi, n_around, endpoint=False)
    pa, aa = np.meshgrid(polar, azim, indexing="ij")  # [R, A]
    # Unit sphere with its poles on the normal (+n outermost); a twist ripple for texture.
    local = np.stack(
        [np.sin(pa) * np.cos(aa), np.sin(pa) * np.sin(aa), np.cos(pa)], axis=-1
    ).reshape(-1, 3)
    local = np.concatenate([[[0.0, 0.0, 1.0]], local, [[0.0, 0.0, -1.0]]])
    ripple = 1.0 + 0.06 * np.sin(3.0 * np.arctan2(local[:, 1], local[:, 0]) + 4.0 * local[:, 2])
    ripple *= 1.0 + 0.02 * rng.standard_normal(len(local))
    local[:, 2] = np.where(local[:, 2] < 0.0, 0.6 * local[:, 2], local[:, 2])  # flat underside
    axes = np.stack([across, up, n])  # [3, 3] rows: local x, y, z in head coordinates
    pts = centre + ((local * np.asarray(_BUN_RADII)) * ripple[:, None]) @ axes
    # Its sunken underside (hidden in the shell) stays outside the scalp: no closer to the
    # head's centre than the root plus 1 mm.
    floor = float(np.linalg.norm(skin_position[root])) + 0.001
    radius = np.linalg.norm(pts, axis=1)
    pts *= np.maximum(1.0, floor / radius)[:, None]

    faces = []
    top, bottom = 0, len(local) - 1
    ring = lambda r, a: 1 + r * n_around + a % n_around  # noqa: E731
    for a in range(n_around):
        faces.append((top, ring(0, a), ring(0, a + 1)))
        for r in range(n_rings - 2):
            faces.append((ring(r, a), ring(r + 1, a), ring(r + 1, a + 1)))
            faces.append((ring(r, a), ring(r + 1, a + 1), ring(r, a + 1)))
        faces.append((ring(n_rings - 2, a), bottom, ring(n_rings - 2, a + 1)))
    f = np.asarray(faces, dtype=np.int64)
    # The frame (across, up, n) is right-handed, so the winding above faces out iff this holds.
    tri = pts[f]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    if np.sum(np.einsum("ij,ij->i", fn, tri.mean(axis=1) - centre)) < 0.0:
        f = f[:, ::-1]
    return pts, f, root


def hair_shell(
    vertices_m: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    style: HairStyle,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hair for the bust ``vertices_m [V, 3]`` (head coordinates, metres, the neutral pose) /
    ``faces [F, 3]`` (CCW from outside) / ``labels [F]`` (``Material``).

    Returns ``(new_vertices [H, 3] float32, new_faces [G, 3] int32, skin [H] int64)``:
    ``new_faces`` index the concatenated array ``vertices_m ⊕ new_vertices`` (rim triangles
    use bust vertices, ``< V``), counter-clockwise seen from outside; label them all HAIR.
    ``skin[k]`` is the bust vertex new vertex ``k`` follows: pose it as
    ``new_vertices[k] + posed[skin[k]] − neutral[skin[k]]`` (see the module docstring).
    BALD gives empty arrays. ``seed`` varies CURLY's curls and BUN's lumps; the same seed
    gives the same hair.
    """
    style = HairStyle(style)
    empty = (
        np.zeros((0, 3), dtype=np.float32),
        np.zeros((0, 3), dtype=np.int32),
        np.zeros(0, dtype=np.int64),
    )
    if style is HairStyle.BALD:
        return empty
    v = np.asarray(vertices_m, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels)
    n_v = len(v)
    rng = np.random.default_rng(seed)

    skin_faces = f[np.isin(lab, [int(m) for m in _SCALP_LABELS])]
    on_scalp = scalp_vertices(v, style)
    region = skin_faces[np.all(on_scalp[skin_faces], axis=1)]  # [R, 3] bust indices
    if len(region) == 0:
        return empty

    # Smoothed normals of the whole skin (so the region's edge sees its neighbours too).
    skin_edges = edges_of(skin_faces)
    normals = vertex_normals(v, skin_faces)
    for _ in range(4):
        normals = neighbour_mean(normals, skin_edges, n_v)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)

    used = np.unique(region)  # [H0] bust vertices under the shell
    local = np.full(n_v, -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    rf = local[region]  # [R, 3] local indices
    edges = edges_of(rf)
    pos = v[used]
    nrm = normals[used]

    # Boundary: directed edges used by exactly one region triangle (kept in that winding).
    directed = np.concatenate([rf[:, [0, 1]], rf[:, [1, 2]], rf[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.ravel()] == 1]  # [B, 2]
    on_edge = np.zeros(len(used), dtype=bool)
    on_edge[boundary.ravel()] = True

    # Thickness: full inside, tapering towards the hairline.
    full = THICKNESS[style]
    if style is HairStyle.SHAVED:
        thick = np.full(len(used), full)
    else:
        depth = distance_to(on_edge, pos, edges)
        ramp = smoothstep(depth / _RAMP)
        thick = full * (_EDGE_FRACTION + (1.0 - _EDGE_FRACTION) * ramp)
        if style is HairStyle.CURLY:
            thick *= 1.0 + _CURL_NOISE * _curl_noise(pos, rng) * ramp
        if style is HairStyle.LONG:
            # Hangs off the neck: thicker from the ears down, for hair the neck doesn't hold.
            hang = smoothstep((0.0 - pos[:, 1]) / 0.06)
            thick += (_LONG_HANG - full) * hang * ramp
        if style is HairStyle.RECEDING:
            # Thinning towards the crown's bald spot.
            near = np.linalg.norm(pos - _CROWN, axis=1)
            thick *= 0.45 + 0.55 * smoothstep((near - _CROWN_RADIUS) / 0.03)

    base = pos.copy()
    if style is HairStyle.LONG:
        # Over the ears: replace the ear by a membrane across it (harmonic fill from its
        # surroundings), bulged out far enough to clear the ear.
        ear = _in_ear(pos, _EAR_MARGIN)
        for _ in range(300):
            base[ear] = neighbour_mean(base, edges, len(base))[ear]
        membrane_n = vertex_normals(base, rf)
        for _ in range(4):
            membrane_n = neighbour_mean(membrane_n, edges, len(base))
            membrane_n /= np.maximum(np.linalg.norm(membrane_n, axis=1, keepdims=True), 1e-20)
        nrm = np.where(ear[:, None], membrane_n, nrm)
        lateral = np.sign(pos[:, 0])
        clear = np.where(ear, np.maximum(0.0, (pos[:, 0] - base[:, 0]) * lateral + 0.003), 0.0)
        for _ in range(3):  # dilate, then smooth: a bulge over the whole ear
            grown = clear.copy()
            np.maximum.at(grown, edges[:, 0], clear[edges[:, 1]])
            np.maximum.at(grown, edges[:, 1], clear[edges[:, 0]])
            clear = grown
        for _ in range(8):
            clear = np.where(on_edge, 0.0, neighbour_mean(clear, edges, len(base)))
        thick = thick + clear

    height = thick.copy()
    if style is not HairStyle.SHAVED and style is not HairStyle.RECEDING:
        # Relax the shell a little (hair bridges the scalp's small dents): each vertex moves
        # along its own normal only (no sliding), to where its neighbours' shell crosses that
        # line on average, keeping at least most of its thickness; the edge stays put.
        height = relax_heights(
            base, nrm, thick, edges, on_edge, 2 if style is HairStyle.CURLY else 6
        )
    shell = base + nrm * height[:, None]

    if style is HairStyle.LONG:
        # Below the ears the hair hangs straight down rather than hugging the neck.
        hang = smoothstep((-0.005 - shell[:, 1]) / 0.05) * smoothstep(depth / _RAMP)
        # (A smooth maximum, strictly increasing, so no two vertices land on one line.)
        side = np.abs(shell[:, 0])
        push_x = hang * smoothstep((side - 0.02) / 0.03) * (_soft_max(side, _DRAPE_X) - side)
        shell[:, 0] += np.sign(shell[:, 0]) * push_x
        behind = -shell[:, 2]
        back = smoothstep((behind - 0.01) / 0.04)
        shell[:, 2] -= hang * back * (_soft_max(behind, -_DRAPE_Z) - behind)

    new_vertices = [shell]
    skin_of = [used]
    new_faces = [rf + n_v]  # the shell, in the skin's (outward) winding
    if style is not HairStyle.SHAVED:
        a, b = boundary[:, 0], boundary[:, 1]
        ga, gb = used[a], used[b]  # the skin's own vertices at the edge
        sa, sb = a + n_v, b + n_v
        new_faces.append(np.stack([ga, gb, sb], axis=1))
        new_faces.append(np.stack([ga, sb, sa], axis=1))
    if style is HairStyle.BUN:
        pts, bf, root = _bun(shell, used, v, normals, rng)
        new_faces.append(bf + n_v + len(shell))
        new_vertices.append(pts)
        skin_of.append(np.full(len(pts), root, dtype=np.int64))

    return (
        np.concatenate(new_vertices).astype(np.float32),
        np.concatenate(new_faces).astype(np.int32),
        np.concatenate(skin_of).astype(np.int64),
    )
