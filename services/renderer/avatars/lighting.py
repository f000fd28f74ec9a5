"""The avatars' lighting: three-point light, a little specular, soft materials.

In head coordinates (DESIGN §2): a key from the upper front on the subject's right (the
camera's left), a weaker fill from the other side, and a rim that brightens the outline against
the backdrop; a little Blinn–Phong specular from the key on skin, lips, eyes (the corneal
highlight), teeth and metal. ``shade`` is the numpy reference; ``binding_fast.shade_cull`` is
its compiled twin, reading ``lighting_arrays``.
"""

from __future__ import annotations

import numpy as np

from dyad.services.renderer.heads.model import Material

LIGHT_DIR = np.array([-0.35, 0.45, 0.82]) / np.linalg.norm([-0.35, 0.45, 0.82])
FILL_DIR = np.array([0.6, 0.05, 0.8]) / np.linalg.norm([0.6, 0.05, 0.8])
AMBIENT, DIFFUSE, FILL, RIM = 0.44, 0.52, 0.16, 0.22
#: material → (specular strength, Blinn–Phong exponent)
GLOSS = {
    Material.SKIN: (0.05, 16.0),
    Material.NECK: (0.04, 16.0),
    Material.EYELID: (0.05, 16.0),
    Material.LIPS: (0.14, 28.0),
    Material.SCLERA: (0.55, 90.0),
    Material.IRIS: (0.55, 90.0),
    Material.PUPIL: (0.55, 90.0),
    Material.TEETH: (0.12, 30.0),
    Material.METAL: (0.55, 40.0),
    Material.HAIR: (0.04, 10.0),
    Material.BEARD: (0.04, 10.0),
}
#: Materials lit softer (glossy eyes and teeth look wrong with strong Lambert falloff).
SOFT = (Material.SCLERA, Material.IRIS, Material.PUPIL, Material.TEETH)


def gloss(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Specular strength and exponent ``[N]`` float32 of materials ``labels [N]``."""
    strength = np.zeros(labels.shape, np.float32)
    exponent = np.ones(labels.shape, np.float32)
    for material, (g, e) in GLOSS.items():
        strength[labels == material], exponent[labels == material] = g, e
    return strength, exponent


def lighting_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Key and fill directions ``[3]`` and (ambient, diffuse, fill, rim) ``[4]``, float32."""
    f32 = np.float32
    return (
        LIGHT_DIR.astype(f32),
        FILL_DIR.astype(f32),
        np.array([AMBIENT, DIFFUSE, FILL, RIM], f32),
    )


def shade(
    albedo: np.ndarray,  # [N, 3]
    soft: np.ndarray,  # [N] 0–1
    strength: np.ndarray,  # [N] specular
    exponent: np.ndarray,  # [N]
    normals: np.ndarray,  # [N, 3] unit
    view: np.ndarray | None = None,  # [N, 3] unit directions to the camera; None: +z
) -> np.ndarray:
    """Colours ``[N, 3]`` float32: albedo × (ambient + key + fill) + rim + specular; soft
    materials flatter."""
    n = normals.astype(np.float32, copy=False)
    ahead = np.array([0.0, 0.0, 1.0], np.float32)
    v = np.broadcast_to(ahead, n.shape) if view is None else view
    key = np.maximum(n @ LIGHT_DIR.astype(np.float32), 0.0)
    k = AMBIENT + DIFFUSE * key + FILL * np.maximum(n @ FILL_DIR.astype(np.float32), 0.0)
    k = k + soft * (0.95 - k) * 0.7
    facing = np.clip(np.einsum("ij,ij->i", n, v), 0.0, 1.0)
    rim = RIM * (1.0 - facing) ** 3  # grazing angles, i.e. the outline
    half = LIGHT_DIR.astype(np.float32) + v
    half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-6)
    spec = strength * np.maximum(np.einsum("ij,ij->i", n, half), 0.0) ** exponent
    spec *= key > 0.0
    out = albedo * (k + rim)[:, None] + spec[:, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)
