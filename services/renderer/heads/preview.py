"""A flat-shaded orthographic preview of a labelled mesh, for looking at head models.

Plain numpy: every triangle's bounding-box pixels are tested at once (edge functions), and the
nearest surface per pixel wins (a z-buffer resolved by sorting), so a 10k-triangle head draws
in a fraction of a second without any graphics library. The PNG is written with zlib.

Views look along −z at the face (the camera sits on +z, DESIGN §2 head coordinates): the
subject's left (+x) is on the image's right, +y is up.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dyad.errors import InvalidInput

_LIGHT = np.array([0.35, 0.45, 1.0]) / np.linalg.norm([0.35, 0.45, 1.0])
_AMBIENT = 0.35
_BACKGROUND = (235, 235, 240)
_UNLABELLED = (1.0, 0.0, 1.0)  # magenta: a label with no palette entry stands out


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write an ``[H, W, 3]`` uint8 RGB image as a PNG (no compression library beyond zlib)."""
    img = np.ascontiguousarray(image, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InvalidInput("image", f"expected [H, W, 3] uint8, got shape {img.shape}")
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6))
    png += chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def render_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    colours: np.ndarray,
    *,
    size: int = 256,
    centre: tuple[float, float] = (0.0, -0.04),
    half_extent: float = 0.18,
    view_yaw: float = 0.0,
) -> np.ndarray:
    """Draw ``vertices [V, 3]`` / ``faces [F, 3]`` with per-face ``colours [F, 3]`` (0–1).

    Orthographic view along −z after turning the mesh by ``view_yaw`` radians about +y (so a
    positive yaw shows the subject's left cheek); ``centre``/``half_extent`` frame the (x, y)
    window in metres. Returns ``[size, size, 3]`` uint8.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if view_yaw:
        c, s = np.cos(-view_yaw), np.sin(-view_yaw)
        v = v @ np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    scale = size / (2.0 * half_extent)
    px = (v[:, 0] - centre[0]) * scale + size / 2.0
    py = (centre[1] - v[:, 1]) * scale + size / 2.0
    tri = v[f]  # [F, 3, 3]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-20)
    shade = _AMBIENT + (1.0 - _AMBIENT) * np.abs(normal @ _LIGHT)
    rgb = np.clip(np.asarray(colours, dtype=np.float64) * shade[:, None], 0.0, 1.0)

    x0, x1, x2 = px[f[:, 0]], px[f[:, 1]], px[f[:, 2]]
    y0, y1, y2 = py[f[:, 0]], py[f[:, 1]], py[f[:, 2]]
    lo_x = np.clip(np.floor(np.minimum(np.minimum(x0, x1), x2)), 0, size - 1).astype(np.int64)
    hi_x = np.clip(np.ceil(np.maximum(np.maximum(x0, x1), x2)), 0, size - 1).astype(np.int64)
    lo_y = np.clip(np.floor(np.minimum(np.minimum(y0, y1), y2)), 0, size - 1).astype(np.int64)
    hi_y = np.clip(np.ceil(np.maximum(np.maximum(y0, y1), y2)), 0, size - 1).astype(np.int64)
    w = hi_x - lo_x + 1
    h = hi_y - lo_y + 1
    count = w * h
    face_of = np.repeat(np.arange(len(f)), count)  # one entry per (face, bbox pixel)
    start = np.cumsum(count) - count
    local = np.arange(int(count.sum())) - np.repeat(start, count)
    pix_x = lo_x[face_of] + local % w[face_of]
    pix_y = lo_y[face_of] + local // w[face_of]
    cx, cy = pix_x + 0.5, pix_y + 0.5
    ax, ay = x0[face_of], y0[face_of]
    bx, by = x1[face_of], y1[face_of]
    qx, qy = x2[face_of], y2[face_of]
    area = (bx - ax) * (qy - ay) - (by - ay) * (qx - ax)
    ok = np.abs(area) > 1e-12
    safe = np.where(ok, area, 1.0)
    l1 = ((cx - ax) * (qy - ay) - (cy - ay) * (qx - ax)) / safe
    l2 = ((bx - ax) * (cy - ay) - (by - ay) * (cx - ax)) / safe
    l0 = 1.0 - l1 - l2
    inside = ok & (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
    fz = v[:, 2][f]
    depth = l0 * fz[face_of, 0] + l1 * fz[face_of, 1] + l2 * fz[face_of, 2]
    pixel = (pix_y * size + pix_x)[inside]
    depth, face_hit = depth[inside], face_of[inside]
    order = np.lexsort((-depth, pixel))  # per pixel, the nearest (largest z) first
    pixel, face_hit = pixel[order], face_hit[order]
    first = np.ones(len(pixel), dtype=bool)
    first[1:] = pixel[1:] != pixel[:-1]
    image = np.empty((size * size, 3), dtype=np.float64)
    image[:] = np.array(_BACKGROUND) / 255.0
    image[pixel[first]] = rgb[face_hit[first]]
    return (image.reshape(size, size, 3) * 255.0 + 0.5).astype(np.uint8)


def preview_mesh_png(
    vertices: np.ndarray,
    faces: np.ndarray,
    labels: np.ndarray,
    palette: Mapping[int, tuple[float, float, float]],
    path: str | Path,
    size: int = 256,
    *,
    view_yaw: float = 0.0,
    centre: tuple[float, float] = (0.0, -0.04),
    half_extent: float = 0.18,
) -> None:
    """Save a flat-shaded orthographic front view of a labelled mesh as a PNG.

    vertices ``[V, 3]`` metres (head coordinates); faces ``[F, 3]``; labels ``[F]`` material
    ids; palette: material id → RGB in 0–1 (a label missing from it is drawn magenta).
    """
    lab = np.asarray(labels)
    if lab.shape != (len(faces),):
        raise InvalidInput("labels", f"expected [{len(faces)}] labels, got shape {lab.shape}")
    table = np.array([palette.get(int(k), _UNLABELLED) for k in range(int(lab.max()) + 1)])
    img = render_mesh(
        vertices,
        faces,
        table[lab.astype(np.int64)],
        size=size,
        centre=centre,
        half_extent=half_extent,
        view_yaw=view_yaw,
    )
    write_png(path, img)
