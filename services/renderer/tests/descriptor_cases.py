"""The cases and renders of ``test_descriptor_regions``: one case per vocabulary word (its
descriptor, the one it is compared with, its region) and the cached front renders of
the fixed identity (see that module's docstring)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import pytest
import torch
from scipy.ndimage import binary_dilation

from dyad.rigs import get_rig
from dyad.services.renderer.avatars import avatar as avatar_module
from dyad.services.renderer.avatars.avatar import (
    GaussianAvatar,
    appearance_to_dict,
    create_avatar,
)
from dyad.services.renderer.heads import descriptor_words as words
from dyad.services.renderer.heads.appearance import (
    Appearance,
    appearance_from_identity,
    skin_colour,
)
from dyad.services.renderer.heads.human import ethnicity
from dyad.services.renderer.heads.human.bust import neck_line
from dyad.services.renderer.heads.human.data import data_file, load_base_mesh, read_target
from dyad.services.renderer.heads.human.facial_hair import KINDS as FACIAL_HAIR
from dyad.services.renderer.heads.human.identity import AGE_VALUES, TARGETS_DIR, ethnic_weights
from dyad.services.renderer.heads.model import Material
from dyad.services.renderer.heads.shape import HairStyle
from dyad.services.renderer.raster import render
from dyad.services.renderer.video import head_camera

PX = 192
BACKGROUND = (0.91, 0.93, 0.95)
CAMERA = head_camera("front", PX)
NEUTRAL = np.zeros((1, len(get_rig("arkit55").channels)), np.float32)
#: A pixel changed: some channel moved by more than this (RGB 0–1; about 20 of 255).
DIFF = 0.08
DILATE_PX = 3
#: A pixel shows a part where the part's Gaussians make at least this much of its colour.
COVERED = 0.15
VISIBLE = 0.15  # of the region's own (undilated) pixels must change …
MIN_CHANGED = 8  # … and at least this many
IN_REGION = 0.85  # of the changed pixels must lie in the (dilated) region
WHOLE_HEAD = 0.15  # of the head's pixels change for an age, gender or ancestry word
#: The fixed identity: skin, hair, eyes and ancestry named, everything else left open (and,
#: in the region cases, drawn from the same fixed hash). The named ancestry keeps a skin word
#: from also moving the ancestry prior (which reshapes the whole head: see ``ethnicity``).
BASE = {
    "skin": "olive skin",
    "hair": "short brown hair",
    "eyes": "hazel eyes",
    "ancestry": "mixed-race",
}

#: Where each drawn extra belongs: the vertices MakeHuman's own target for that part moves
#: (projected, grown by ``ANATOMY_PX``); garments (``clothing:*``): the bust below the jaw
#: line. A new kind of extra needs an entry here.
PARTS: dict[str, tuple[str, ...]] = {
    "glasses": ("eyes/l-eye-scale-incr", "eyes/r-eye-scale-incr"),
    "earrings": ("ears/l-ear-scale-incr", "ears/r-ear-scale-incr"),
    "nose_ring": ("nose/nose-scale-horiz-incr",),
    **{
        k: ("mouth/mouth-scale-horiz-incr", "chin/chin-width-incr", "chin/chin-height-incr")
        for k in FACIAL_HAIR
    },
}
ANATOMY_PX = PX // 24
AT_PLACE = 0.7  # of an extra's own pixels lie at its part (0.84–1.0 measured)

SKIN_REGION = (Material.SKIN, Material.NECK, Material.EYELID, Material.LIPS)


# ------------------------------------------------------------------------- the same hash


class _SameDigest:
    """Stands in for ``hashlib.sha256``: every text hashes alike."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def update(self, _data: bytes) -> None:
        pass

    def digest(self) -> bytes:
        return bytes(range(32))

    def hexdigest(self) -> str:
        return self.digest().hex()


@contextmanager
def same_hash() -> Iterator[None]:
    """Every descriptor hashes alike inside (its appearance, ancestry mix and head seeds), so
    only what the words say differs between two descriptors."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashlib, "sha256", _SameDigest)
        yield


def meaning(text: str) -> tuple[Appearance, np.ndarray]:
    """``text``'s appearance and ancestry weights, with the same hash."""
    with same_hash():
        app = appearance_from_identity(text)
        return app, ethnic_weights(app)


