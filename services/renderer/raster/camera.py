"""Pinhole camera in the OpenCV convention (DESIGN.md §2).

Camera space: x right, y down, z forward (the camera looks along +z). ``viewmat`` maps world
points to camera space (``p_cam = R @ p_world + t``), ``K`` maps camera points to pixels.
Pixel ``(i, j)`` (column, row) covers ``[i, i+1) × [j, j+1)``; its centre is ``(i+0.5, j+0.5)``,
so the principal point of a centred camera is ``(W/2, H/2)`` — gsplat's convention too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dyad.errors import InvalidInput


def _vec3(field: str, value: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (3,):
        raise InvalidInput(field, f"expected 3 numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(field, "must be finite")
    return arr


def _positive_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInput(field, f"must be an integer, got {value!r}")
    if value <= 0:
        raise InvalidInput(field, f"must be positive, got {value}")
    return int(value)


@dataclass(frozen=True, eq=False)
class Camera:
    viewmat: np.ndarray  # [4, 4] float64, world → camera (OpenCV: x right, y down, z forward)
    K: np.ndarray  # [3, 3] float64 intrinsics [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]
    width: int
    height: int

    def __post_init__(self) -> None:
        viewmat = np.asarray(self.viewmat, dtype=np.float64)
        K = np.asarray(self.K, dtype=np.float64)
        if viewmat.shape != (4, 4):
            raise InvalidInput("camera.viewmat", f"expected shape (4, 4), got {viewmat.shape}")
        if not np.all(np.isfinite(viewmat)):
            raise InvalidInput("camera.viewmat", "must be finite")
        if not np.allclose(viewmat[3], [0.0, 0.0, 0.0, 1.0]):
            raise InvalidInput("camera.viewmat", "last row must be [0, 0, 0, 1]")
        if K.shape != (3, 3):
            raise InvalidInput("camera.K", f"expected shape (3, 3), got {K.shape}")
        if not np.all(np.isfinite(K)):
            raise InvalidInput("camera.K", "must be finite")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise InvalidInput("camera.K", "focal lengths fx, fy must be positive")
        if K[0, 1] != 0 or K[1, 0] != 0 or not np.allclose(K[2], [0.0, 0.0, 1.0]):
            raise InvalidInput("camera.K", "expected [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]")
        for name in ("width", "height"):
            object.__setattr__(self, name, _positive_int(f"camera.{name}", getattr(self, name)))
        viewmat.setflags(write=False)
        K.setflags(write=False)
        object.__setattr__(self, "viewmat", viewmat)
        object.__setattr__(self, "K", K)

    @property
    def rotation(self) -> np.ndarray:  # [3, 3] world → camera
        return self.viewmat[:3, :3]

    @property
    def translation(self) -> np.ndarray:  # [3]
        return self.viewmat[:3, 3]

    @property
    def position(self) -> np.ndarray:  # [3] camera centre in world coordinates
        return -self.rotation.T @ self.translation

    @classmethod
    def look_at(
        cls,
        eye: Sequence[float] | np.ndarray,
        target: Sequence[float] | np.ndarray,
        up: Sequence[float] | np.ndarray = (0.0, 1.0, 0.0),
        *,
        fov_y_deg: float = 30.0,
        width: int = 512,
        height: int = 512,
    ) -> Camera:
        """A centred pinhole camera at ``eye`` looking at ``target``; ``up`` is world up.

        The image's up direction (−y in camera space) is ``up`` projected onto the image plane.
        Square pixels: ``fx = fy = (height/2) / tan(fov_y/2)``, principal point at the centre.
        """
        eye_v = _vec3("eye", eye)
        target_v = _vec3("target", target)
        up_v = _vec3("up", up)
        if not (0.0 < float(fov_y_deg) < 180.0):
            raise InvalidInput("fov_y_deg", f"must be in (0, 180), got {fov_y_deg}")
        forward = target_v - eye_v
        norm = np.linalg.norm(forward)
        if norm < 1e-12:
            raise InvalidInput("target", "must differ from eye")
        z = forward / norm
        x = np.cross(z, up_v)  # right = forward × up (y down makes x = y × z right-handed)
        x_norm = np.linalg.norm(x)
        if x_norm < 1e-9 * max(1.0, float(np.linalg.norm(up_v))):
            raise InvalidInput("up", "must not be zero or parallel to the viewing direction")
        x = x / x_norm
        y = np.cross(z, x)  # down
        viewmat = np.eye(4)
        viewmat[:3, :3] = np.stack([x, y, z])
        viewmat[:3, 3] = -viewmat[:3, :3] @ eye_v
        width = _positive_int("camera.width", width)
        height = _positive_int("camera.height", height)
        f = 0.5 * height / np.tan(np.deg2rad(fov_y_deg) / 2.0)
        K = np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
        return cls(viewmat=viewmat, K=K, width=width, height=height)

    def project_points(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates ``[M, 2]`` (continuous, centres at +0.5) and depths ``[M]``."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        cam = pts @ self.rotation.T + self.translation
        z = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = cam[:, :2] / z[:, None] * np.diag(self.K)[:2] + self.K[:2, 2]
        return uv, z
