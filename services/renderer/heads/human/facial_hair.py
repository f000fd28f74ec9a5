"""Facial hair for the human bust: shells of triangles offset outward from the beard area.

``facial_hair_shell`` works like ``hair.hair_shell``: it picks the skin triangles of a kind's
region, copies them pushed out along smoothed vertex normals by a kind-dependent thickness and
(for anything thicker than stubble) closes the shell's edge with a rim down to the skin. Every
triangle it returns is meant to be labelled ``Material.BEARD`` (``STUBBLE`` for stubble).

Head coordinates (metres, +y up, +z out of the face, +x the subject's left, origin at eye
height mid-skull). Landmarks measured on hm08: nose tip y ≈ −0.035, z ≈ 0.104; subnasale
y ≈ −0.045; lip seam y ≈ −0.065; mouth corners x ≈ ±0.025; lower lip bottom y ≈ −0.08; chin
front y ≈ −0.10, z ≈ 0.085; chin bottom y ≈ −0.113; the ears around (y ≈ −0.004, z ≈ −0.018).

The region never takes a LIPS or MOUTH triangle nor one touching them, nor the underside of the
nose (the nostrils), nor anything above the cheek line (``_CHEEK_TOP``). Thickness tapers
towards the lips so the shell does not hang in front of them.

Posing contract: identical to ``hair_shell`` — new vertex ``k`` follows bust vertex
``skin[k]`` (the skin vertex right under it), so a shell vertex over the chin moves with
jawOpen and one over the upper lip stays with the upper lip: the mouth opens freely.
"""

from __future__ import annotations

import numpy as np

from ..model import Material
from .shells import distance_to, edges_of, neighbour_mean, relax_heights, smoothstep, vertex_normals

KINDS = ("stubble", "moustache", "goatee", "beard_short", "beard")

#: Full thickness (metres) per kind; beards grow by ``_CHIN_EXTRA`` below the chin.
THICKNESS = {
    "stubble": 0.0004,
    "moustache": 0.0025,
    "goatee": 0.004,
    "beard_short": 0.004,
    "beard": 0.010,
}
_CHIN_EXTRA = {"beard": 0.005}
#: Below this height (chin) the full beard thickens to ``THICKNESS + _CHIN_EXTRA``.
_CHIN_Y = -0.095
#: Taper at the region's edge: ``_EDGE_FRACTION`` of the thickness, full after ``_RAMP`` m.
_EDGE_FRACTION = 0.4
_RAMP = {"moustache": 0.004, "goatee": 0.006, "beard_short": 0.008, "beard": 0.015}
#: Near the lips the thickness falls to ``_LIP_FRACTION`` within ``_LIP_RAMP`` metres.
_LIP_FRACTION = 0.15
_LIP_RAMP = {"moustache": 0.004, "goatee": 0.008, "beard_short": 0.008, "beard": 0.012}

# The beard's top edge (cheek line), a height per |azimuth| about +y (0 = front, measured
# from the origin): under the nose, beside the nose's wings, mid cheek, back of the cheek,
# the sideburn in front of the ear, under the ear.
_AZIMUTH = np.array([0.0, 0.3, 0.6, 0.9, 1.2, 1.45, 1.65, 1.8])
_CHEEK_TOP = np.array([-0.043, -0.041, -0.036, -0.027, -0.017, -0.012, -0.040, -0.060])
# The beard's bottom edge on the neck (under the jaw), by |azimuth| the same way.
_NECK_BOTTOM = np.array([-0.150, -0.150, -0.145, -0.135, -0.120, -0.105, -0.090, -0.080])
#: No facial hair beyond this |azimuth| (behind the angle of the jaw).
_MAX_AZIMUTH = 1.8
# Moustache: the upper lip, above the lip seam, within this half width.
_SEAM_Y = -0.065
_MOUSTACHE_HALF_WIDTH = 0.040
_MOUSTACHE_TOP = -0.038
# Goatee: the chin within this half width, down to this height.
_GOATEE_HALF_WIDTH = 0.027
_GOATEE_BOTTOM = -0.122
# The nose's underside (nostrils): faces pointing down within this box stay bare.
_NOSE_HALF_WIDTH = 0.024
_NOSE_BOTTOM = -0.05
_NOSTRIL_NY = -0.35

_BEARD_LABELS = (Material.SKIN, Material.NECK)
_BARE_LABELS = (Material.LIPS, Material.MOUTH)


