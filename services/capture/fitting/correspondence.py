"""Where MediaPipe's 478 face landmarks sit on the human bust: one (triangle, barycentrics) per
kept landmark, measured by rendering the head and reading it back.

``python -m dyad.services.capture.fitting.correspondence`` regenerates
``human_landmarks.json`` beside this file (deterministic: CPU renders, one Face Landmarker in
IMAGE mode). How: neutral busts of a few identities are rendered at ``BUILD_PX``² from the
front camera with the head turned by ``BUILD_YAWS_DEG``; each detected landmark's pixel ray is
cast against the posed bust (skin, lips, lids, brows: never eyeballs, teeth or hair); every
hit is a candidate surface point, and the candidate whose projections agree best with the
landmark over all renders is kept. Dropped: the irises (468–477, on the eyeballs), the face
oval (contour landmarks slide over the cheek as the head turns), and any landmark whose
median disagreement exceeds ``KEEP_MEDIAN_PX`` or whose worst exceeds ``KEEP_MAX_PX``.

Triangle indices are into ``HumanHead.faces`` (the bust's faces come first, the same for
every identity), so the same entry works for every human avatar.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.capture.tracking.landmarker import (
    MODEL_SETTING,
    load_model_bytes,
    open_landmarker,
)

NUM_LANDMARKS = 478
IRISES = tuple(range(468, 478))


def face_oval() -> set[int]:
    """The landmarks of MediaPipe's face contour (``FACE_LANDMARKS_FACE_OVAL``): they slide
    along the silhouette as the head turns, so no surface point matches them."""
    from mediapipe.tasks.python.vision import FaceLandmarksConnections  # heavy: when used

    return {i for c in FaceLandmarksConnections.FACE_LANDMARKS_FACE_OVAL for i in (c.start, c.end)}


DATA_FILE = Path(__file__).with_name("human_landmarks.json")
FORMAT = "dyad-landmark-correspondence"
BUILD_PX = 512
BUILD_YAWS_DEG = (-20.0, 0.0, 20.0)
BUILD_PITCHES_DEG = (0.0, 10.0)
BUILD_IDENTITIES = (
    "",
    "a young woman with dark skin, short hair, a small nose and full lips",
    "an older man with fair skin, a long nose, a wide jaw and a long chin",
)
KEEP_MEDIAN_PX = 3.0  # at BUILD_PX: 1.5 px at 256²
KEEP_MAX_PX = 8.0

# ---------------------------------------------------------------------------- the landmarker


class LandmarkReader:
    """MediaPipe Face Landmarker, IMAGE mode, one face: ``read(rgb)`` → ``[478, 3]`` pixel x,
    y (and MediaPipe's z in the same scale) or None. Close it (or use ``with``)."""

    def __init__(self) -> None:
        model = load_model_bytes(os.environ.get(MODEL_SETTING))
        self._landmarker: Any = open_landmarker(model, num_faces=1, video=False)

    def read(self, rgb: np.ndarray) -> np.ndarray | None:
        import mediapipe as mp

        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        pts = result.face_landmarks[0]
        return np.array([[p.x * w, p.y * h, p.z * w] for p in pts], np.float64)  # [478, 3]

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> LandmarkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Correspondence:
    """Kept landmarks and their surface points on the human bust."""

    landmarks: np.ndarray  # [L] int64, MediaPipe landmark index
    faces: np.ndarray  # [L] int64, triangle of HumanHead.faces
    barycentric: np.ndarray  # [L, 3] float64, weights of the triangle's corners
    stats: dict[str, Any]

    def points(self, verts: np.ndarray, head_faces: np.ndarray) -> np.ndarray:
        """Posed vertices ``[..., V, 3]`` → landmark points ``[..., L, 3]``."""
        corners = np.asarray(head_faces)[self.faces]  # [L, 3]
        return np.einsum("...lkc,lk->...lc", verts[..., corners, :], self.barycentric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": 1,
            "stats": self.stats,
            "landmarks": [
                [int(i), int(f), *(round(float(b), 6) for b in w)]
                for i, f, w in zip(self.landmarks, self.faces, self.barycentric, strict=True)
            ],
        }


def load_correspondence(path: Path = DATA_FILE) -> Correspondence:
    """The committed table (FailedPrecondition when missing or not this format)."""
    if not path.is_file():
        raise FailedPrecondition(f"{path} is missing: python -m {__name__} writes it")
    d = json.loads(path.read_text())
    if d.get("format") != FORMAT:
        raise FailedPrecondition(f"{path} is not a {FORMAT} file")
    rows = np.asarray(d["landmarks"], np.float64)  # [L, 5]
    return Correspondence(
        rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2:], d["stats"]
    )