# ------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One vocabulary word: the descriptor with it, the one it is compared with, what the word
    must parse to (``expect``: an ``Appearance`` check) and the region it must change."""

    id: str
    text: str
    contrast: str
    region: str  # "materials" | "added" | "whole_head"
    materials: tuple[Material, ...] = ()
    expect: tuple[str, Any] = ("", None)


def describe(extra: str = "", **clauses: str) -> str:
    """``BASE`` with some clauses replaced (a value "" drops one) and ``extra`` appended."""
    parts = {**BASE, **clauses}
    return ", ".join([p for p in parts.values() if p] + ([extra] if extra else []))


def _farthest(table: dict[str, Any], value: Any) -> str:
    """The entry of ``table`` most unlike ``value`` (RGB or scalar)."""
    dist = {k: float(np.linalg.norm(np.subtract(v, value))) for k, v in table.items()}
    return max(dist, key=lambda k: dist[k])


def _clothing_phrases() -> list[str]:
    return sorted(p for p, f in words.EXTRA_WORDS.items() if f.startswith("clothing:"))


def skin_cases() -> Iterator[Case]:
    for w, tone in words.SKIN_WORDS.items():
        other = _farthest(words.SKIN_WORDS, tone)
        yield Case(
            f"skin:{w}",
            describe(skin=f"{w} skin"),
            describe(skin=f"{other} skin"),
            "materials",
            SKIN_REGION,
            ("skin", skin_colour(tone)),
        )


def eye_cases() -> Iterator[Case]:
    for w, rgb in words.EYE_COLOURS.items():
        other = _farthest(words.EYE_COLOURS, rgb)
        yield Case(
            f"eyes:{w}",
            describe(eyes=f"{w} eyes"),
            describe(eyes=f"{other} eyes"),
            "materials",
            (Material.IRIS,),
            ("iris", rgb),
        )


def hair_colour_cases() -> Iterator[Case]:
    hair = (Material.HAIR, Material.BROW)
    for w, rgb in words.HAIR_COLOURS.items():
        other = _farthest(words.HAIR_COLOURS, rgb)
        yield Case(
            f"hair colour:{w}",
            describe(hair=f"short {w} hair"),
            describe(hair=f"short {other} hair"),
            "materials",
            hair,
            ("hair_rgb", rgb),
        )
    for w, colour in words.HAIR_ONLY.items():
        rgb = words.HAIR_COLOURS[colour]
        other = _farthest(words.HAIR_COLOURS, rgb)
        yield Case(
            f"hair word:{w}",
            describe(w, hair="short hair"),
            describe(hair=f"short {other} hair"),
            "materials",
            hair,
            ("hair_rgb", rgb),
        )


def style_cases() -> Iterator[Case]:
    for style, keywords in words.STYLE_RULES:
        for w in keywords:
            # Against no hair; "bald" and its like against the base's short hair.
            contrast = "short brown hair" if style is HairStyle.BALD else "bald brown hair"
            yield Case(
                f"hair style:{w}",
                describe(hair=f"{w} brown hair"),
                describe(hair=contrast),
                "added",
                expect=("style", style),
            )


def extra_cases() -> Iterator[Case]:
    for phrase, feature in words.EXTRA_WORDS.items():
        contrast = describe()  # the base wears the default garment, a shirt
        if feature == "clothing:shirt":
            contrast = describe("a hoodie")
        yield Case(
            f"extra:{phrase}",
            describe(phrase),
            contrast,
            "added",
            expect=("extra", feature),
        )


def clothing_colour_cases() -> Iterator[Case]:
    for w, rgb in words.CLOTHING_COLOURS.items():
        other = _farthest(words.CLOTHING_COLOURS, rgb)
        yield Case(
            f"clothing colour:{w}",
            describe(f"a {w} shirt"),
            describe(f"a {other} shirt"),
            "materials",
            (Material.CLOTH,),
            ("cloth", rgb),
        )


def whole_head_cases() -> Iterator[Case]:
    # Against the other gender, the farthest age band and the farthest ancestry blend.
    for gender, ws in words.GENDER_WORDS.items():
        other = next(v[0] for g, v in words.GENDER_WORDS.items() if g != gender)
        for w in ws:
            yield Case(
                f"gender:{w}", describe(w), describe(other), "whole_head", (), ("gender", gender)
            )
    for band, ws in words.AGE_WORDS.items():
        other = _farthest(AGE_VALUES, AGE_VALUES[band])
        for w in ws:
            yield Case(
                f"age:{w}",
                describe(w),
                describe(words.AGE_WORDS[other][0]),
                "whole_head",
                (),
                ("age", band),
            )
    blends = {w: np.asarray(v) / sum(v) for w, v in ethnicity._ETHNIC_WORDS.items()}
    for w, weights in blends.items():
        yield Case(
            f"ancestry:{w}",
            describe(ancestry=w),
            describe(ancestry=_farthest(blends, weights)),
            "whole_head",
            (),
            ("ancestry", weights),
        )


def all_cases() -> list[Case]:
    return [
        *skin_cases(),
        *eye_cases(),
        *hair_colour_cases(),
        *style_cases(),
        *extra_cases(),
        *clothing_colour_cases(),
        *whole_head_cases(),
    ]


CASES = all_cases()


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id) for c in cases]


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
    labels = np.asarray(avatar.head.face_labels)[avatar.binding.numpy()]
    return replace(avatar, albedo=torch.from_numpy(avatar_module._palette_albedo(app, labels, 0)))


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