def _azimuth(points: np.ndarray) -> np.ndarray:
    return np.abs(np.arctan2(points[..., 0], points[..., 2]))


def cheek_line(points: np.ndarray) -> np.ndarray:
    """The beard's top height (y, metres) in the direction of each of ``points [..., 3]``."""
    return np.interp(_azimuth(points), _AZIMUTH, _CHEEK_TOP)


def beard_area(vertices_m: np.ndarray) -> np.ndarray:
    """``[V]`` bool: vertices within the full beard area (label-blind)."""
    v = np.asarray(vertices_m, dtype=np.float64)
    az = _azimuth(v)
    keep = (az < _MAX_AZIMUTH) & (v[:, 1] < cheek_line(v))
    keep &= v[:, 1] > np.interp(az, _AZIMUTH, _NECK_BOTTOM)
    return keep


def _jaw_vertices(v: np.ndarray) -> np.ndarray:
    """``[V]`` bool: vertices below the mouth line (the lower jaw's skin: the lip seam, and
    beside the mouth a line from its corners sloping a little down to the cheeks)."""
    seam = _SEAM_Y - 0.1 * np.maximum(np.abs(v[:, 0]) - 0.025, 0.0)
    return v[:, 1] < seam


def _region_vertices(v: np.ndarray, kind: str, jaw: np.ndarray) -> np.ndarray:
    """``[V]`` bool: vertices of ``kind``'s region (before the label rules)."""
    area = beard_area(v)
    if kind in ("stubble", "beard_short", "beard"):
        return area
    front = v[:, 2] > 0.04
    # The moustache may reach a little higher beside the nose's wings than a beard does.
    top = np.maximum(cheek_line(v), _MOUSTACHE_TOP)
    upper_lip = (v[:, 1] < top) & front & (np.abs(v[:, 0]) < _MOUSTACHE_HALF_WIDTH) & ~jaw
    if kind == "moustache":
        return upper_lip
    chin = area & front & (np.abs(v[:, 0]) < _GOATEE_HALF_WIDTH) & (v[:, 1] > _GOATEE_BOTTOM)
    chin &= jaw
    # The two joined down the sides of the mouth.
    sides = area & front & (np.abs(v[:, 0]) < _MOUSTACHE_HALF_WIDTH) & (v[:, 1] > -0.085)
    return upper_lip | chin | sides


