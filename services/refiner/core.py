"""The refiner's entry points (no grpc or ray): CHAT §4.3 IFBR on motion parameters.

``refine_conversation(model, motion_a, motion_b, timeline, …)`` runs the blocks in CHAT's
order over a whole conversation, both speakers on one frame axis:

1. **SFBG** (``sfbg.py``): each speaker's silent segments infilled from their own neighbouring
   segments (without it: kept as given, or linearly interpolated — CHAT's ablation);
2. **RFBG** (``rfbg.py``): every segment of both speakers refined given the partner's turns
   ``k − 1 .. k + 1``, starting from the current motion noised to ``strength``;
3. **TCR** (``tcr.py``): CHAT eq. 10 at every segment boundary, identical for both speakers.

The segments are the timeline's turns (``turns.turn_spans``). The denoising of all windows of
a block goes through ``runner(jobs, options)`` (default: ``sampler.run_windows`` on this
process's model; the Ray deployment passes one that batches windows across requests with
``@serve.batch``). The result is clipped to the rig's valid ranges.

``RefinerCore`` adds checkpoints (bundled default, ``model_id`` under ``models_root``), the
settings' defaults and the artefact store. Audio conditions arrive as the mel features the audio
encoder stage computed (``features``); the refiner never encodes audio itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dyad import checkpoint
from dyad.domain import Identity, Relation, Segment, StoredFeatures, Timeline
from dyad.errors import InvalidInput
from dyad.features_io import FeatureShape, check_feature_shapes, fit_frames, load_feature_pair
from dyad.motion_io import load_motion, motion_bytes
from dyad.rigs import get_rig, num_frames
from dyad.services.refiner.denoiser import RefinerDenoiser, load_pretrained
from dyad.services.refiner.rfbg import apply_rfbg, rfbg_jobs
from dyad.services.refiner.sampler import SampleOptions, WindowJob, WindowResult, run_windows
from dyad.services.refiner.schedule import check_steps, check_strength
from dyad.services.refiner.settings import BLOCKS, PREFIX, RefinerSettings
from dyad.services.refiner.sfbg import apply_sfbg, interpolate_gaps, sfbg_jobs
from dyad.services.refiner.state import ConversationState, motion_style
from dyad.services.refiner.tcr import half_gaussian, tcr
from dyad.services.refiner.turns import boundaries, frame_conditions, identity_ids, turn_spans
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import SAMPLE_RATE

SILENT_FALLBACKS = ("keep", "interpolate")
BUNDLED = Path(__file__).resolve().parent / "checkpoints" / "refiner-arkit55-synth"
MAX_SPAN_FRAMES = 250  # longer turns are split (10 s)
NPZ = "application/x-npz"
_WANTS = "the refiner model"

Runner = Callable[[list[WindowJob], SampleOptions], list[WindowResult]]


def parse_blocks(blocks: str | Iterable[str] | None, field_name: str = "blocks") -> tuple[str, ...]:
    """Blocks in pipeline order from ``"sfbg,rfbg"`` or a sequence; None/empty → all."""
    items = blocks.split(",") if isinstance(blocks, str) else list(blocks or [])
    names = {b.strip().lower() for b in items if b.strip()}
    unknown = sorted(names - set(BLOCKS))
    if unknown:
        raise InvalidInput(field_name, f"unknown block(s) {unknown}; available: {list(BLOCKS)}")
    return tuple(b for b in BLOCKS if b in names) if names else BLOCKS


@dataclass(frozen=True)
class RefineOptions:
    """What to run and how; validated on construction."""

    blocks: tuple[str, ...] = BLOCKS
    steps: int = 50
    sampler: str = "ddim"
    guidance: float = 1.0
    strength: float = 0.5
    seed: int = 0
    tcr_window: int = 10
    context_frames: int = 75
    silent_fallback: str = "keep"  # without SFBG: keep the given motion, or interpolate

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", parse_blocks(self.blocks))
        check_steps(self.steps)
        check_strength(self.strength)
        half_gaussian(self.tcr_window)  # validates
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            raise InvalidInput("seed", f"expected an integer, got {self.seed!r}")
        if not isinstance(self.context_frames, int) or self.context_frames < 0:
            raise InvalidInput("context_frames", "expected an integer ≥ 0")
        if self.silent_fallback not in SILENT_FALLBACKS:
            raise InvalidInput("silent_fallback", f"one of {list(SILENT_FALLBACKS)}")
        SampleOptions(self.steps, self.sampler, self.guidance)  # validates those

    @property
    def needs_model(self) -> bool:
        return "sfbg" in self.blocks or "rfbg" in self.blocks

    @property
    def sample(self) -> SampleOptions:
        return SampleOptions(self.steps, self.sampler, float(self.guidance))


def _features(x: np.ndarray | None, name: str, t: int, dim: int) -> np.ndarray | None:
    if x is None:
        return None
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape != (t, dim):
        raise InvalidInput(name, f"expected [{t}, {dim}] features, got {list(arr.shape)}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise InvalidInput(name, "NaN or Inf values")
    return arr


def check_pair(
    motion_a: np.ndarray, motion_b: np.ndarray, rig: str, timeline: Timeline
) -> tuple[np.ndarray, np.ndarray]:
    """Both clips valid for ``rig`` with one frame count matching the timeline (± 1 s)."""
    r = get_rig(rig, field_name="rig")
    a = r.validate(motion_a, field_name="motion_a", check_range=False)
    b = r.validate(motion_b, field_name="motion_b", check_range=False)
    if b.shape[0] != a.shape[0]:
        raise InvalidInput("motion_b", f"{b.shape[0]} frames; motion_a has {a.shape[0]}")
    if a.shape[0] == 0:
        raise InvalidInput("motion_a", "no frames")
    if abs(num_frames(timeline.duration_s) - a.shape[0]) > 25:
        raise InvalidInput(
            "timeline.duration_s", f"{timeline.duration_s:.2f} s does not fit {a.shape[0]} frames"
        )
    return a, b


def refine_conversation(
    model: RefinerDenoiser | None,
    motion_a: np.ndarray,
    motion_b: np.ndarray,
    timeline: Timeline,
    *,
    rig: str,
    features_a: np.ndarray | None = None,
    features_b: np.ndarray | None = None,
    options: RefineOptions | None = None,
    runner: Runner | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Both speakers' refined motion ``([T, C], [T, C])`` (module doc). ``features_*``:
    ``[T, audio_dim]`` mel features of each speaker (both or neither)."""
    opts = options or RefineOptions()
    a, b = check_pair(motion_a, motion_b, rig, timeline)
    t = a.shape[0]
    if opts.needs_model:
        if model is None:
            raise InvalidInput("blocks", f"{list(opts.blocks)} need a denoiser model")
        if model.config.rig != rig:
            raise InvalidInput("motion_a.rig", f"the refiner model is for {model.config.rig}")
    if (features_a is None) != (features_b is None):
        raise InvalidInput(
            "features_b" if features_b is None else "features_a",
            "give both speakers' audio or neither",
        )
    fa = fb = None
    if model is not None:  # features only matter to the denoiser
        fa = _features(features_a, "features_a", t, model.config.audio_dim)
        fb = _features(features_b, "features_b", t, model.config.audio_dim)
    spans = turn_spans(timeline, t, min_frames=2 * opts.tcr_window, max_frames=MAX_SPAN_FRAMES)
    state = ConversationState(
        motion={"a": a.copy(), "b": b.copy()},
        frames=frame_conditions(timeline, t),
        audio=None if fa is None or fb is None else {"a": fa, "b": fb},
        ids={s: identity_ids(timeline, s) for s in ("a", "b")},
        style={"a": motion_style(a), "b": motion_style(b)},
        spans=spans,
    )
    if model is not None and runner is None:
        runner = lambda jobs, o: run_windows(model, jobs, o)  # noqa: E731
    if "sfbg" in opts.blocks:
        assert runner is not None
        jobs, places = sfbg_jobs(state, context=opts.context_frames, seed=opts.seed)
        apply_sfbg(state, places, runner(jobs, opts.sample))
    elif opts.silent_fallback == "interpolate":
        interpolate_gaps(state)
    if "rfbg" in opts.blocks:
        assert runner is not None
        jobs, places = rfbg_jobs(
            state, context=opts.context_frames, strength=opts.strength, seed=opts.seed
        )
        apply_rfbg(state, places, runner(jobs, opts.sample))
    out_a, out_b = state.motion["a"], state.motion["b"]
    if "tcr" in opts.blocks:
        out_a, out_b = tcr(out_a, out_b, boundaries(spans), opts.tcr_window)
    r = get_rig(rig)
    return r.clip(out_a), r.clip(out_b)


