"""RSATalker stage 3 (§3.6 eq. 13): the motion model and the avatar trained end to end.

``train_joint(data_dir, out_dir, …)``: per step, a batch of corpus windows goes through the
DualTalk + social motion model (``services/motion/neural``) to predicted rig motion; a few of
its frames pose the human head, bind the avatar's Gaussians with the offsetnet's corrections
and are splatted (``render.py``). The loss is

    L_joint = L_mesh + 0.5·L_image + 0.01·L_pos + 0.01·L_offset

- ``L_mesh`` (eq. 9, stage 1's objective): the motion objective of ``dyad train motion``
  (``objective.dualtalk_loss``: per-group MSE + velocity MSE on the rig parameters, plus the
  variation latent's KL for a model with one). Eq. 9 compares FLAME parameters, not vertices,
  and so does this: arkit55 parameters, the rig the human head renders.
- ``L_image`` (eq. 10): ``(1 − 0.2)·L1 + 0.2·(1 − SSIM)`` between the frame rendered from the
  prediction and the same frame rendered from the corpus motion with the avatar as it was
  before training (a synthetic corpus has no video: this is its "target video"; a corpus cut
  from real footage would use the video's frames through the avatar's camera instead).
- ``L_pos`` (eq. 11): the hinge ``mean(relu(‖μ_c‖ − 1))`` on the Gaussians' local positions.
- ``L_offset`` (eq. 12): the same hinge on the offsets ``c`` measured in the units of their
  triangle (``c / k``), so that ε_offset = 1 means "one triangle", as ε_pos does; in metres
  ε = 1 would never bind.

Trained (eq. 13, "except for the parameters of the speech encoder, all other model
parameters"): the motion model without its speech encoder — ``joint_encoder.audio_encoder1/2``
(wav2vec2, waveform models) and ``joint_encoder.audio_projection`` (the learned part of the
speech features of a features model) are frozen — i.e. the social module, the motion
encoder, the temporal, interaction and synthesis modules; the avatar's Gaussians, colour and
its offsetnet. The run starts from a stage-1 motion model (``motion_model``, recommended) or a
fresh one, and a stage-2 avatar (``avatar``) or a new human-head avatar of ``identity``.

Output (written into a temporary directory beside ``out_dir``, renamed when complete):
``config.json`` + ``model.safetensors`` (the motion model, raw inputs, as ``dyad train
motion`` writes it), ``avatar/`` (the avatar with its offsetnet), ``train_log.jsonl`` and
``train_report.json`` (losses before and after on a fixed probe batch). No resume.

Composition root: imports the motion service's model, the renderer's avatars and rasteriser,
and — root to root — the capture root's torch posing and stage-2 losses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from dyad.errors import InvalidInput
from dyad.services.capture.fitting.losses import (
    LAMBDA_OFFSET,
    LAMBDA_POS,
    image_loss,
    offset_loss,
    position_loss,
)
from dyad.services.motion.neural.config import MotionModelConfig
from dyad.services.motion.neural.model import DualTalkModel, load_pretrained, save_pretrained
from dyad.services.training.features import ensure_features
from dyad.services.training.motion.data import Clip, load_clips, make_batch, sample_index
from dyad.services.training.motion.objective import Standardizer, dualtalk_loss, loss_groups
from dyad.services.training.runs import append_log, reproducible_cpu

from .render import AvatarRenderer
from .standardise import stage1_norm

LAMBDA_IMAGE = 0.5  # eq. 13's λ1 (λ2 = λ3 = 0.01 are the capture losses')
RIG = "arkit55"  # the human head's rig
LOG = "train_log.jsonl"
PROBE_WINDOWS = 4  # the fixed batch the report's before/after losses are measured on
SPEECH_ENCODER = ("joint_encoder.audio_encoder1.", "joint_encoder.audio_encoder2.")
SPEECH_PROJECTION = "joint_encoder.audio_projection."


def speech_encoder_names(model: DualTalkModel) -> list[str]:
    """Parameter names of the frozen speech encoder (module docstring)."""
    frozen = (*SPEECH_ENCODER, SPEECH_PROJECTION)
    return [n for n, _ in model.named_parameters() if n.startswith(frozen)]


@dataclass
class JointReport:
    out_dir: str
    steps: int
    samples: int  # training windows (× 2 sides)
    trainable: dict[str, int]  # parameters: motion, avatar
    frozen: int  # speech-encoder parameters
    before: dict[str, float]  # probe-batch losses before training
    after: dict[str, float]  # … and after
    first: dict[str, float]  # mean training losses of the first ``probe_steps`` steps
    last: dict[str, float]  # … and of the last
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(name, f"expected a positive integer, got {value!r}")
    return value


def _check_inputs(
    data_dir: Path, out_dir: Path, rig: str, motion_model: Path | None, avatar: Path | None
) -> None:
    """Refuse bad input before anything heavy (features, the avatar, the models)."""
    if rig != RIG:
        raise InvalidInput("rig", f"joint training renders the human head, whose rig is {RIG}")
    if not (data_dir / "train").is_dir():
        raise InvalidInput("data", f"{data_dir} has no train/ split (a DualTalk-layout corpus)")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise InvalidInput("out", f"{out_dir} exists and is not an empty directory")
    if motion_model is not None:
        cfg = motion_model / "config.json"
        if not cfg.is_file():
            raise InvalidInput("motion_model", f"{motion_model} has no config.json")
        d = json.loads(cfg.read_text())
        got = (d.get("rig"), d.get("social"), d.get("audio_input", "features"))
        if got != (RIG, True, "features"):
            raise InvalidInput(
                "motion_model",
                f"needs a social {RIG} model on corpus features, got (rig, social, audio_input)"
                f" = {got}",
            )
    if avatar is not None:
        if not (avatar / "config.json").is_file():
            raise InvalidInput("avatar", f"{avatar} has no config.json (an avatar directory)")
        kind = json.loads((avatar / "config.json").read_text()).get("head", {}).get("kind")
        if kind != "human":
            raise InvalidInput("avatar", f"joint training poses the human head, not {kind!r}")


def _load_avatar(avatar: Path | None, identity: str) -> Any:
    from dyad.services.renderer.avatars.avatar import create_avatar, load_avatar

    return create_avatar(identity, head="human") if avatar is None else load_avatar(avatar)


def _losses(
    model: DualTalkModel,
    norm: Standardizer,
    renderer: AvatarRenderer,
    target_renderer: AvatarRenderer,
    clips: list[Clip],
    items: list[tuple[int, int, int]],
    frames: list[tuple[int, int]],  # (sample in items, frame in window)
    window: int,
    groups: dict[str, list[int]],
) -> dict[str, torch.Tensor]:
    """``L_joint`` of one batch (``joint``) and its parts ``mesh``, ``image``, ``pos``,
    ``offset`` (module docstring), scalars."""
    batch = make_batch(clips, items, window)
    pred, kl, _ = norm.forward(model, batch)  # [B, W, 55]
    l_mesh, _parts = dualtalk_loss(pred, batch["target"], groups, kl, 1e-3, 0.05)
    l_image, l_offset = pred.new_zeros(()), pred.new_zeros(())
    for i, f in frames:
        k, start, _side = items[i]
        rel = clips[k].relation
        assert rel is not None  # checked when the run starts
        at = torch.tensor([start + f])
        img, c_units = renderer.render(pred[i, f : f + 1], rel, at)
        with torch.no_grad():
            want, _ = target_renderer.render(batch["target"][i, f : f + 1], rel, at)
        l_image = l_image + image_loss(img[0], want[0]) / len(frames)
        l_offset = l_offset + offset_loss(c_units) / len(frames)
    l_pos = position_loss(renderer.xyz)
    total = l_mesh + LAMBDA_IMAGE * l_image + LAMBDA_POS * l_pos + LAMBDA_OFFSET * l_offset
    return {"joint": total, "mesh": l_mesh, "image": l_image, "pos": l_pos, "offset": l_offset}


def _floats(parts: dict[str, torch.Tensor]) -> dict[str, float]:
    return {k: float(v.detach()) for k, v in parts.items()}


def train_joint(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    rig: str = RIG,
    motion_model: str | Path | None = None,
    avatar: str | Path | None = None,
    identity: str = "",
    config: dict[str, Any] | None = None,
    steps: int = 200,
    batch_size: int = 4,
    window: int = 50,
    hop: int = 25,
    frames_per_step: int = 2,
    image_size: int = 96,
    lr: float = 1e-4,
    avatar_lr: float = 1e-3,
    offset_lr: float = 1e-5,
    seed: int = 0,
    probe_steps: int = 5,
    progress: bool = True,
    threads: int | None = None,
) -> JointReport:
    """Train stage 3 on ``data_dir`` into ``out_dir`` (module docstring). ``config`` sets the
    ``MotionModelConfig`` of a fresh motion model (without ``motion_model``); ``lr`` is the
    motion model's Adam rate, ``avatar_lr`` the Gaussians' (triangle units) and ``offset_lr``
    the offsetnet's (its output is in metres, and Adam moves every weight by about the rate
    per step: at the Gaussians' rate the offsets outgrew the millimetre triangles within ten
    steps)."""
    t0 = time.perf_counter()
    data, out = Path(data_dir), Path(out_dir)
    for name, v in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("window", window),
        ("hop", hop),
        ("frames_per_step", frames_per_step),
        ("probe_steps", probe_steps),
    ):
        _positive(name, v)
    if not 16 <= _positive("image_size", image_size) <= 512:
        raise InvalidInput("image_size", f"expected 16–512 px, got {image_size}")
    for name, x in (("lr", lr), ("avatar_lr", avatar_lr), ("offset_lr", offset_lr)):
        if not (isinstance(x, int | float) and 0 < x < math.inf):
            raise InvalidInput(name, f"expected a positive number, got {x!r}")
    mm = None if motion_model is None else Path(motion_model)
    if avatar is not None and identity:
        raise InvalidInput("identity", "names a new avatar: not with an existing avatar")
    _check_inputs(data, out, rig, mm, None if avatar is None else Path(avatar))
    ensure_features(data, ("train",), progress=progress)
    clips = load_clips(data, "train", RIG)
    index = sample_index(clips, window, hop)
    if not index:
        raise InvalidInput("data", f"no train pair in {data} has {window} frames")
    if any(c.relation is None for c in clips):
        raise InvalidInput("data", f"{data} lacks relations (metadata.jsonl): stage 3 needs them")
    groups = loss_groups(RIG)

    with reproducible_cpu(threads):
        torch.manual_seed(seed)
        if mm is None:
            cfg = MotionModelConfig(**{**(config or {}), "rig": RIG, "social": True})
            model, norm = DualTalkModel(cfg), Standardizer.fit(clips)
        else:
            model = load_pretrained(mm, setting="motion_model")
            norm = stage1_norm(model, clips)
        av = _load_avatar(None if avatar is None else Path(avatar), identity)
        renderer = AvatarRenderer(av, image_size)
        target_renderer = AvatarRenderer(av, image_size).requires_grad_(False)
        frozen = set(speech_encoder_names(model))
        for name, p in model.named_parameters():
            p.requires_grad_(name not in frozen)
        frozen_before = {n: p.detach().clone() for n, p in model.named_parameters() if n in frozen}
        motion_params = [p for p in model.parameters() if p.requires_grad]
        gaussians = [p for n, p in renderer.named_parameters() if not n.startswith("offsetnet.")]
        opt = torch.optim.Adam(
            [
                {"params": motion_params, "lr": lr},
                {"params": gaussians, "lr": avatar_lr},
                {"params": list(renderer.offsetnet.parameters()), "lr": offset_lr},
            ]
        )
        gen = torch.Generator().manual_seed(seed)

        def pick_frames(n_items: int) -> list[tuple[int, int]]:
            picks = torch.randint(0, window, (frames_per_step,), generator=gen).tolist()
            return [(j % n_items, f) for j, f in enumerate(picks)]

        # The probe: the first windows, one random frame of each rendered (eval mode, no grad).
        probe_items = index[:PROBE_WINDOWS]
        probe_frames = [
            (i, int(torch.randint(0, window, (1,), generator=gen))) for i in range(len(probe_items))
        ]

        def probe() -> dict[str, float]:
            model.eval()
            with torch.no_grad():
                parts = _losses(
                    model,
                    norm,
                    renderer,
                    target_renderer,
                    clips,
                    probe_items,
                    probe_frames,
                    window,
                    groups,
                )
            model.train()
            return _floats(parts)

        before = probe()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        rows: list[dict[str, float]] = []
        try:
            bar = tqdm(total=steps, desc="train joint", disable=not progress, file=sys.stderr)
            with bar:
                for step in range(steps):
                    order = torch.randperm(len(index), generator=gen)[:batch_size].tolist()
                    items = [index[i] for i in order]
                    terms = _losses(
                        model,
                        norm,
                        renderer,
                        target_renderer,
                        clips,
                        items,
                        pick_frames(len(items)),
                        window,
                        groups,
                    )
                    opt.zero_grad(set_to_none=True)
                    terms["joint"].backward()
                    opt.step()
                    parts = _floats(terms)
                    rows.append(parts)
                    append_log(tmp / LOG, {"kind": "step", "step": step + 1, **parts})
                    bar.update(1)
                    bar.set_postfix(mesh=f"{parts['mesh']:.4f}", image=f"{parts['image']:.4f}")
            after = probe()
            for n, p in model.named_parameters():
                if n in frozen and not torch.equal(p.detach(), frozen_before[n]):
                    raise AssertionError(f"the speech encoder changed: {n}")  # a bug, not input
            save_pretrained(norm.folded(model), tmp)
            renderer.to_avatar().save(tmp / "avatar")
            k = min(probe_steps, len(rows))
            report = JointReport(
                str(out),
                steps,
                len(index),
                {
                    "motion": sum(p.numel() for p in motion_params),
                    "avatar": sum(p.numel() for p in renderer.parameters()),
                },
                sum(p.numel() for p in frozen_before.values()),
                before,
                after,
                _mean(rows[:k]),
                _mean(rows[-k:]),
                time.perf_counter() - t0,
            )
            (tmp / "train_report.json").write_text(json.dumps(report.to_dict(), indent=1) + "\n")
            if out.is_dir():
                out.rmdir()  # empty (checked at the start): the rename needs the name free
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # never a half-written output directory
            raise
    return report


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


# -- CLI (the parser is in ``cli.py``, which imports nothing heavy) ----------------------------
def _cli(args: argparse.Namespace) -> int:
    if args.threads is not None and not 1 <= args.threads <= 256:
        raise InvalidInput("--threads", "between 1 and 256")
    report = train_joint(
        args.data,
        args.out,
        rig=args.rig,
        motion_model=args.motion_model,
        avatar=args.avatar,
        identity=args.identity,
        config={"feature_dim": args.feature_dim},
        steps=args.steps,
        batch_size=args.batch_size,
        window=args.window,
        frames_per_step=args.frames_per_step,
        image_size=args.size,
        lr=args.lr,
        avatar_lr=args.avatar_lr,
        offset_lr=args.offset_lr,
        seed=args.seed,
        threads=args.threads,
    )
    print(json.dumps(report.to_dict(), sort_keys=True))
    return 0
