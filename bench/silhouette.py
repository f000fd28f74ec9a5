"""Gaussians outside the head's silhouette: rendered alpha beyond the mesh outline.

For each head (procedural, human), expression (neutral, jawOpen, smile, a 25° turn) and
camera (front, speaker A's three-quarter view) at 256²: the mesh's own silhouette is filled
from the posed triangles (a plain edge-function rasteriser, written for this check), dilated
by 2 px, and every pixel outside it where the Gaussian render's alpha exceeds 0.02 counts as
stray. Issue 17 asks for zero; "whiskers" are long thin runs of stray pixels, a fringe is a
1–3 px soft edge around the whole outline.

``python -m bench.silhouette`` writes ``bench/results/silhouette-<hostname>.json``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation

from bench.common import write_result
from dyad.domain import Identity
from dyad.rigs import get_rig
from dyad.services.renderer.avatars.avatar import create_avatar
from dyad.services.renderer.raster import render
from dyad.services.renderer.raster.camera import Camera
from dyad.services.renderer.video import head_camera

PX = 256
WHO = Identity(
    "Walter Berg",
    "senior",
    "masculine",
    appearance=("fair skin", "short grey hair", "a full beard", "bifocals"),
)
POSES = {
    "neutral": {},
    "jawOpen": {"jawOpen": 1.0},
    "smile": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0},
    "yaw25": {"headYaw": float(np.deg2rad(25))},
}


def clip(weights: dict[str, float]) -> np.ndarray:
    rig = get_rig("arkit55")
    m = np.zeros((1, len(rig.channels)), np.float32)
    for name, value in weights.items():
        m[0, rig.channels.index(name)] = value
    return m


def mesh_mask(verts: np.ndarray, faces: np.ndarray, cam: Camera) -> np.ndarray:
    """[H, W] bool: pixel centres inside any projected triangle of ``verts [V, 3]``."""
    uv, depth = cam.project_points(verts)
    mask = np.zeros((cam.height, cam.width), bool)
    for tri in uv[faces[(depth[faces] > 0).all(1)]]:  # [3, 2]
        lo = np.maximum(np.floor(tri.min(0)).astype(int), 0)
        hi = np.minimum(np.ceil(tri.max(0)).astype(int), (cam.width - 1, cam.height - 1))
        if (hi < lo).any():
            continue
        xs, ys = np.meshgrid(np.arange(lo[0], hi[0] + 1) + 0.5, np.arange(lo[1], hi[1] + 1) + 0.5)
        e = [
            (b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0])
            for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0]))
        ]
        inside = ((e[0] >= 0) & (e[1] >= 0) & (e[2] >= 0)) | (
            (e[0] <= 0) & (e[1] <= 0) & (e[2] <= 0)
        )
        mask[lo[1] : hi[1] + 1, lo[0] : hi[0] + 1] |= inside
    return mask


def run() -> dict[str, Any]:
    rows = []
    for head in ("procedural", "human"):
        av = create_avatar(WHO, head=head)
        for pose, weights in POSES.items():
            m = clip(weights)
            verts = av.head.pose(m)[0].astype(np.float64)
            for view in ("front", "a"):
                cam = head_camera(view, PX)
                out = render(next(av.scenes(m)), cam, background=(1, 1, 1), backend="cpu")
                outline = binary_dilation(
                    mesh_mask(verts, np.asarray(av.head.faces), cam), iterations=2
                )
                fringe = binary_dilation(outline, iterations=3) & ~outline
                stray = (out.alpha > 0.02) & ~outline
                rows.append(
                    {
                        "head": head,
                        "pose": pose,
                        "view": view,
                        "stray_px": int(stray.sum()),
                        "stray_beyond_5px": int((stray & ~fringe).sum()),
                        "max_alpha_outside": round(float(out.alpha[~outline].max(initial=0.0)), 3),
                    }
                )
                print(rows[-1])
    return {"size_px": PX, "alpha_threshold": 0.02, "dilation_px": 2, "rows": rows}


def main() -> None:
    path = write_result("silhouette", run())
    print(json.dumps({"written": str(path)}))


if __name__ == "__main__":
    main()
