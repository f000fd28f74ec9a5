"""Identity shape of the human head: MakeHuman macro and feature targets driven by an
``Appearance`` (age band, gender presentation, an ethnicity blend, ``HeadShape`` multipliers).

``identity_offsets(appearance, base_vertex_count)`` returns ``[Vbase, 3]`` float64 offsets in
decimetres on the WHOLE hm08 base mesh (joint cubes included, so eye and neck joints follow
the identity); index them with ``bust.base_index`` for the bust. They are relative to the
base mesh: the neutral appearance (``Appearance`` of the empty descriptor) gives exactly zero.

1. Macro shape (``targets/macrodetails``), MakeHuman's documented rule (``macro.json``):
   gender is a weight between ``female`` (0) and ``male`` (1); age is a value with anchors
   ``baby`` 0, ``child`` 0.1875, ``young`` 0.5, ``old`` 1 and linear weights between the
   two anchors around it (MakeHuman years: 1 + 48·a below 0.5, 25 + 130·(a − 0.5) above);
   the ethnic weights ``african``/``asian``/``caucasian`` sum to 1; each
   ``<ethnic>-<gender>-<age>.target.gz`` gets the product of its three weights. (The
   ``universal-*-averagemuscle-averageweight`` targets are empty files — average muscle and
   weight are the base — so the ethnic targets carry all of the age and gender shape.)
   The macro offsets are taken relative to the neutral appearance's blend (adult 0.6, gender
   0.5, thirds — so ``base.obj``, on which ``bust``'s landmarks were measured, stands for
   the neutral adult) and their mean over the head's skin is removed: those targets shrink
   or grow the whole body, so a child's head would otherwise drop by 3–4 dm.

   ============  =====  =========================================
   age band      years  MakeHuman age value (weights)
   ============  =====  =========================================
   child         10     0.1875 (child 1)
   teen          16     0.3125 (child 0.6, young 0.4)
   young_adult   24     0.479  (child 0.07, young 0.93)
   adult         38     0.600  (young 0.8, old 0.2)
   senior        72     0.862  (young 0.28, old 0.72)
   ============  =====  =========================================

   Gender presentation: feminine 0, masculine 1, androgynous 0.5.

   Ethnicity blend (african, asian, caucasian) — a rendering prior, not a claim about anyone:
   words such as "african", "black" (not about hair/eyes), "east asian", "chinese",
   "european", "white" … in the descriptor set it directly (see ``ethnicity``); otherwise
   the palette's skin colour is read back to the 0–1 tone scale and mapped by
   ``ethnicity._TONE_PRIOR`` (paler → caucasian, light-medium → asian, deep → african), mixed with a
   Dirichlet(1, 1, 1) draw seeded by the descriptor hash — 20 % of it when the descriptor
   names the skin tone, 60 % when it does not (the tone itself was then drawn from the same
   hash). The empty descriptor gets MakeHuman's default thirds.

2. ``HeadShape`` multipliers, less the gender/age cues ``appearance`` folded into them
   (``m = shape.<field> / (GENDER_SHAPE · AGE_SHAPE cue)``: the macro targets already make
   a child's or a man's proportions; applying the cues again doubled them — a child's head
   came out 25 % shorter than an adult's): weight ``w = clip((m − 1) / 0.2, −1, 1)``;
   ``w > 0`` applies the "+" targets at ``gain · w``, ``w < 0`` the "−" targets at ``gain · |w|``
   (``l-``/``r-`` pairs both):

   ===============  ===========================================  ==========================  ====
   field            + target(s)                                  − target(s)                 gain
   ===============  ===========================================  ==========================  ====
   head_width       head/head-scale-horiz-incr                   …-decr                      1
   head_height      head/head-scale-vert-incr                    …-decr                      1
   head_depth       head/head-scale-depth-incr                   …-decr                      1
   jaw_width        chin/chin-width-incr; head/head-fat-incr     …-decr                      1; 0.6
   chin_length      chin/chin-height-incr                        …-decr                      1
   cheekbones       cheek/{l,r}-cheek-bones-incr                 …-decr                      1
   nose_length      nose/nose-scale-vert-incr                    …-decr                      1
   nose_width       nose/nose-scale-horiz-incr; nose-flaring-    …-decr                      1; 0.5
                    incr
   nose_projection  nose/nose-scale-depth-incr                   …-decr                      1
   eye_spacing      eyes/{l,r}-eye-trans-out                     eyes/{l,r}-eye-trans-in     1
   eye_size         eyes/{l,r}-eye-scale-incr                    …-decr                      1
   mouth_width      mouth/mouth-scale-horiz-incr                 …-decr                      1
   lip_fullness     mouth/mouth-{upper,lower}lip-volume-incr     …-decr                      1
   brow_height      eyebrows/eyebrows-trans-up                   eyebrows/…-trans-down       1
   brow_thickness   eyebrows/eyebrows-trans-forward (brow ridge) …-trans-backward            0.5
   ear_size         ears/{l,r}-ear-scale-incr                    …-decr                      1
   neck_width       neck/neck-scale-horiz-incr                   …-decr                      1
   ===============  ===========================================  ==========================  ====

   Plus ``head/head-age-incr|decr`` by age band (child −1, teen −0.5, young adult −0.3,
   adult 0, senior +1): MakeHuman's small "head age" target (≤ 3 mm).
   Feature targets are local and are not re-centred.

3. Fitted shape (``fitted_offsets``, what ``dyad avatar fit`` writes as ``head_config
   ["shape_fit"]``): ``{target name: weight}`` over the feature targets above and the 18
   ``macrodetails/<ethnic>-<gender>-<age>`` targets, added on top of 1–2; the macro part's
   mean over the head skin is removed as in 1.

Targets are parsed once each (``lru_cache``); the first call reads all 18 macro targets
(~19k lines each), later identities only sum cached arrays. A missing file raises
``FailedPrecondition`` naming it.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np

from dyad.errors import FailedPrecondition, InvalidInput

from ..appearance import Appearance
from ..descriptor_words import AGE_SHAPE, GENDER_SHAPE
from .bust import crop_bust, neck_line
from .data import data_file, load_base_mesh
from .ethnicity import EQUAL_THIRDS, ETHNICITIES, ethnic_weights

TARGETS_DIR = Path("data/mpfb2/targets")
_GENDERS = ("female", "male")
_AGES = ("child", "young", "old")  # the anchors our bands reach (never below "child")
_AGE_ANCHORS = np.array([0.1875, 0.5, 1.0])
#: Age band → MakeHuman age value (see the module table).
AGE_VALUES = {
    "child": 0.1875,
    "teen": 0.3125,
    "young_adult": (24.0 - 1.0) / 48.0,
    "adult": 0.5 + (38.0 - 25.0) / 130.0,
    "senior": 0.5 + (72.0 - 25.0) / 130.0,
}
GENDER_VALUES = {"feminine": 0.0, "masculine": 1.0, "androgynous": 0.5}
_HEAD_AGE = {"child": -1.0, "teen": -0.5, "young_adult": -0.3, "adult": 0.0, "senior": 1.0}
_DEFAULT_AGE = AGE_VALUES["adult"]
_DEFAULT_GENDER = 0.5

#: HeadShape field → ((+ targets), (− targets), gain) — relative to ``TARGETS_DIR``, without
#: ``.target.gz``; ``{s}`` expands to ``l`` and ``r``.
FEATURE_TARGETS: dict[str, tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]] = {
    "head_width": ((("head/head-scale-horiz-incr", 1.0),), (("head/head-scale-horiz-decr", 1.0),)),
    "head_height": ((("head/head-scale-vert-incr", 1.0),), (("head/head-scale-vert-decr", 1.0),)),
    "head_depth": ((("head/head-scale-depth-incr", 1.0),), (("head/head-scale-depth-decr", 1.0),)),
    "jaw_width": (
        (("chin/chin-width-incr", 1.0), ("head/head-fat-incr", 0.6)),
        (("chin/chin-width-decr", 1.0), ("head/head-fat-decr", 0.6)),
    ),
    "chin_length": ((("chin/chin-height-incr", 1.0),), (("chin/chin-height-decr", 1.0),)),
    "cheekbones": (
        (("cheek/{s}-cheek-bones-incr", 1.0),),
        (("cheek/{s}-cheek-bones-decr", 1.0),),
    ),
    "nose_length": ((("nose/nose-scale-vert-incr", 1.0),), (("nose/nose-scale-vert-decr", 1.0),)),
    "nose_width": (
        (("nose/nose-scale-horiz-incr", 1.0), ("nose/nose-flaring-incr", 0.5)),
        (("nose/nose-scale-horiz-decr", 1.0), ("nose/nose-flaring-decr", 0.5)),
    ),
    "nose_projection": (
        (("nose/nose-scale-depth-incr", 1.0),),
        (("nose/nose-scale-depth-decr", 1.0),),
    ),
    "eye_spacing": ((("eyes/{s}-eye-trans-out", 1.0),), (("eyes/{s}-eye-trans-in", 1.0),)),
    "eye_size": ((("eyes/{s}-eye-scale-incr", 1.0),), (("eyes/{s}-eye-scale-decr", 1.0),)),
    "mouth_width": (
        (("mouth/mouth-scale-horiz-incr", 1.0),),
        (("mouth/mouth-scale-horiz-decr", 1.0),),
    ),
    "lip_fullness": (
        (("mouth/mouth-upperlip-volume-incr", 1.0), ("mouth/mouth-lowerlip-volume-incr", 1.0)),
        (("mouth/mouth-upperlip-volume-decr", 1.0), ("mouth/mouth-lowerlip-volume-decr", 1.0)),
    ),
    "brow_height": (
        (("eyebrows/eyebrows-trans-up", 1.0),),
        (("eyebrows/eyebrows-trans-down", 1.0),),
    ),
    "brow_thickness": (
        (("eyebrows/eyebrows-trans-forward", 0.5),),
        (("eyebrows/eyebrows-trans-backward", 0.5),),
    ),
    "ear_size": ((("ears/{s}-ear-scale-incr", 1.0),), (("ears/{s}-ear-scale-decr", 1.0),)),
    "neck_width": ((("neck/neck-scale-horiz-incr", 1.0),), (("neck/neck-scale-horiz-decr", 1.0),)),
}
_SHAPE_STEP = 0.2  # a multiplier of 1 ± 0.2 applies a target at full weight


# ---------------------------------------------------------------------------- target files


def _parse_target(path: Path, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """A ``.target(.gz)`` → (``[K]`` int64 indices, ``[K, 3]`` float64 offsets), vectorised
    (``data.read_target``'s format; ~4× faster on the 19k-line macro targets)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        rows = [
            ln for ln in fh.read().splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        ]
    try:
        table = np.array(" ".join(rows).split(), dtype=np.float64).reshape(-1, 4)
    except ValueError:
        raise FailedPrecondition(
            f"{path}: malformed target (expected 'index dx dy dz' lines)"
        ) from None
    if len(table) != len(rows):
        raise FailedPrecondition(f"{path}: malformed target (expected 'index dx dy dz' lines)")
    index = table[:, 0].astype(np.int64)
    if index.size and (
        index.min() < 0 or index.max() >= num_vertices or np.any(index != table[:, 0])
    ):
        raise FailedPrecondition(
            f"{path}: vertex index outside the {num_vertices}-vertex base mesh"
        )
    return index, table[:, 1:].copy()


