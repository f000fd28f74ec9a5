"""Geometry half of avatar fitting: the human head's identity shape, one camera for the clip and
the per-frame head pose, fitted to tracked face landmarks.

The world is the head model's frame (DESIGN §2); the torso stays still and the head turns by
the rig's pitch/yaw/roll about the neck, so one rigid camera (``viewmat`` world → camera,
OpenCV) and the per-frame angles explain the landmarks. A constant turn of the head and an
orbit of the camera about the neck look the same from the face alone: a weak prior towards
the tracked angles (``POSE_PRIOR_DEG``) settles that, so the fitted angles stay in the
tracker's frame (zero = facing the camera) while their frame-to-frame motion comes from the
landmarks.

Stages (torch L-BFGS, float64): (1) camera and poses of the identity frames with the start
shape; (2) + identity parameters (``shape_model``), regularised towards the start shape;
(3) the poses of every detected frame with camera and shape fixed. Undetected frames keep
the tracked angles shifted by the mean correction of the detected ones. Expression stays as
tracked (refining the mouth from landmarks did not recover a known jawOpen on renders; the
photometric stage refines expression).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dyad.errors import InvalidInput
from dyad.services.renderer.raster.camera import Camera

from .correspondence import NUM_LANDMARKS, Correspondence, load_correspondence
from .shape_model import IdentityParams, LandmarkModel

POSE_PRIOR_DEG = 10.0  # σ of the prior pulling fitted head angles towards the tracked ones
HUBER_PX = 2.0  # the landmark residual turns linear beyond this (outlier landmarks)
#: Errors enter the cost in pixels of a ``REFERENCE_PX``-sized image, so the priors weigh the
#: same whatever the video's resolution.
REFERENCE_PX = 256.0
FEATURE_PRIOR = 0.3  # σ of the feature coefficients (regularised towards 0)
MACRO_PRIOR = 0.25  # σ of the age/gender/ethnic offsets from the appearance's


@dataclass(frozen=True)
class GeometryFit:
    """What ``fit_geometry`` found."""

    head_config: dict[str, Any]  # the input's, with ``shape_fit`` {target: weight} (human)
    camera: Camera  # the tracked intrinsics and the solved world → camera viewmat
    motion: np.ndarray  # [T, 55] arkit55: head angles refined, expression as tracked
    reprojection_px: np.ndarray  # [T] median landmark error per frame; NaN where undetected
    landmarks: np.ndarray  # [L] the MediaPipe landmark indices used (the correspondence's)
    identity_frames: np.ndarray  # [I] frames the identity and camera were fitted on
    start_shape_px: float  # median error on the identity frames with the start shape

    @property
    def median_reprojection_px(self) -> float:
        return float(np.nanmedian(self.reprojection_px))


def _intrinsics(intrinsics: Any) -> tuple[np.ndarray, int, int]:
    """``[6]`` fx, fy, cx, cy, width, height (the tracker's) or an object with those fields →
    ``K [3, 3]``, width, height."""
    names = ("fx", "fy", "cx", "cy", "width", "height")
    if all(hasattr(intrinsics, n) for n in names):
        values = [float(getattr(intrinsics, n)) for n in names]
    elif isinstance(intrinsics, dict):
        try:
            values = [float(intrinsics[n]) for n in names]
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("intrinsics", f"needs {', '.join(names)}") from None
    else:
        arr = np.asarray(intrinsics, np.float64).reshape(-1)
        if arr.shape != (6,):
            raise InvalidInput("intrinsics", f"expected [6] {names}, got {arr.shape}")
        values = [float(v) for v in arr]
    fx, fy, cx, cy, w, h = values
    if not all(np.isfinite(values)) or min(fx, fy, w, h) <= 0 or w != int(w) or h != int(h):
        raise InvalidInput("intrinsics", f"need positive finite focal lengths and size: {values}")
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]), int(w), int(h)


def _validate(
    head_config: dict[str, Any], landmarks: Any, detected: Any, motion: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(head_config, dict) or head_config.get("kind") != "human":
        kind = head_config.get("kind") if isinstance(head_config, dict) else head_config
        raise InvalidInput("head_config", f"geometry fitting needs a human head, got {kind!r}")
    lm = np.asarray(landmarks, np.float64)
    if lm.ndim != 3 or lm.shape[1] != NUM_LANDMARKS or lm.shape[2] not in (2, 3):
        raise InvalidInput("landmarks", f"expected [T, {NUM_LANDMARKS}, 2|3], got {lm.shape}")
    n_t = lm.shape[0]
    det = np.asarray(detected)
    if det.shape != (n_t,):
        raise InvalidInput("detected", f"expected [{n_t}], got {det.shape}")
    det = det.astype(bool)
    if not det.any():
        raise InvalidInput("detected", "no frame has a detected face")
    if not np.all(np.isfinite(lm[det, :, :2])):
        raise InvalidInput("landmarks", "detected frames must have finite landmarks")
    mo = np.asarray(motion, np.float64)
    if mo.shape != (n_t, 55) or not np.all(np.isfinite(mo)):
        raise InvalidInput("motion", f"expected finite [{n_t}, 55] arkit55, got {mo.shape}")
    return lm[:, :, :2], det, mo


def _rodrigues(r: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``[3]`` → rotation ``[3, 3]`` (smooth at 0)."""
    theta2 = (r * r).sum()
    theta = torch.sqrt(theta2 + 1e-24)
    zero = torch.zeros((), dtype=r.dtype)
    k = torch.stack(
        [
            torch.stack([zero, -r[2], r[1]]),
            torch.stack([r[2], zero, -r[0]]),
            torch.stack([-r[1], r[0], zero]),
        ]
    )
    a = torch.where(theta2 > 1e-12, torch.sin(theta) / theta, 1.0 - theta2 / 6.0)
    b = torch.where(theta2 > 1e-12, (1.0 - torch.cos(theta)) / (theta2 + 1e-24), 0.5 - theta2 / 24)
    return torch.eye(3, dtype=r.dtype) + a * k + b * (k @ k)


def _project(
    points: torch.Tensor, rvec: torch.Tensor, t: torch.Tensor, k: torch.Tensor
) -> torch.Tensor:
    """``[T, L, 3]`` world points → pixels ``[T, L, 2]``."""
    cam = points @ _rodrigues(rvec).T + t
    z = cam[..., 2:3].clamp(min=1e-3)
    return cam[..., :2] / z * torch.stack([k[0, 0], k[1, 1]]) + torch.stack([k[0, 2], k[1, 2]])


def _huber(err: torch.Tensor) -> torch.Tensor:
    """Per-landmark pixel distance ``[...]`` → Huber cost, quadratic below ``HUBER_PX``."""
    return torch.where(err < HUBER_PX, 0.5 * err**2, HUBER_PX * (err - 0.5 * HUBER_PX))


def _lbfgs(params: list[torch.Tensor], closure_loss: Any, iters: int) -> None:
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    opt.step(closure)


def _pick_identity_frames(detected: np.ndarray, motion: np.ndarray, count: int) -> np.ndarray:
    """``count`` detected frames spread over the clip, favouring the widest yaw range."""
    frames = np.flatnonzero(detected)
    if count >= len(frames):
        return frames
    spread = frames[np.linspace(0, len(frames) - 1, max(count - 2, 1)).round().astype(int)]
    yaw = motion[frames, 53]
    extremes = frames[[int(np.argmin(yaw)), int(np.argmax(yaw))]]
    return np.unique(np.concatenate([spread, extremes]))[:count]


def _initial_camera(
    points: np.ndarray, observed: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A frontal camera (looking along −z) placed so the mean landmark lands on the observed
    mean with the observed spread: ``rvec [3]``, ``t [3]``."""
    rot = np.diag([1.0, -1.0, -1.0])
    cam = points @ rot.T  # [N, 3] before translation
    spread_3d = np.sqrt(((cam[:, :2] - cam[:, :2].mean(0)) ** 2).sum(1).mean())
    spread_px = np.sqrt(((observed - observed.mean(0)) ** 2).sum(1).mean())
    depth = k[0, 0] * spread_3d / max(spread_px, 1e-6)
    centre_px = observed.mean(0)
    want = np.array(
        [
            (centre_px[0] - k[0, 2]) / k[0, 0] * depth,
            (centre_px[1] - k[1, 2]) / k[1, 1] * depth,
            depth,
        ]
    )
    t = want - cam.mean(0)
    return np.array([np.pi, 0.0, 0.0]), t  # axis-angle of diag(1, −1, −1)


def fit_geometry(
    head_config: dict[str, Any],
    landmarks: np.ndarray,
    detected: np.ndarray,
    motion: np.ndarray,
    intrinsics: Any,
    *,
    frames_for_identity: int = 16,
    fit_identity: bool = True,
    iters: int = 60,
    correspondence: Correspondence | None = None,
) -> GeometryFit:
    """Fit the human head's identity shape, the clip's camera and the per-frame head angles.

    ``landmarks [T, 478, 2|3]`` pixels (MediaPipe order; z ignored), ``detected [T]`` bool,
    ``motion [T, 55]`` arkit55 as tracked (its head angles start and anchor the fit; its
    expression poses the face), ``intrinsics`` ``[6]`` fx, fy, cx, cy, width, height (or an
    object / dict with those names). ``frames_for_identity``: how many detected frames the
    shape and camera are fitted on; ``fit_identity=False`` keeps the start shape. ``iters``: L-BFGS
    iterations per stage (the shape stage gets twice as many).
    """
    lm, det, mo = _validate(head_config, landmarks, detected, motion)
    k_np, width, height = _intrinsics(intrinsics)
    if frames_for_identity < 1:
        raise InvalidInput("frames_for_identity", f"must be ≥ 1, got {frames_for_identity}")
    from dyad.services.renderer.avatars.avatar import build_head
    from dyad.services.renderer.heads.appearance import appearance_from_dict

    corr = correspondence or load_correspondence()
    head = build_head(head_config)
    model = LandmarkModel(head, appearance_from_dict(head_config["appearance"]), corr)
    observed = torch.from_numpy(lm[:, corr.landmarks])  # [T, L, 2]
    k = torch.from_numpy(k_np)
    tracked = torch.from_numpy(mo[:, 52:55].copy())  # [T, 3]
    expression = model.expression_offsets(mo)  # [T, U, 3]
    prior = np.deg2rad(POSE_PRIOR_DEG)
    px_scale = max(width, height) / REFERENCE_PX
    ident = IdentityParams.zeros()

    def _errors(
        frames: torch.Tensor, pose: torch.Tensor, rvec: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        pts = model.points(ident, expression[frames], pose)
        return torch.linalg.norm(_project(pts, rvec, t, k) - observed[frames], dim=-1)  # [F, L]

    def cost(
        frames: torch.Tensor, pose: torch.Tensor, rvec: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        data = _huber(_errors(frames, pose, rvec, t) / px_scale).mean(dim=1).sum()
        return data + 0.5 * (((pose - tracked[frames]) / prior) ** 2).sum()

    id_frames_np = _pick_identity_frames(det, mo, frames_for_identity)
    id_frames = torch.from_numpy(id_frames_np)
    with torch.no_grad():
        start = model.points(ident, expression[id_frames], tracked[id_frames]).numpy()
    r0, t0 = _initial_camera(
        start.reshape(-1, 3), lm[id_frames_np][:, corr.landmarks].reshape(-1, 2), k_np
    )
    rvec = torch.tensor(r0, requires_grad=True)
    t = torch.tensor(t0, requires_grad=True)
    pose = tracked[id_frames].clone().requires_grad_(True)
    # (1) camera and poses, start shape
    _lbfgs([rvec, t, pose], lambda: cost(id_frames, pose, rvec, t), iters)
    with torch.no_grad():
        start_px = float(_errors(id_frames, pose, rvec, t).median())
    # (2) + identity
    if fit_identity:
        for p in ident.tensors():
            p.requires_grad_(True)
        n_id = float(len(id_frames_np))

        def with_shape() -> torch.Tensor:
            reg = (ident.features / FEATURE_PRIOR).pow(2).sum()
            reg = (
                reg + (ident.age**2 + ident.gender**2 + ident.ethnic.pow(2).sum()) / MACRO_PRIOR**2
            )
            return cost(id_frames, pose, rvec, t) + 0.5 * reg * max(1.0, n_id / 16.0)

        _lbfgs([rvec, t, pose, *ident.tensors()], with_shape, 2 * iters)
        for p in ident.tensors():
            p.requires_grad_(False)
    rvec, t = rvec.detach(), t.detach()
    # (3) every detected frame's pose, camera and shape fixed
    refined, errors = _refine_frames(
        model,
        expression,
        ident,
        mo,
        det,
        id_frames_np,
        pose.detach(),
        (rvec, t, k),
        observed,
        iters,
        px_scale,
    )

    fitted_config = copy.deepcopy(head_config)
    if fit_identity:
        fitted_config["shape_fit"] = model.shape_fit(
            ident, dict(head_config.get("shape_fit") or {})
        )
    viewmat = np.eye(4)
    with torch.no_grad():
        viewmat[:3, :3] = _rodrigues(rvec).numpy()
    viewmat[:3, 3] = t.numpy()
    return GeometryFit(
        fitted_config,
        Camera(viewmat=viewmat, K=k_np, width=width, height=height),
        refined,
        errors,
        corr.landmarks.copy(),
        id_frames_np,
        start_px,
    )


def _refine_frames(
    model: LandmarkModel,
    expression: torch.Tensor,
    ident: IdentityParams,
    motion: np.ndarray,
    detected: np.ndarray,
    id_frames: np.ndarray,
    id_pose: torch.Tensor,
    camera: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    observed: torch.Tensor,
    iters: int,
    px_scale: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Head angles of every detected frame, camera, shape and expression ``[T, U, 3]`` fixed
    → the refined clip ``[T, 55]`` and per-frame median errors ``[T]`` (NaN: undetected)."""
    rvec, t, k = camera
    idx = np.flatnonzero(detected)
    frames = torch.from_numpy(idx)
    tracked = torch.from_numpy(motion[idx, 52:55].copy())  # [F, 3]
    pose = tracked.clone()
    pose[np.searchsorted(idx, id_frames)] = id_pose
    pose.requires_grad_(True)
    prior = np.deg2rad(POSE_PRIOR_DEG)

    def errors() -> torch.Tensor:
        pts = model.points(ident, expression[frames], pose)
        return torch.linalg.norm(_project(pts, rvec, t, k) - observed[frames], dim=-1)

    def cost() -> torch.Tensor:
        data = _huber(errors() / px_scale).mean(dim=1).sum()
        return data + 0.5 * (((pose - tracked) / prior) ** 2).sum()

    _lbfgs([pose], cost, iters)
    with torch.no_grad():
        err = errors().median(dim=1).values.numpy()
    refined = motion.copy()
    fitted_pose = pose.detach().numpy()
    shift = (fitted_pose - motion[idx, 52:55]).mean(axis=0)
    refined[~detected, 52:55] += shift  # keep undetected frames in the fitted frame
    refined[idx, 52:55] = fitted_pose
    out = np.full(len(motion), np.nan)
    out[idx] = err
    return refined.astype(np.float32), out
