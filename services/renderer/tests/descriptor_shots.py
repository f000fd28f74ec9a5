"""The cached front renders of ``test_descriptor_regions`` (the fixed identity recoloured or
rebuilt per descriptor), and what a case measures on them: the changed pixels, the parse check,
the region numbers and where an extra belongs (see that module's docstring)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy.ndimage import binary_dilation

from dyad.services.renderer.avatars import avatar as avatar_module
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.heads.appearance import Appearance, appearance_to_dict
from dyad.services.renderer.heads.human.bust import neck_line
from dyad.services.renderer.heads.human.data import data_file, load_base_mesh, read_target
from dyad.services.renderer.heads.human.identity import TARGETS_DIR
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.raster import render

from .descriptor_cases import (
    ANATOMY_PX,
    BACKGROUND,
    CAMERA,
    COVERED,
    DIFF,
    DILATE_PX,
    NEUTRAL,
    PARTS,
    PX,
    Case,
    meaning,
    same_hash,
)

# ------------------------------------------------------------------------- rendering


@dataclass
class Shot:
    """One descriptor drawn with the same hash: its appearance, avatar and front render."""

    app: Appearance
    ancestry: np.ndarray
    avatar: GaussianAvatar
    rgb: np.ndarray  # [PX, PX, 3] float32
    alpha: np.ndarray  # [PX, PX] float32


def _draw(avatar: GaussianAvatar, background: tuple[float, float, float] = BACKGROUND) -> Any:
    scene = next(avatar.scenes(NEUTRAL, cull_from=CAMERA.position))
    return render(scene, CAMERA, background=background, backend="cpu")


def recoloured(avatar: GaussianAvatar, app: Appearance) -> GaussianAvatar:
    """``avatar`` with ``app``'s palette (``create_avatar``'s albedo rule; the geometry is the
    same): a colour word needs no new head."""
    kind = avatar.head_config["kind"]
    albedo = avatar_module.palette_albedo(app, avatar.head, kind)[avatar.binding.numpy()]
    return replace(avatar, albedo=torch.from_numpy(albedo))


def painted(avatar: GaussianAvatar, faces: np.ndarray) -> np.ndarray:
    """[PX, PX] bool: where the triangles ``faces`` ([F] bool) show, through the same camera
    and in front of the rest of the head (painted white on black, unlit: the pixels they make
    at least ``COVERED`` of)."""
    on = faces[avatar.binding.numpy()]
    albedo = np.repeat(on[:, None].astype(np.float32), 3, axis=1)
    flat = replace(avatar, albedo=torch.from_numpy(albedo), shading=False)
    return np.asarray(_draw(flat, (0.0, 0.0, 0.0)).rgb[..., 0] > COVERED)


def _triangles(avatar: GaussianAvatar) -> list[bytes]:
    """Each face's rest-pose corners (µm) and label, to compare two heads' faces."""
    head = avatar.head
    corners = np.round(np.asarray(head.neutral(), np.float64)[head.faces] * 1e6).reshape(-1, 9)
    rows = np.concatenate([corners, np.asarray(head.face_labels)[:, None]], axis=1)
    return [r.tobytes() for r in np.ascontiguousarray(rows.astype(np.int64))]


class Shots:
    """Renders cached by what a descriptor means (its appearance less the text, and its
    ancestry weights), so words with the same effect share one render, and a colour word
    recolours an avatar with the same geometry instead of building a head."""

    def __init__(self) -> None:
        self._by_text: dict[str, Shot] = {}
        self._by_effect: dict[str, Shot] = {}
        self._by_geometry: dict[str, GaussianAvatar] = {}
        self._masks: dict[tuple[int, Any], np.ndarray] = {}
        self._faces: dict[int, list[bytes]] = {}

    def __call__(self, text: str) -> Shot:
        if text in self._by_text:
            return self._by_text[text]
        app, ancestry = meaning(text)
        d = appearance_to_dict(app)
        d.pop("descriptor")
        d.pop("person")  # seeds only through the hash, which ``same_hash`` holds fixed
        palette = d.pop("palette")
        geometry = repr((d, np.round(ancestry, 9).tolist()))
        effect = repr((geometry, palette))
        if effect not in self._by_effect:
            if geometry in self._by_geometry:
                avatar = recoloured(self._by_geometry[geometry], app)
            else:
                with same_hash():
                    avatar = self._by_geometry[geometry] = create_avatar(text, head="human")
            out = _draw(avatar)
            self._by_effect[effect] = Shot(app, ancestry, avatar, out.rgb, out.alpha)
        shot = self._by_text[text] = replace(self._by_effect[effect], app=app, ancestry=ancestry)
        return shot

    def materials(self, shot: Shot, materials: tuple[Material, ...]) -> np.ndarray:
        """[PX, PX] bool: where faces of ``materials`` show in ``shot``."""
        key = (id(shot.avatar), materials)
        if key not in self._masks:
            labels = np.asarray(shot.avatar.head.face_labels)
            self._masks[key] = painted(shot.avatar, np.isin(labels, [int(m) for m in materials]))
        return self._masks[key]

    def added(self, shot: Shot, other: Shot) -> np.ndarray:
        """[PX, PX] bool: where faces of ``shot`` that ``other`` lacks (corners or label)
        show."""
        key = (id(shot.avatar), ("added", id(other.avatar)))
        if key not in self._masks:
            mine, theirs = self.triangles(shot), set(self.triangles(other))
            faces = np.array([t not in theirs for t in mine])
            self._masks[key] = painted(shot.avatar, faces)
        return self._masks[key]

    def triangles(self, shot: Shot) -> list[bytes]:
        key = id(shot.avatar)
        if key not in self._faces:
            self._faces[key] = _triangles(shot.avatar)
        return self._faces[key]


def changed(a: Shot, b: Shot) -> np.ndarray:
    """[PX, PX] bool: pixels where some channel differs by more than ``DIFF``."""
    return np.asarray(np.abs(a.rgb - b.rgb).max(axis=-1) > DIFF)


def check_parse(case: Case, shot: Shot) -> None:
    """The word means what its table says (else the region test would test nothing)."""
    what, value = case.expect
    app = shot.app
    got: Any = {
        "skin": lambda: app.palette[Material.SKIN],
        "iris": lambda: app.palette[Material.IRIS],
        "hair_rgb": lambda: app.palette[Material.HAIR],
        "beard_rgb": lambda: app.palette[Material.BEARD],
        "cloth": lambda: app.palette[Material.CLOTH],
        "style": lambda: app.hair,
        "extra": lambda: value if value in app.extras else sorted(app.extras),
        "gender": lambda: app.gender,
        "age": lambda: app.age_band,
        "ancestry": lambda: shot.ancestry,
    }[what]()
    if isinstance(value, (tuple, np.ndarray)):
        assert np.allclose(got, value, atol=1e-6), f"{case.text!r}: {what} {got} != {value}"
    else:
        assert got == value, f"{case.text!r}: {what} {got!r} != {value!r}"


def region_numbers(case: Case, shots: Shots) -> dict[str, Any]:
    """Changed pixels, the region's own pixels, changed pixels inside it, and the share of
    the changed pixels inside the dilated region."""
    a, b = shots(case.contrast), shots(case.text)
    diff = changed(a, b)
    if case.region == "whole_head":
        core = (a.alpha > 0.5) | (b.alpha > 0.5)
    elif case.region == "added":
        core = shots.added(a, b) | shots.added(b, a)
    else:
        core = shots.materials(a, case.materials) | shots.materials(b, case.materials)
    region = binary_dilation(core, iterations=DILATE_PX)
    n = int(diff.sum())
    return {
        "changed": n,
        "region": int(core.sum()),
        "changed_in_core": int((diff & core).sum()),
        "in_region": round(int((diff & region).sum()) / max(n, 1), 3),
    }


@lru_cache(maxsize=16)
def _part_vertices(target: str) -> np.ndarray:
    """Base-mesh indices of the vertices ``target`` moves by over a tenth of its most."""
    index, delta = read_target(
        data_file(TARGETS_DIR / f"{target}.target.gz"), len(load_base_mesh().vertices)
    )
    moved = np.linalg.norm(delta, axis=1)
    return index[moved > 0.1 * moved.max()]


def part_zone(avatar: GaussianAvatar, feature: str) -> np.ndarray:
    """[PX, PX] bool: where ``feature`` belongs on this head (``PARTS``), from geometry."""
    head: Any = avatar.head
    bust = head.bust
    rest = np.asarray(head.neutral())[: len(bust.vertices)]
    if feature.startswith("clothing:"):
        points = rest[neck_line(bust.vertices) < 0.0]
    else:
        lookup = np.full(int(bust.base_index.max()) + 1, -1)
        lookup[bust.base_index] = np.arange(len(bust.base_index))
        index = np.concatenate([_part_vertices(t) for t in PARTS[feature]])
        index = lookup[index[index < len(lookup)]]
        points = rest[index[index >= 0]]
    uv, depth = CAMERA.project_points(points)
    px = np.round(uv[depth > 0]).astype(int)
    px = px[((px >= 0) & (px < PX)).all(axis=1)]
    mask = np.zeros((PX, PX), bool)
    mask[px[:, 1], px[:, 0]] = True
    return np.asarray(binary_dilation(mask, iterations=ANATOMY_PX))
