"""Soft-focus backdrops, one per sound environment (``dyad.domain.ENVIRONMENTS``).

Each plate is procedural and ours (no image files): a vertical gradient, then a few large,
heavily blurred shapes — window light, lamp glow, bokeh dots, a wall or horizon band — in
colours that suggest the place, as a camera focused on a face a metre away would see it.
Every shape is an analytic smooth field (Gaussians, logistic edges several percent of the
frame wide), so the plate has no sharp edge at any size and is the same on every machine.
The plate of speaker ``b``'s camera is mirrored, so the two heads of a side-by-side video sit
on opposite sides of one room rather than pasted on the same wall.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from dyad.domain import ENVIRONMENTS

DEFAULT = "studio"
SIDES = ("a", "b", "front")
Colour = tuple[float, float, float]
#: A layer: (x, y) in [0, 1]² (x to the right, y down) → weight [H, W] in [0, 1].
Mask = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _hex(text: str) -> Colour:
    return tuple(int(text[i : i + 2], 16) / 255.0 for i in (1, 3, 5))  # type: ignore[return-value]


def _edge(v: np.ndarray, at: float, soft: float) -> np.ndarray:
    """0 → 1 as ``v`` passes ``at`` (a logistic of width ``soft``)."""
    return 1.0 / (1.0 + np.exp(-(v - at) / soft))


def _box(x0: float, y0: float, x1: float, y1: float, soft: float) -> Mask:
    """A rectangle with blurred edges (a window, a board, a picture)."""
    return lambda x, y: (
        _edge(x, x0, soft)
        * (1 - _edge(x, x1, soft))
        * _edge(y, y0, soft)
        * (1 - _edge(y, y1, soft))
    )


def _band(y0: float, y1: float, soft: float) -> Mask:
    """A full-width horizontal band (a desk, a counter, a horizon, a dashboard)."""
    return lambda x, y: _edge(y, y0, soft) * (1 - _edge(y, y1, soft))


def _glow(cx: float, cy: float, sigma: float) -> Mask:
    """A Gaussian pool of light."""
    return lambda x, y: np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))


def _disc(cx: float, cy: float, r: float, soft: float) -> Mask:
    """A defocused point light: a disc with a soft rim (bokeh)."""
    return lambda x, y: 1 - _edge(np.hypot(x - cx, y - cy), r, soft)


def _bokeh(
    seed: int, n: int, region: tuple[float, float, float, float], radius: tuple[float, float]
) -> list[Mask]:
    """``n`` bokeh discs scattered (deterministically) in ``region`` (x0, y0, x1, y1)."""
    rng = np.random.default_rng([seed, 0xB0E])
    x0, y0, x1, y1 = region
    return [
        _disc(
            float(rng.uniform(x0, x1)),
            float(rng.uniform(y0, y1)),
            float(rng.uniform(*radius)),
            0.018,
        )
        for _ in range(n)
    ]


Layer = tuple[Mask, Colour, float]  # mask, colour, opacity


def _plate(environment: str) -> tuple[list[tuple[float, Colour]], list[Layer]]:
    """(gradient stops top → bottom, layers back → front) of one environment."""
    seed = ENVIRONMENTS.index(environment)
    h = _hex
    if environment == "office":  # cool daylight, a big window, a desk partition, a plant
        stops = [(0.0, h("#cdd6de")), (0.6, h("#b4bec7")), (1.0, h("#8b949b"))]
        layers: list[Layer] = [
            (_box(-0.2, 0.05, 0.42, 0.62, 0.05), h("#f3f7fa"), 0.85),
            (_box(0.16, 0.0, 0.2, 0.66, 0.025), h("#9aa4ad"), 0.35),  # mullion
            (_glow(0.85, 0.25, 0.18), h("#dfe6ec"), 0.4),
            (_band(0.68, 1.2, 0.04), h("#6f7880"), 0.7),
            (_glow(0.92, 0.58, 0.1), h("#5f8a5a"), 0.75),  # a plant
        ]
    elif environment == "living_room":  # warm wall, a lamp, a picture, a sofa
        stops = [(0.0, h("#d8c2a0")), (0.6, h("#bfa380")), (1.0, h("#8a6e55"))]
        layers = [
            (_glow(0.86, 0.3, 0.2), h("#ffd79a"), 0.75),  # lamp light
            (_disc(0.86, 0.36, 0.07, 0.03), h("#fff0cf"), 0.8),  # the shade
            (_box(0.06, 0.12, 0.36, 0.4, 0.035), h("#6b7f8f"), 0.55),  # a picture
            (_band(0.72, 1.2, 0.05), h("#8c4a3a"), 0.8),  # terracotta sofa
            (_glow(0.1, 0.78, 0.12), h("#c9a26a"), 0.5),  # a cushion
        ]
    elif environment == "cafe":  # dim wood, string lights, a bright counter
        stops = [(0.0, h("#4d3628")), (0.55, h("#3a291e")), (1.0, h("#241812"))]
        layers = [
            (_glow(0.2, 0.55, 0.22), h("#8a5a34"), 0.5),
            (_band(0.62, 0.8, 0.04), h("#b07a45"), 0.55),  # the lit counter
            *[(m, h("#ffd27f"), 0.8) for m in _bokeh(seed, 9, (0.0, 0.05, 1.0, 0.4), (0.03, 0.06))],
            *[
                (m, h("#ff9d5c"), 0.6)
                for m in _bokeh(seed + 50, 5, (0.0, 0.35, 1.0, 0.6), (0.035, 0.07))
            ],
        ]
    elif environment == "classroom":  # cream walls, a green board, windows on one side
        stops = [(0.0, h("#e6e1cc")), (0.6, h("#d3cdb3")), (1.0, h("#a59c85"))]
        layers = [
            (_box(0.25, 0.14, 1.3, 0.52, 0.035), h("#2f5a46"), 0.85),  # chalkboard
            (_box(0.3, 0.2, 0.9, 0.46, 0.08), h("#5c8470"), 0.3),  # chalk haze
            (_box(-0.2, 0.06, 0.14, 0.6, 0.05), h("#f7f6ee"), 0.9),  # window
            (_band(0.74, 1.2, 0.04), h("#a8744a"), 0.7),  # desks
        ]
    elif environment == "open_space":  # outdoors: sky, far trees, a lawn
        stops = [
            (0.0, h("#9cc3e6")),
            (0.45, h("#cfe1ee")),
            (0.6, h("#8fae6e")),
            (1.0, h("#5f8445")),
        ]
        layers = [
            (_glow(0.78, 0.08, 0.22), h("#fbfbf2"), 0.7),  # the sun's haze
            *[
                (_glow(cx, 0.5, s), h("#4d7340"), 0.8)
                for cx, s in ((0.05, 0.12), (0.3, 0.09), (0.62, 0.13), (0.95, 0.1))
            ],
            (_band(0.46, 0.56, 0.035), h("#6c8f58"), 0.6),  # tree line
            (_glow(0.5, 1.0, 0.3), h("#7ba35a"), 0.4),
        ]
    elif environment == "car":  # dark cabin; the side window shows a blurred street
        stops = [(0.0, h("#2a2d31")), (0.5, h("#1e2124")), (1.0, h("#121416"))]
        layers = [
            (_box(-0.2, 0.08, 0.75, 0.56, 0.05), h("#a9bccb"), 0.9),  # window: sky
            (_box(-0.2, 0.34, 0.75, 0.58, 0.05), h("#58704e"), 0.65),  # passing trees
            (_glow(0.3, 0.2, 0.15), h("#e6eef3"), 0.45),
            (_box(0.72, -0.2, 1.2, 1.2, 0.05), h("#2f3236"), 0.9),  # door pillar
            (_band(0.66, 1.2, 0.04), h("#191b1e"), 0.9),  # door panel
        ]
    else:  # studio: a seamless charcoal-blue paper with a soft key spill
        stops = [(0.0, h("#3b4452")), (0.55, h("#2c333e")), (1.0, h("#1b2027"))]
        layers = [
            (_glow(0.7, 0.32, 0.28), h("#5d6d84"), 0.7),
            (_glow(0.15, 0.85, 0.25), h("#141820"), 0.5),
        ]
    return stops, layers


def _gradient(stops: list[tuple[float, Colour]], y: np.ndarray) -> np.ndarray:
    pos = np.array([s[0] for s in stops])
    cols = np.array([s[1] for s in stops])
    return np.stack([np.interp(y[:, 0], pos, cols[:, c]) for c in range(3)], axis=-1)


@lru_cache(maxsize=32)
def _cached(environment: str, size_px: int, mirror: bool) -> np.ndarray:
    stops, layers = _plate(environment)
    c = (np.arange(size_px, dtype=np.float64) + 0.5) / size_px
    x, y = np.meshgrid(c, c)
    img = np.broadcast_to(_gradient(stops, y)[:, None, :], (size_px, size_px, 3)).copy()
    for mask, colour, opacity in layers:
        w = (opacity * mask(x, y))[..., None]
        img = img * (1 - w) + np.asarray(colour) * w
    vignette = 1 - 0.18 * ((x - 0.5) ** 2 + (y - 0.5) ** 2) / 0.5  # darker corners, lens-like
    img *= vignette[..., None]
    if mirror:
        img = img[:, ::-1]
    out = np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)
    out.setflags(write=False)
    return out


def backdrop(environment: str, size_px: int, side: str = "a") -> np.ndarray:
    """The ``[size_px, size_px, 3]`` float32 (0–1) plate of ``environment`` seen by camera
    ``side`` (``a``, ``b`` mirrored, ``front``); an unknown environment gets the studio's.
    Cached and read-only."""
    env = environment if environment in ENVIRONMENTS else DEFAULT
    return _cached(env, int(size_px), side == "b")
