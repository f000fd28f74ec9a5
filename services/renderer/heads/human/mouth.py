"""How little light reaches the inside of the human head's mouth, baked per face.

Our lighting is local (``GaussianAvatar.shade``: each Gaussian lit by its own normal): a
tongue facing the camera is lit like a cheek. With the jaw open the mouth showed a bright pink
tongue and a white blob of teeth filling the opening, where a person shows a dark cavity, the
edge of the upper teeth and the tongue low in shadow. The cavity's walls, the lips and the
cheeks hide it from every light, more so the deeper a point lies behind the lips; this is that
occlusion, by depth behind the front of the lips (rest pose, metres):

- tongue and cavity walls: ``exp(−(d − 6 mm) / 15 mm)`` of the way from ``CAVITY`` (a deep
  red-brown, what an unlit mouth looks like on video) to their own colour — the tongue's tip
  (d ≈ 20 mm) keeps ~40 %, its back and the throat go to the cavity colour;
- teeth: their colour × ``exp(−(d − 12 mm) / 50 mm)``, at least 0.55 — the incisors stay white,
  the molars grey.

Applied to the albedo at avatar creation (``apply_mouth_occlusion``); nothing else changes, and
saved avatars keep the colours they were saved with.
"""

from __future__ import annotations

import numpy as np

from ..model import Material

CAVITY = np.array([0.10, 0.02, 0.025], np.float32)
_SOFT_DEPTH, _SOFT_START = 0.015, 0.006  # tongue and cavity: e-folding depth, where it starts
_TEETH_DEPTH, _TEETH_START, _TEETH_FLOOR = 0.05, 0.012, 0.55
_INTERIOR = (Material.TONGUE, Material.MOUTH)


def mouth_depth(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``[F]`` metres behind the front of the lips (+z out of the face) of each face's centre,
    from the rest pose ``vertices [V, 3]``; 0 for a head without lips."""
    centres = np.asarray(vertices, np.float64)[np.asarray(faces)].mean(axis=1)  # [F, 3]
    lips = np.asarray(labels) == Material.LIPS
    if not lips.any():
        return np.zeros(len(centres))
    return float(centres[lips, 2].max()) - centres[:, 2]


def apply_mouth_occlusion(albedo: np.ndarray, labels: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Per-face ``albedo [F, 3]`` with the mouth's inside darkened by ``depth [F]``
    (``mouth_depth``); other faces unchanged."""
    out = np.array(albedo, np.float32, copy=True)
    lab = np.asarray(labels)
    inner = np.isin(lab, [int(m) for m in _INTERIOR])
    keep = np.clip(np.exp(-(depth[inner] - _SOFT_START) / _SOFT_DEPTH), 0.0, 1.0)[:, None]
    out[inner] = CAVITY + (out[inner] - CAVITY) * keep
    teeth = lab == Material.TEETH
    light = np.exp(-(depth[teeth] - _TEETH_START) / _TEETH_DEPTH)
    out[teeth] *= np.clip(light, _TEETH_FLOOR, 1.0)[:, None]
    return out