# ---------------------------------------------------------------------------- building it


def pixel_rays(camera: Any, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre ``[3]`` and unit world directions ``[N, 3]`` through ``pixels [N, 2]``."""
    k = np.asarray(camera.K)
    cam_dirs = np.stack(
        [
            (pixels[:, 0] - k[0, 2]) / k[0, 0],
            (pixels[:, 1] - k[1, 2]) / k[1, 1],
            np.ones(len(pixels)),
        ],
        axis=1,
    )  # [N, 3] camera space
    dirs = cam_dirs @ np.asarray(camera.rotation)  # R^T · d
    return np.asarray(camera.position), dirs / np.linalg.norm(dirs, axis=1, keepdims=True)


def ray_cast(
    origin: np.ndarray, dirs: np.ndarray, tri: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """First hit of each ray on triangles ``tri [F, 3, 3]`` (Möller–Trumbore, both sides):
    triangle index ``[N]`` (−1 for a miss) and barycentrics ``[N, 3]``."""
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]  # [F, 3]
    s = origin[None, :] - tri[:, 0]  # [F, 3]
    q = np.cross(s, e1)  # [F, 3]
    hit = np.full(len(dirs), -1, np.int64)
    bary = np.zeros((len(dirs), 3))
    for n, d in enumerate(dirs):
        p = np.cross(d[None, :], e2)  # [F, 3]
        det = np.einsum("fc,fc->f", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        u = np.einsum("fc,fc->f", s, p) * inv
        v = (q @ d) * inv
        t = np.einsum("fc,fc->f", e2, q) * inv
        good = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 0)
        if good.any():
            f = int(np.flatnonzero(good)[np.argmin(t[good])])
            hit[n], bary[n] = f, (1.0 - u[f] - v[f], u[f], v[f])
    return hit, bary


def castable_faces(head: Any) -> np.ndarray:
    """Indices of the bust's triangles a landmark may sit on ``[F']``: skin-like surfaces."""
    from dyad.services.renderer.heads.model import Material

    n_bust = len(head.bust.faces)
    labels = np.asarray(head.face_labels[:n_bust])
    ok = (Material.SKIN, Material.LIPS, Material.BROW, Material.EYELID, Material.NECK)
    return np.flatnonzero(np.isin(labels, ok))


def _views() -> list[tuple[float, float]]:
    return [(p, y) for p in BUILD_PITCHES_DEG for y in BUILD_YAWS_DEG]


def render_view(avatar: Any, motion: np.ndarray, camera: Any) -> np.ndarray:
    """One CPU frame ``[H, W, 3]`` uint8 of ``avatar`` posed by ``motion [1, 55]``."""
    from dyad.services.renderer.raster import render_frame

    scene = next(avatar.scenes(motion, cull_from=camera.position))
    return render_frame(scene, camera, backend="cpu")


def view_motion(pitch_deg: float, yaw_deg: float) -> np.ndarray:
    """``[1, 55]`` arkit55: neutral face, the head at these angles (DESIGN §2)."""
    m = np.zeros((1, 55), np.float32)
    m[0, 52], m[0, 53] = np.deg2rad(pitch_deg), np.deg2rad(yaw_deg)
    return m


def build_correspondence() -> Correspondence:
    """Render, read, cast and pick (module docstring); a few seconds per render on 2 cores."""
    from dyad.services.renderer.avatars.avatar import create_avatar
    from dyad.services.renderer.video import head_camera

    camera = head_camera("front", BUILD_PX)
    renders: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (lm [478,2], verts, faces)
    candidates: list[tuple[int, int, np.ndarray]] = []  # (landmark, face, bary)
    with LandmarkReader() as reader:
        for identity in BUILD_IDENTITIES:
            avatar = create_avatar(identity, head="human")
            head = avatar.head
            allowed = castable_faces(head)
            for pitch, yaw in _views():
                motion = view_motion(pitch, yaw)
                found = reader.read(render_view(avatar, motion, camera))
                if found is None:
                    raise FailedPrecondition(f"no face found in the render of {identity!r}")
                verts = head.pose(motion)[0].astype(np.float64)  # [V, 3]
                renders.append((found[:, :2], verts, np.asarray(head.faces)))
                origin, dirs = pixel_rays(camera, found[:, :2])
                tri = verts[head.faces[allowed]]  # [F', 3, 3]
                hit, bary = ray_cast(origin, dirs, tri)
                for i in range(NUM_LANDMARKS):
                    if hit[i] >= 0:
                        candidates.append((i, int(allowed[hit[i]]), bary[i]))
    return _pick(candidates, renders, camera)


def _pick(
    candidates: list[tuple[int, int, np.ndarray]],
    renders: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    camera: Any,
) -> Correspondence:
    skip = set(IRISES) | face_oval()
    kept: list[tuple[int, int, np.ndarray]] = []
    medians: list[float] = []
    by_landmark: dict[int, list[tuple[int, np.ndarray]]] = {}
    for i, f, b in candidates:
        by_landmark.setdefault(i, []).append((f, b))
    dropped_unreliable = 0
    for i in range(NUM_LANDMARKS):
        if i in skip:
            continue
        options = by_landmark.get(i, [])
        if len(options) < len(renders):  # missed in some render: not reliably on the bust
            dropped_unreliable += 1
            continue
        best: tuple[float, float, int, np.ndarray] | None = None
        for f, b in options:
            errs = []
            for lm, verts, faces in renders:
                point = b @ verts[faces[f]]  # [3]
                uv, _z = camera.project_points(point[None])
                errs.append(float(np.linalg.norm(uv[0] - lm[i])))
            score = (float(np.mean(errs)), float(np.max(errs)))
            if best is None or score[0] < best[0]:
                best = (score[0], score[1], f, b)
        assert best is not None
        errs_best = []
        for lm, verts, faces in renders:
            uv, _z = camera.project_points((best[3] @ verts[faces[best[2]]])[None])
            errs_best.append(float(np.linalg.norm(uv[0] - lm[i])))
        if float(np.median(errs_best)) > KEEP_MEDIAN_PX or max(errs_best) > KEEP_MAX_PX:
            dropped_unreliable += 1
            continue
        kept.append((i, best[2], best[3]))
        medians.append(float(np.median(errs_best)))
    stats = {
        "build_px": BUILD_PX,
        "renders": len(renders),
        "kept": len(kept),
        "dropped_iris_and_oval": len(skip),
        "dropped_unreliable": dropped_unreliable,
        "median_disagreement_px": round(float(np.median(medians)), 3),
        "p90_disagreement_px": round(float(np.percentile(medians, 90)), 3),
    }
    return Correspondence(
        np.array([k[0] for k in kept], np.int64),
        np.array([k[1] for k in kept], np.int64),
        np.array([k[2] for k in kept], np.float64),
        stats,
    )


def main() -> int:
    """Rebuild ``human_landmarks.json`` (atomically) and print its statistics."""
    from dyad.media.audio import atomic_output

    corr = build_correspondence()
    if len(corr.landmarks) < 100:
        raise InvalidInput("correspondence", f"only {len(corr.landmarks)} landmarks kept")
    with atomic_output(DATA_FILE) as tmp:
        Path(tmp).write_text(json.dumps(corr.to_dict(), separators=(",", ":")) + "\n")
    print(json.dumps(corr.stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