def offset_shell(
    v: np.ndarray,
    region: np.ndarray,
    normals: np.ndarray,
    thickness: np.ndarray,
    *,
    relax: int = 0,
    rim: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The shell over ``region [R, 3]`` (bust faces, outward winding) of ``v [V, 3]``.

    ``thickness [V]`` (metres, read at the region's vertices) along ``normals [V, 3]``;
    ``relax`` iterations let the shell bridge small dents (each vertex moves along its own
    normal only, keeping at least 80 % of its thickness; the edge stays put). Returns
    ``(shell [H, 3], faces [G, 3] indexing v ⊕ shell, skin [H], boundary [B, 2] local)``.
    """
    n_v = len(v)
    used = np.unique(region)
    local = np.full(n_v, -1, dtype=np.int64)
    local[used] = np.arange(len(used))
    rf = local[region]
    edges = edges_of(rf)
    base = v[used]
    nrm = normals[used]
    thick = thickness[used]
    directed = np.concatenate([rf[:, [0, 1]], rf[:, [1, 2]], rf[:, [2, 0]]])
    key = np.sort(directed, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    boundary = directed[counts[inverse.ravel()] == 1]
    on_edge = np.zeros(len(used), dtype=bool)
    on_edge[boundary.ravel()] = True

    height = relax_heights(base, nrm, thick, edges, on_edge, relax)
    shell = base + nrm * height[:, None]

    faces = [rf + n_v]
    if rim and len(boundary):
        a, b = boundary[:, 0], boundary[:, 1]
        ga, gb = used[a], used[b]
        sa, sb = a + n_v, b + n_v
        faces.append(np.stack([ga, gb, sb], axis=1))
        faces.append(np.stack([ga, sb, sa], axis=1))
    return shell, np.concatenate(faces), used, boundary


def smoothed_normals(v: np.ndarray, skin_faces: np.ndarray, iterations: int = 4) -> np.ndarray:
    """``[V, 3]`` unit vertex normals of ``skin_faces``, averaged over neighbours."""
    edges = edges_of(skin_faces)
    normals = vertex_normals(v, skin_faces)
    for _ in range(iterations):
        normals = neighbour_mean(normals, edges, len(v))
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-20)
    return normals


def facial_hair_shell(
    vertices_m: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    kind: str,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Facial hair of ``kind`` (one of ``KINDS``) for the bust ``vertices_m [V, 3]`` (neutral
    pose, head coordinates) / ``faces [F, 3]`` / ``labels [F]``.

    Returns ``(new_vertices [H, 3] float32, new_faces [G, 3] int32, skin [H] int64)`` with
    ``hair_shell``'s contract (faces index ``vertices_m ⊕ new_vertices``; label them HAIR; new
    vertex ``k`` follows bust vertex ``skin[k]``, the vertex right under it). ``seed`` adds a
    slight unevenness to the thicker kinds; the same seed gives the same shell.
    Unknown kinds raise ``ValueError``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown facial hair kind {kind!r}; expected one of {KINDS}")
    v = np.asarray(vertices_m, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels)
    empty = (
        np.zeros((0, 3), dtype=np.float32),
        np.zeros((0, 3), dtype=np.int32),
        np.zeros(0, dtype=np.int64),
    )
    rng = np.random.default_rng(seed)

    skin_faces = f[np.isin(lab, [int(m) for m in _BEARD_LABELS])]
    bare = f[np.isin(lab, [int(m) for m in _BARE_LABELS])]
    near_lips = np.zeros(len(v), dtype=bool)
    near_lips[bare.ravel()] = True
    jaw = _jaw_vertices(v)
    inside = _region_vertices(v, kind, jaw)

    tri = v[skin_faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20)
    centre = tri.mean(axis=1)
    nostril = (np.abs(centre[:, 0]) < _NOSE_HALF_WIDTH) & (centre[:, 1] > _NOSE_BOTTOM)
    nostril &= (fn[:, 1] < _NOSTRIL_NY) & (centre[:, 2] > 0.07)
    keep = np.all(inside[skin_faces], axis=1)
    if kind not in ("moustache", "stubble"):
        keep &= ~np.any(near_lips[skin_faces], axis=1)  # a one-ring margin round the lips
    keep &= ~nostril
    region = skin_faces[keep]
    if len(region) == 0:
        return empty

    normals = smoothed_normals(v, skin_faces)
    full = THICKNESS[kind]
    if kind == "stubble":
        thickness = np.full(len(v), full)
        shell, new_faces, used, _ = offset_shell(v, region, normals, thickness, rim=False)
    else:
        # Taper towards the region's edge and towards the lips (geodesic distances over the
        # skin), thicken below the chin, and add a little seeded unevenness.
        edges_all = edges_of(skin_faces)
        in_region = np.zeros(len(v), dtype=bool)
        in_region[region.ravel()] = True
        outside = np.ones(len(v), dtype=bool)
        outside[np.unique(skin_faces)] = False
        # Edge vertices: region vertices with a skin neighbour outside the region.
        nb_out = np.zeros(len(v), dtype=bool)
        out_v = ~in_region
        np.logical_or.at(nb_out, edges_all[:, 0], out_v[edges_all[:, 1]])
        np.logical_or.at(nb_out, edges_all[:, 1], out_v[edges_all[:, 0]])
        edge_v = in_region & nb_out
        d_edge = distance_to(edge_v, v, edges_all)
        d_lip = distance_to(near_lips, v, edges_all)
        ramp = smoothstep(d_edge / _RAMP[kind])
        thickness = full * (_EDGE_FRACTION + (1.0 - _EDGE_FRACTION) * ramp)
        thickness *= _LIP_FRACTION + (1.0 - _LIP_FRACTION) * smoothstep(d_lip / _LIP_RAMP[kind])
        extra = _CHIN_EXTRA.get(kind, 0.0)
        if extra:
            thickness += extra * smoothstep((_CHIN_Y - v[:, 1]) / 0.02) * ramp
        waves = rng.normal(size=(4, 3))
        waves /= np.linalg.norm(waves, axis=1, keepdims=True)
        phase = rng.uniform(0.0, 2.0 * np.pi, size=4)
        noise = np.sin(v @ (waves.T * (2.0 * np.pi / 0.03)) + phase).mean(axis=1)
        thickness *= 1.0 + 0.1 * noise * ramp
        relax = 4 if full >= 0.004 else 2
        shell, new_faces, used, _ = offset_shell(v, region, normals, thickness, relax=relax)

    return (
        shell.astype(np.float32),
        new_faces.astype(np.int32),
        used.astype(np.int64),
    )