# -- the service's core -------------------------------------------------------------------------
@dataclass(frozen=True)
class RefinedPair:
    motion_a: np.ndarray  # [T, C]
    motion_b: np.ndarray  # [T, C]
    rig: str
    options: RefineOptions = field(default_factory=RefineOptions)
    ref_a: ArtifactRef | None = None
    ref_b: ArtifactRef | None = None


def resolve_model_dir(settings: RefinerSettings, model_id: str = "") -> tuple[Path, str]:
    """The directory for ``model_id`` ("" → the default) and the setting that names it."""
    return checkpoint.resolve_model_dir(
        model_id,
        default=BUNDLED,
        configured=settings.model_dir,
        models_root=settings.models_root,
        prefix=PREFIX,
    )


class RefinerCore:
    """Checkpoints (a small LRU), defaults from the settings, conversation refinement."""

    def __init__(
        self, store: ArtifactStore | None, settings: RefinerSettings, *, max_models: int = 3
    ) -> None:
        self.store = store
        self.settings = settings
        self._models: checkpoint.ModelCache[RefinerDenoiser] = checkpoint.ModelCache(max_models)

    def model(self, model_id: str = "") -> RefinerDenoiser:
        directory, setting = resolve_model_dir(self.settings, model_id)
        return self._models.get(
            str(directory),
            lambda: load_pretrained(directory, setting=setting, device=self.settings.device),
        )

    def warm_up(self) -> None:
        """Load the default checkpoint and refine two seconds of rest (fast preset)."""
        model = self.model()
        tl = Timeline(
            SAMPLE_RATE,
            2.0,
            {"a": Identity("A"), "b": Identity("B")},
            Relation(),
            "studio",
            (Segment("a", "sentence", "hi", 0.2, 1.8),),
        )
        rest = get_rig(model.config.rig).neutral(50)
        refine_conversation(
            model, rest, rest, tl, rig=model.config.rig, options=RefineOptions(steps=2)
        )

    def options(
        self,
        *,
        blocks: str | Iterable[str] | None = None,
        steps: int | None = None,
        seed: int = 0,
        strength: float | None = None,
        guidance: float | None = None,
        sampler: str | None = None,
        silent_fallback: str = "keep",
    ) -> RefineOptions:
        s = self.settings
        return RefineOptions(
            blocks=parse_blocks(blocks),
            steps=s.steps if steps is None else steps,
            sampler=sampler or s.sampler,
            guidance=s.guidance if guidance is None else guidance,
            strength=s.strength if strength is None else strength,
            seed=seed,
            tcr_window=s.tcr_window,
            context_frames=s.context_frames,
            silent_fallback=silent_fallback,
        )

    def refine_arrays(
        self,
        motion_a: np.ndarray,
        motion_b: np.ndarray,
        timeline: Timeline,
        *,
        rig: str,
        features: tuple[np.ndarray, np.ndarray] | None = None,
        model_id: str = "",
        runner: Runner | None = None,
        **kw: Any,
    ) -> RefinedPair:
        """Refine arrays; ``features``: both speakers' ``[T', audio_dim]`` mel features (fitted
        to the motion's frames); ``kw`` are ``options()``'s (blocks, steps, seed, …)."""
        opts, a, b = self._check(motion_a, motion_b, timeline, rig, kw)
        model = self.model(model_id) if opts.needs_model else None
        fa = fb = None
        if features is not None and model is not None:
            shapes = (FeatureShape.of(features[0]), FeatureShape.of(features[1]))
            dim = model.config.audio_dim
            check_feature_shapes(shapes, a.shape[0], dim, field="features", wants=_WANTS)
            fa, fb = (fit_frames(f, a.shape[0]) for f in features)
        ra, rb = refine_conversation(
            model,
            a,
            b,
            timeline,
            rig=rig,
            features_a=fa,
            features_b=fb,
            options=opts,
            runner=runner,
        )
        return RefinedPair(ra, rb, rig, opts)

    def _check(
        self,
        motion_a: np.ndarray,
        motion_b: np.ndarray,
        timeline: Timeline,
        rig: str,
        kw: dict[str, Any],
    ) -> tuple[RefineOptions, np.ndarray, np.ndarray]:
        opts = self.options(**kw)
        if timeline.duration_s > self.settings.max_duration_s:
            raise InvalidInput(
                "timeline.duration_s",
                f"longer than {self.settings.max_duration_s:g} s ({PREFIX}MAX_DURATION_S)",
            )
        a, b = check_pair(motion_a, motion_b, rig, timeline)
        return opts, a, b

    def refine(
        self,
        motion_a: ArtifactRef,
        motion_b: ArtifactRef,
        timeline: Timeline,
        *,
        features: tuple[StoredFeatures, StoredFeatures] | None = None,
        model_id: str = "",
        runner: Runner | None = None,
        **kw: Any,
    ) -> RefinedPair:
        """Artefacts in, motion files out (stored content-addressed); ``features`` are the
        audio encoder's (checked before they are downloaded); ``kw`` as ``options()``'s."""
        if self.store is None:
            raise InvalidInput("store", "no artefact store configured")
        clips = []
        for name, ref in (("motion_a", motion_a), ("motion_b", motion_b)):
            clips.append(
                load_motion(self.store.get_bytes(ref if ref.sha256 else ref.uri), field=name)
            )
        if clips[1].rig.name != clips[0].rig.name:
            raise InvalidInput(
                "motion_b.rig", f"{clips[1].rig.name}; motion_a is {clips[0].rig.name}"
            )
        rig = clips[0].rig.name
        opts, a, b = self._check(clips[0].motion, clips[1].motion, timeline, rig, dict(kw))
        arrays = None
        if features is not None and opts.needs_model:
            dim = self.model(model_id).config.audio_dim
            arrays = load_feature_pair(self.store, features, a.shape[0], dim, wants=_WANTS)
        pair = self.refine_arrays(
            a, b, timeline, rig=rig, features=arrays, model_id=model_id, runner=runner, **kw
        )
        ref_a = self.store.put_bytes(motion_bytes(pair.motion_a, pair.rig), NPZ)
        ref_b = self.store.put_bytes(motion_bytes(pair.motion_b, pair.rig), NPZ)
        return RefinedPair(pair.motion_a, pair.motion_b, pair.rig, pair.options, ref_a, ref_b)
