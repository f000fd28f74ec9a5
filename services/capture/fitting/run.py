"""``fit_avatar``: RSATalker stage 2 — a Gaussian avatar fitted to a person's frames.

Inputs: a capture folder (frames per camera, the rig motion per frame, the cameras; what
``dyad avatar synth-data`` or ``dyad track`` + geometry fitting write) and an initial avatar
(its head fixes the identity's shape; its Gaussians are the starting point). Each iteration
draws one training frame and one camera at random (a per-iteration RNG seeded by
(seed, iteration), so a resumed fit draws what the uninterrupted one would), renders it with
the frame's motion plus its learned correction, and steps Adam on eq. 10–11
(``losses``). Density control (``density``) runs every ``densify_every`` iterations inside
the densify window. The last 10 % of the clip is held out: validated every
``validate_every`` iterations with the motion as tracked, and measured at the end after the
held-out frames' motion is tracked photometrically with the avatar frozen (``heldout``).

Output (``outputs.write_outputs``): an ordinary avatar directory plus ``metrics.json`` and
``preview.png``; ``config.json`` is written last, so an interrupted fit never leaves
something ``load_avatar`` would take for an avatar. Checkpoints: ``AVATAR_DIR/.fit/``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dyad.errors import InvalidInput
from dyad.services.renderer.avatars.avatar import GaussianAvatar

from . import checkpoint as ckpt
from .data import FitData, target_image
from .density import densify_and_prune, remap_adam, view_space_grad
from .heldout import TRACK_STEPS, track_frames
from .losses import (
    LAMBDA_POS,
    LAMBDA_SCALE,
    image_loss,
    position_loss,
    scale_loss,
)
from .photometric import FitParams, face_scale, head_matte, render_view
from .posing import poser_for

# Learning rates (models.md §2.2, GaussianAvatars): position 5e-3 → 5e-5 (exponential decay
# over the run, in triangle units), scaling 0.017, rotation 1e-3, opacity 0.05. Colour: 3DGS'
# feature lr 2.5e-3 is on SH DC coefficients (colour = 0.28·DC + 0.5); the same step in colour
# units is 2.5e-3 / 0.28 ≈ 0.009, rounded to 0.01 for a short schedule. Motion refinement:
# expression 1e-3 (face-unit weights), pose 1e-5 (radians).
LR = {
    "xyz": 5e-3,
    "log_scale": 0.017,
    "rot": 1e-3,
    "opacity_logit": 0.05,
    "colour": 0.01,
}
LR_XYZ_FINAL = 5e-5
LR_UNITS, LR_POSE = 1e-3, 1e-5


@dataclass
class FitConfig:
    iters: int = 1000
    size: int = 256
    device: str = "cpu"
    seed: int = 0
    validate_every: int = 250
    checkpoint_every: int = 250
    densify_every: int = 100
    densify_from: float = 0.1  # share of the run
    densify_until: float = 0.7
    # CPU splatting costs about linearly in the Gaussian count (each one is composited over
    # its 16×16 tiles whatever the image size), so growth is bounded: at most 5 % more per
    # densify step and 20 000 in all (the human head starts with ~12 700).
    max_gaussians: int = 20_000
    max_growth: float = 0.05
    refine_motion: bool = True
    track_steps: int = TRACK_STEPS  # per held-out frame before the final scores; 0: none
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    val_views: int = 8  # held-out views per periodic validation
    final_views: int = 32  # held-out views in metrics.json (evenly spread)
    matte_radius_share: float = 1.0 / 64  # dilation of the head matte, share of --size

    def check(self) -> None:
        if self.iters < 1:
            raise InvalidInput("--iters", f"must be at least 1, got {self.iters}")
        if self.device not in ("cpu", "cuda"):
            raise InvalidInput("--device", f"expected cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise InvalidInput("--device", "cuda asked for but torch sees no CUDA device")
        for name in ("validate_every", "checkpoint_every", "densify_every"):
            if getattr(self, name) < 1:
                raise InvalidInput(name, "must be at least 1")
        if self.track_steps < 0:
            raise InvalidInput("--track-steps", f"must be 0 or more, got {self.track_steps}")


@dataclass
class FitResult:
    avatar: GaussianAvatar
    metrics: dict[str, Any]
    out: Path | None


Progress = Callable[[int, int, dict[str, float]], None]


def _optimizer(params: FitParams) -> torch.optim.Adam:
    groups: list[dict[str, Any]] = [
        {"params": [t], "lr": LR[k], "name": k} for k, t in params.gaussians.items()
    ]
    groups.append({"params": [params.units], "lr": LR_UNITS, "name": "units"})
    groups.append({"params": [params.turn], "lr": LR_POSE, "name": "turn"})
    return torch.optim.Adam(groups, eps=1e-15)


def _xyz_lr(it: int, iters: int) -> float:
    """Log-linear decay 5e-3 → 5e-5 over the run (3DGS' expon_lr_func without delay)."""
    s = min(max(it / max(iters, 1), 0.0), 1.0)
    return math.exp((1 - s) * math.log(LR["xyz"]) + s * math.log(LR_XYZ_FINAL))


class _Fitter:
    def __init__(self, data: FitData, avatar: GaussianAvatar, cfg: FitConfig) -> None:
        self.data, self.template, self.cfg = data, avatar, cfg
        self.device = torch.device(cfg.device)
        self.poser = poser_for(avatar.head, self.device)
        self.faces = torch.as_tensor(np.asarray(avatar.head.faces, np.int64), device=self.device)
        self.bg = torch.tensor(cfg.background, dtype=torch.float32, device=self.device)
        neutral = torch.as_tensor(avatar.head.neutral(), device=self.device)
        self.extent = float((neutral - neutral.mean(0)).norm(dim=-1).max())
        self.k_face = face_scale(neutral, self.faces)  # [F]
        self.params = FitParams.from_avatar(
            avatar, data.motion.shape[0], data.motion.shape[1], self.device
        )
        self.opt = _optimizer(self.params)
        self.it = 0
        self.initial: dict[str, float] = {}
        self._reset_stats()

    def _reset_stats(self) -> None:
        n = self.params.binding.shape[0]
        self.grad_sum = torch.zeros(n, device=self.device)
        self.grad_count = torch.zeros(n, device=self.device)

    # --- one view ---------------------------------------------------------------------------
    def matte(self, cam: str, t: int, verts: torch.Tensor | None = None) -> torch.Tensor:
        if self.data.mattes is not None:
            return self.data.mattes[cam][t].to(self.device).float() / 255.0
        if verts is None:
            verts = self.poser.pose(self.data.motion[t : t + 1])[0]
        radius = max(1, round(self.cfg.size * self.cfg.matte_radius_share))
        return head_matte(verts, self.data.cameras[cam], radius, self.faces).to(self.device)

    def target(self, cam: str, t: int) -> torch.Tensor:
        frame = self.data.frames[cam][t].to(self.device)
        return target_image(frame, self.matte(cam, t), self.bg)

    def render(
        self,
        cam: str,
        t: int,
        refine: bool,
        correction: torch.Tensor | None = None,  # [1, C] instead of the frame's own
        params: FitParams | None = None,  # e.g. frozen Gaussians; default: the fitted ones
    ) -> tuple[torch.Tensor, torch.Tensor]:
        rgb, _alpha, means = render_view(
            self.poser,
            self.faces,
            self.data.motion,
            self.params if params is None else params,
            t,
            self.data.cameras[cam],
            self.bg,
            refine=refine,
            correction=correction,
        )
        return rgb, means

    # --- training ---------------------------------------------------------------------------
    def step(self) -> float:
        cfg, it = self.cfg, self.it
        rng = np.random.default_rng([cfg.seed, it])
        t = int(rng.choice(self.data.train))
        cam = self.data.camera_names[int(rng.integers(len(self.data.camera_names)))]
        for group in self.opt.param_groups:
            if group["name"] == "xyz":
                group["lr"] = _xyz_lr(it, cfg.iters)
        rgb, means = self.render(cam, t, cfg.refine_motion)
        g = self.params.gaussians
        loss = image_loss(rgb, self.target(cam, t))
        loss = (
            loss + LAMBDA_POS * position_loss(g["xyz"]) + LAMBDA_SCALE * scale_loss(g["log_scale"])
        )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if means.grad is not None:
            camera = self.data.cameras[cam]
            vg = view_space_grad(
                means.grad, means.detach(), camera.viewmat, float(camera.K[0, 0]), camera.width
            )
            seen = means.grad.abs().sum(-1) > 0
            self.grad_sum += torch.where(seen, vg, torch.zeros_like(vg))
            self.grad_count += seen.float()
        self.opt.step()
        self.it += 1
        if self._densify_now():
            self.densify()
        return float(loss.detach())

    def _densify_now(self) -> bool:
        cfg, it = self.cfg, self.it
        lo, hi = cfg.densify_from * cfg.iters, cfg.densify_until * cfg.iters
        return lo <= it <= hi and it % cfg.densify_every == 0

    def densify(self) -> None:
        g = self.params.gaussians
        mean_grad = self.grad_sum / self.grad_count.clamp_min(1.0)
        world = self.k_face[self.params.binding] * g["log_scale"].detach().exp().amax(-1)
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + self.it)
        old = dict(g)
        new, binding, source, fresh = densify_and_prune(
            {k: v.detach() for k, v in g.items()},
            self.params.binding,
            mean_grad,
            world,
            self.extent,
            gen,
            max_gaussians=self.cfg.max_gaussians,
        )
        leaves = {k: v.clone().requires_grad_(True) for k, v in new.items()}
        remap_adam(self.opt, old, leaves, source, fresh)
        self.params.gaussians, self.params.binding = leaves, binding
        self._reset_stats()

    # --- validation -------------------------------------------------------------------------
    def track_held_out(
        self, frames: list[int], steps: int, progress: Callable[[int, int], None] | None = None
    ) -> dict[int, torch.Tensor]:
        """Held-out ``frames`` → their photometrically tracked corrections ``[1, C]``: the
        Gaussians frozen, each frame's motion fitted to it (``heldout``)."""
        p = self.params
        frozen = FitParams(
            {k: v.detach() for k, v in p.gaussians.items()}, p.binding, p.units, p.turn
        )
        last = int(self.data.train[-1])
        start = p.correction(slice(last, last + 1))[0].detach()  # [C]
        targets: dict[tuple[str, int], torch.Tensor] = {}

        def render_pairs(t: int, corr: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
            pairs = []
            for cam in self.data.camera_names:
                if (cam, t) not in targets:
                    targets[cam, t] = self.target(cam, t)
                rgb, _ = self.render(cam, t, False, correction=corr, params=frozen)
                pairs.append((rgb, targets[cam, t]))
            return pairs

        return track_frames(frames, start, render_pairs, steps, progress)

    @torch.no_grad()
    def evaluate(
        self, max_views: int, tracked: dict[int, torch.Tensor] | None = None
    ) -> tuple[dict[str, float], list[tuple[np.ndarray, ...]]]:
        """Mean PSNR/SSIM/L1 over up to ``max_views`` held-out views (evenly spread), and the
        (truth, render) pairs; each frame with its ``tracked`` correction where given, else
        with the motion as tracked."""
        from dyad.services.renderer import image_metrics as im

        scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "l1": []}
        pairs: list[tuple[np.ndarray, ...]] = []
        for t, cam in self.held_out_views(max_views):
            corr = None if tracked is None else tracked.get(t)
            rgb, _ = self.render(cam, t, refine=False, correction=corr)
            pred = rgb.clamp(0, 1).cpu().numpy().astype(np.float64)
            truth = self.target(cam, t).cpu().numpy().astype(np.float64)
            scores["psnr"].append(im.psnr(pred, truth))
            scores["ssim"].append(im.ssim(pred, truth))
            scores["l1"].append(im.l1(pred, truth))
            pairs.append((truth, pred))
        return {k: float(np.mean(v)) for k, v in scores.items()}, pairs

    def held_out_views(self, max_views: int) -> list[tuple[int, str]]:
        views = self.data.views(self.data.held_out)
        pick = np.unique(np.linspace(0, len(views) - 1, min(max_views, len(views))).round())
        return [views[i] for i in pick.astype(int)]

    # --- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "it": self.it,
            "config": asdict(self.cfg),
            "head_config": self.template.head_config,
            "gaussians": {k: v.detach().cpu() for k, v in self.params.gaussians.items()},
            "binding": self.params.binding.cpu(),
            "units": self.params.units.detach().cpu(),
            "turn": self.params.turn.detach().cpu(),
            "optimizer": self.opt.state_dict(),
            "grad_sum": self.grad_sum.cpu(),
            "grad_count": self.grad_count.cpu(),
            "initial": self.initial,
        }

    def restore(self, state: dict[str, Any]) -> None:
        dev = self.device
        self.params = FitParams(
            {k: v.to(dev).clone().requires_grad_(True) for k, v in state["gaussians"].items()},
            state["binding"].to(dev),
            state["units"].to(dev).clone().requires_grad_(True),
            state["turn"].to(dev).clone().requires_grad_(True),
        )
        self.opt = _optimizer(self.params)
        self.opt.load_state_dict(state["optimizer"])
        self.it = int(state["it"])
        self.grad_sum, self.grad_count = state["grad_sum"].to(dev), state["grad_count"].to(dev)
        self.initial = dict(state.get("initial", {}))