@lru_cache(maxsize=256)
def _sparse_target(name: str, num_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """``name`` relative to ``targets/`` without the suffix; FailedPrecondition names a
    missing file."""
    return _parse_target(data_file(TARGETS_DIR / f"{name}.target.gz"), num_vertices)


@lru_cache(maxsize=2)
def _macro_stack(num_vertices: int) -> np.ndarray:
    """``[3 ethnic, 2 gender, 3 age, V, 3]`` dense macro targets (dm)."""
    out = np.zeros((len(ETHNICITIES), len(_GENDERS), len(_AGES), num_vertices, 3))
    for e, eth in enumerate(ETHNICITIES):
        for g, gen in enumerate(_GENDERS):
            for a, age in enumerate(_AGES):
                idx, delta = _sparse_target(f"macrodetails/{eth}-{gen}-{age}", num_vertices)
                out[e, g, a, idx] = delta
    out.setflags(write=False)
    return out


@lru_cache(maxsize=2)
def _head_skin(num_vertices: int) -> np.ndarray:
    """Base-mesh indices of the bust's head skin (body vertices above the jaw line)."""
    mesh = load_base_mesh()
    if len(mesh.vertices) != num_vertices:
        raise InvalidInput(
            "base_vertex_count", f"{num_vertices} != the base mesh's {len(mesh.vertices)}"
        )
    bust = crop_bust(mesh)
    body = bust.vertices_in("body")
    return np.asarray(bust.base_index[body[neck_line(bust.vertices[body]) > 0.0]])


@lru_cache(maxsize=2)
def _default_macro(num_vertices: int) -> np.ndarray:
    """The neutral appearance's macro offsets ``[V, 3]`` (adult, gender 0.5, thirds): the
    reference that the base mesh stands for."""
    return _blend(num_vertices, _DEFAULT_AGE, _DEFAULT_GENDER, EQUAL_THIRDS)


def _blend(num_vertices: int, age: float, gender: float, ethnic: np.ndarray) -> np.ndarray:
    stack = _macro_stack(num_vertices)
    w_age = age_weights(age)
    w_gender = np.array([1.0 - gender, gender])
    w = ethnic[:, None, None] * w_gender[None, :, None] * w_age[None, None, :]  # [3, 2, 3]
    keep = np.argwhere(w > 0.0)
    out = np.zeros((num_vertices, 3))
    for e, g, a in keep:
        out += w[e, g, a] * stack[e, g, a]
    return out


def age_weights(age: float) -> np.ndarray:
    """``[3]`` weights of the child/young/old anchors for a MakeHuman age value ≥ 0.1875."""
    a = float(np.clip(age, _AGE_ANCHORS[0], _AGE_ANCHORS[-1]))
    w = np.zeros(3)
    k = int(np.clip(np.searchsorted(_AGE_ANCHORS, a, side="right") - 1, 0, 1))
    t = (a - _AGE_ANCHORS[k]) / (_AGE_ANCHORS[k + 1] - _AGE_ANCHORS[k])
    w[k], w[k + 1] = 1.0 - t, t
    return w


# ---------------------------------------------------------------------------- offsets


def macro_offsets(appearance: Appearance, base_vertex_count: int) -> np.ndarray:
    """``[V, 3]`` dm: age/gender/ethnicity shape relative to the neutral adult's blend, with
    its mean over the head skin removed."""
    if appearance.age_band not in AGE_VALUES:
        raise InvalidInput("age_band", f"unknown age band {appearance.age_band!r}")
    gender = GENDER_VALUES.get(appearance.gender, _DEFAULT_GENDER)
    out = _blend(
        base_vertex_count, AGE_VALUES[appearance.age_band], gender, ethnic_weights(appearance)
    )
    out -= _default_macro(base_vertex_count)
    out -= out[_head_skin(base_vertex_count)].mean(axis=0)
    return out


def shape_multipliers(appearance: Appearance) -> dict[str, float]:
    """HeadShape field → the multiplier the feature targets apply: the appearance's value
    divided by the gender and age-band cues (``descriptor_words.GENDER_SHAPE`` /
    ``AGE_SHAPE``) that ``appearance`` folded in — the macro targets already give a child,
    a senior or a masculine face its proportions, so only the individual part remains."""
    out: dict[str, float] = {}
    for field in FEATURE_TARGETS:
        cue = GENDER_SHAPE.get(appearance.gender, {}).get(field, 1.0)
        cue *= AGE_SHAPE.get(appearance.age_band, {}).get(field, 1.0)
        out[field] = float(getattr(appearance.shape, field)) / cue
    return out


def feature_weights(appearance: Appearance) -> dict[str, float]:
    """Target name (``{s}`` expanded) → weight, for the shape multipliers and the age band."""
    weights: dict[str, float] = {}
    multipliers = shape_multipliers(appearance)
    for field, (plus, minus) in FEATURE_TARGETS.items():
        w = float(np.clip((multipliers[field] - 1.0) / _SHAPE_STEP, -1.0, 1.0))
        if w == 0.0:
            continue
        for name, gain in plus if w > 0 else minus:
            for side in ("l", "r") if "{s}" in name else ("",):
                key = name.format(s=side)
                weights[key] = weights.get(key, 0.0) + gain * abs(w)
    head_age = _HEAD_AGE.get(appearance.age_band, 0.0)
    if head_age:
        key = "head/head-age-incr" if head_age > 0 else "head/head-age-decr"
        weights[key] = weights.get(key, 0.0) + abs(head_age)
    return weights


def identity_offsets(appearance: Appearance, base_vertex_count: int) -> np.ndarray:
    """``[Vbase, 3]`` float64 decimetres to add to the hm08 base mesh for ``appearance``.

    Apply on the bust with ``bust.vertices + offsets[bust.base_index]``; joint cubes (eyes,
    ``joint-head``) are base-mesh vertices too, so recompute their centroids from
    ``mesh.vertices + offsets``. The empty descriptor's appearance gives all zeros.
    """
    out = macro_offsets(appearance, base_vertex_count)
    for name, w in feature_weights(appearance).items():
        idx, delta = _sparse_target(name, base_vertex_count)
        out[idx] += w * delta
    return out


def preload(base_vertex_count: int) -> None:
    """Parse every target this module can use (so later identities never touch the disk)."""
    _macro_stack(base_vertex_count)
    _default_macro(base_vertex_count)
    for plus, minus in FEATURE_TARGETS.values():
        for name, _gain in plus + minus:
            for side in ("l", "r") if "{s}" in name else ("",):
                _sparse_target(name.format(s=side), base_vertex_count)
    for name in ("head/head-age-incr", "head/head-age-decr"):
        _sparse_target(name, base_vertex_count)


#: Public names of the cached target data, for the shape fitter (``capture.fitting``).
sparse_target = _sparse_target
macro_stack = _macro_stack
head_skin_indices = _head_skin


def fit_target_names() -> tuple[str, ...]:
    """Every target a fitted shape may weight: the feature targets (``{s}`` expanded), the
    head-age pair, then the 18 macro targets ``macrodetails/<ethnic>-<gender>-<age>``."""
    names: list[str] = []
    for plus, minus in FEATURE_TARGETS.values():
        for name, _gain in plus + minus:
            for side in ("l", "r") if "{s}" in name else ("",):
                if name.format(s=side) not in names:
                    names.append(name.format(s=side))
    names += ["head/head-age-incr", "head/head-age-decr"]
    names += [macro_target_name(e, g, a) for e in ETHNICITIES for g in _GENDERS for a in _AGES]
    return tuple(names)


def macro_target_name(ethnic: str, gender: str, age: str) -> str:
    return f"macrodetails/{ethnic}-{gender}-{age}"


#: Largest |weight| a fitted shape may give one target (MakeHuman's sliders span ±1).
MAX_FIT_WEIGHT = 2.0


def fitted_offsets(shape_fit: Mapping[str, float], base_vertex_count: int) -> np.ndarray:
    """``[Vbase, 3]`` float64 dm: ``Σ weight · target`` for a fitted shape (module section 3);
    an unknown target or a weight that is not finite or beyond ``MAX_FIT_WEIGHT`` is
    InvalidInput."""
    allowed = set(fit_target_names())
    out = np.zeros((base_vertex_count, 3))
    macro = np.zeros((base_vertex_count, 3))
    for name, weight in sorted(shape_fit.items()):
        w = float(weight)
        if name not in allowed:
            raise InvalidInput("avatar.head.shape_fit", f"unknown target {name!r}")
        if not np.isfinite(w) or abs(w) > MAX_FIT_WEIGHT:
            raise InvalidInput("avatar.head.shape_fit", f"{name}: weight {w} not in ±2")
        if w == 0.0:
            continue
        idx, delta = _sparse_target(name, base_vertex_count)
        target = macro if name.startswith("macrodetails/") else out
        target[idx] += w * delta
    if np.any(macro):
        macro -= macro[_head_skin(base_vertex_count)].mean(axis=0)
    return out + macro