def fit_avatar(
    data: FitData,
    avatar: GaussianAvatar,
    cfg: FitConfig,
    out: Path | None = None,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    scoring: Callable[[int, int], None] | None = None,
) -> FitResult:
    """Fit ``avatar``'s Gaussians (and the per-frame motion corrections) to ``data``.

    ``out``: the avatar directory to write (checkpoints in ``out/.fit/``); None keeps
    everything in memory. ``progress(it, iters, stats)`` is called after every iteration
    (stats: ``loss``, and ``psnr``/``ssim``/``l1``/``gaussians`` after a validation);
    ``scoring(done, total)`` after each held-out frame tracked for the final scores.
    """
    from .outputs import write_outputs

    cfg.check()
    if data.rig != avatar.rig:
        raise InvalidInput("--frames", f"motion rig {data.rig} is not the avatar's {avatar.rig}")
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    fitter = _Fitter(data, avatar, cfg)
    if resume:
        if out is None:
            raise InvalidInput("--resume", "needs an output directory")
        fitter.restore(ckpt.load(out, avatar.head_config))
        initial = fitter.initial
    else:
        initial, _ = fitter.evaluate(cfg.final_views)
        fitter.initial = initial
    stats: dict[str, float] = {}
    while fitter.it < cfg.iters:
        stats["loss"] = fitter.step()
        it = fitter.it
        if it % cfg.validate_every == 0 or it == cfg.iters:
            metrics, _ = fitter.evaluate(cfg.val_views)
            stats.update(metrics, gaussians=float(fitter.params.binding.shape[0]))
        if out is not None and (it % cfg.checkpoint_every == 0 or it == cfg.iters):
            ckpt.save(out, fitter.state())
        if progress is not None:
            progress(it, cfg.iters, dict(stats))
    untracked, pairs = fitter.evaluate(cfg.final_views)
    metrics, tracked = untracked, {}
    if cfg.track_steps > 0:
        frames = sorted({t for t, _cam in fitter.held_out_views(cfg.final_views)})
        tracked = fitter.track_held_out(frames, cfg.track_steps, scoring)
        metrics, pairs = fitter.evaluate(cfg.final_views, tracked)
    fitted = fitter.params.to_avatar(avatar)
    result = {
        **metrics,
        "held_out_tracking_steps": cfg.track_steps,
        "untracked": untracked,  # the same views with the held-out motion as tracked
        "iters": fitter.it,
        "gaussians": fitted.num_gaussians,
        "seconds": round(time.perf_counter() - start, 2),
        "device": cfg.device,
        "size": cfg.size,
        "held_out_views": len(pairs),
        "refined_motion": cfg.refine_motion,
        "initial": initial,  # the same held-out views before fitting
    }
    if out is not None:
        correction = fitter.params.correction().detach().clone()  # [T, C]
        for t, corr in tracked.items():
            correction[t] = corr[0]
        refined = data.motion + correction.cpu().numpy()
        write_outputs(out, fitted, result, pairs, refined, data.rig, data.folder.fps)
    return FitResult(fitted, result, out)
