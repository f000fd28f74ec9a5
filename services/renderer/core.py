"""``RendererCore``: avatars from identities or stored directories, motion → videos.

Pure domain code (no grpc, no ray): the servicer, the Ray deployment, the CLI and the
orchestrator call it. Artefacts in and out through one ``ArtifactStore`` (DESIGN §4).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dyad.checkpoint import ModelCache
from dyad.errors import DyadError, FailedPrecondition, InvalidInput
from dyad.media.audio import read_wav, resample, to_mono
from dyad.media.image import png_bytes
from dyad.motion_io import load_motion
from dyad.observability import render_metrics
from dyad.rigs import get_rig, num_frames
from dyad.services.renderer.avatars.avatar import GaussianAvatar, create_avatar
from dyad.services.renderer.avatars.stored import (
    avatar_key,
    load_local_avatar,
    load_stored_avatar,
    store_avatar,
)
from dyad.services.renderer.backdrop import backdrop
from dyad.services.renderer.layout import active_speaker, check_layout, compose
from dyad.services.renderer.raster import resolve_backend
from dyad.services.renderer.settings import RendererSettings
from dyad.services.renderer.video import (
    HeadTrack,
    VideoOutput,
    head_camera,
    head_frames,
    parse_colour,
    render_videos,
)
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.timebase import FPS
from dyad.timebase import SAMPLE_RATE as AUDIO_RATE

HEAD_MODELS = ("procedural", "human", "flame")


def check_pair(motion_a: np.ndarray, rig_a: str, motion_b: np.ndarray | None, rig_b: str) -> None:
    """Both clips valid for their rigs — finite and inside every channel's range, as the
    refiner and ``motion_io`` require — and equally long (fields named for the client)."""
    get_rig(rig_a).validate(motion_a, field_name="motion_a", check_range=True)
    if motion_b is None:
        return
    get_rig(rig_b).validate(motion_b, field_name="motion_b", check_range=True)
    if rig_a != rig_b:
        raise InvalidInput("motion_b.rig", f"{rig_b} differs from motion_a's {rig_a}")
    if motion_a.shape[0] != motion_b.shape[0]:
        raise InvalidInput(
            "motion_b.num_frames", f"{motion_b.shape[0]} frames, motion_a has {motion_a.shape[0]}"
        )


@dataclass
class RenderArgs:
    """One render request in domain terms (what ``RenderVideo`` / ``StreamFrames`` carry)."""

    motion: tuple[ArtifactRef, ArtifactRef | None]
    audio: ArtifactRef | None  # the composite's soundtrack: stereo mix or mono
    tracks: tuple[ArtifactRef, ArtifactRef] | None  # each speaker's own track
    identities: dict[str, Any]
    avatar_uris: dict[str, str]
    layout: str
    head_px: int
    per_speaker: bool
    relation: tuple[bool, bool]
    environment: str = ""  # the sound environment: its backdrop behind the heads; "" plain


class FrameCounter(Protocol):
    """Counts rendered frames (``dyad_render_frames_total``; Ray's counter in a replica)."""

    def inc(self, amount: float = 1) -> None: ...


def backend_label(backend: str) -> str:
    """The rasteriser ``backend`` resolves to (``auto`` → gsplat or cpu), for metric labels."""
    try:
        return resolve_backend(backend)
    except DyadError:  # reported when a render asks for it, not here
        return backend


class RendererCore:
    def __init__(
        self,
        store: ArtifactStore | None,
        settings: RendererSettings,
        frames: FrameCounter | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        #: Conversation frames rendered (one per 40 ms of conversation, whatever the videos).
        self.frames = frames or render_metrics().frames.labels(backend_label(settings.backend))
        self.background = parse_colour(settings.background, "DYAD_RENDER_BACKGROUND")
        self._avatars: ModelCache[GaussianAvatar] = ModelCache(settings.avatar_cache)

    # --- avatars ---------------------------------------------------------------------------
    def _head_model(self, rig: str) -> str:
        return "flame" if rig == "flame56" else self.settings.head

    def avatar(
        self,
        identity: Any = "",
        *,
        avatar_uri: str = "",
        rig: str = "arkit55",
        seed: int = 0,
        field: str = "avatar_uri",
    ) -> GaussianAvatar:
        """A stored avatar or a default one generated from ``identity`` for ``rig``; cached per
        replica.

        With a store, ``avatar_uri`` is resolved only through the store's key rules (a key or a
        URI of the store naming the avatar's prefix, e.g. ``avatars/<hash>``): host paths and
        ``file://`` outside the store are InvalidInput naming ``field``, never looked at. Without
        a store (the ``dyad render`` CLI, the operator's own files) it is a local directory.
        """
        if avatar_uri:
            av = self.stored_avatar(avatar_uri, field)
        else:
            key = json.dumps(
                [identity.to_dict() if hasattr(identity, "to_dict") else str(identity), rig, seed]
            )
            av = self._avatars.get(
                key, lambda: self._new_avatar(identity, self._head_model(rig), seed)
            )
        # Checked on every request: a cached avatar may be asked for with another rig.
        if av.rig != rig:
            raise InvalidInput(field, f"the avatar is posed by {av.rig}, the clip is {rig}")
        return av

    def stored_avatar(self, avatar_uri: str, field: str = "avatar_uri") -> GaussianAvatar:
        """The avatar ``avatar_uri`` names (see ``avatar``), loaded once per replica."""
        if self.store is not None:
            key = "store:" + self.avatar_key(avatar_uri, field)
        else:
            key = "dir:" + avatar_uri
        return self._avatars.get(key, lambda: self._load_avatar(avatar_uri, field))

    def avatar_key(self, avatar_uri: str, field: str = "avatar_uri") -> str:
        """The store key of a client-named avatar prefix (``avatars.stored.avatar_key``)."""
        if self.store is None:
            raise InvalidInput(field, "no artefact store configured")
        return avatar_key(self.store, avatar_uri, field)

    def _new_avatar(self, identity: Any, head: str, seed: int) -> GaussianAvatar:
        if head == "flame" and self.settings.flame_model is None:
            raise FailedPrecondition(
                "flame56 motion needs a FLAME avatar: set DYAD_RENDER_FLAME_MODEL to FLAME 2020's "
                "generic_model.pkl (user-supplied), or animate with the arkit55 rig"
            )
        return create_avatar(identity, head=head, flame_model=self.settings.flame_model, seed=seed)

    def _load_avatar(self, uri: str, field: str) -> GaussianAvatar:
        if self.store is None:  # the CLI: the operator's own directory
            return load_local_avatar(uri, field)
        key = self.avatar_key(uri, field)
        return load_stored_avatar(self.store, key, field, self.settings.max_avatar_bytes)

    def create_avatar(
        self, identity: Any, *, head_model: str = "procedural", seed: int = 0
    ) -> tuple[str, ArtifactRef]:
        """Build an avatar, store it under ``avatars/<hash>/`` and a front-view preview PNG."""
        if head_model not in HEAD_MODELS:
            raise InvalidInput("head_model", f"expected one of {', '.join(HEAD_MODELS)}")
        if self.store is None:
            raise InvalidInput("store", "no artefact store configured")
        av = self._new_avatar(identity, head_model, seed)
        uri = store_avatar(self.store, av)
        return uri, self.store.put_bytes(png_bytes(self.preview(av)), "image/png")

    def preview(
        self, av: GaussianAvatar, head_px: int | None = None, environment: str = ""
    ) -> np.ndarray:
        """A neutral front view ``[h, h, 3]`` uint8 (over ``environment``'s backdrop if given)."""
        rest = np.zeros((1, len(get_rig(av.rig).channels)), np.float32)
        px = head_px or self.settings.head_px
        track = HeadTrack(av, rest, head_camera("front", px))
        bg = self.backgrounds(environment, px, ("front",))
        return next(
            head_frames(
                track,
                background=bg["front"] if isinstance(bg, dict) else bg,
                backend=self.settings.backend,
            )
        )

    def backgrounds(
        self, environment: str, head_px: int, sides: tuple[str, ...] = ("a", "b")
    ) -> tuple[float, float, float] | dict[str, np.ndarray]:
        """What goes behind the heads: with ``DYAD_RENDER_BACKDROP=environment`` and an
        ``environment``, its plate per camera side; else the plain background colour."""
        if self.settings.backdrop == "environment" and environment:
            return {s: backdrop(environment, head_px, s) for s in sides}
        return self.background

    # --- rendering ---------------------------------------------------------------------------
    def _heads(
        self,
        motion: dict[str, np.ndarray],
        rig: str,
        identities: dict[str, Any],
        avatar_uris: dict[str, str],
        head_px: int,
    ) -> dict[str, HeadTrack]:
        if max(m.shape[0] for m in motion.values()) > self.settings.max_duration_s * FPS:
            raise InvalidInput("motion_a", f"longer than {self.settings.max_duration_s:g} s")
        return {
            s: HeadTrack(
                self.avatar(
                    identities.get(s, ""),
                    avatar_uri=avatar_uris.get(s, ""),
                    rig=rig,
                    seed=ord(s),
                    field=f"avatar_{s}_uri",
                ),
                m,
                head_camera(s, head_px),
            )
            for s, m in motion.items()
        }

    def render_conversation(
        self,
        motion_a: np.ndarray,
        motion_b: np.ndarray | None,
        rig: str,
        out_dir: Path,
        *,
        track_a: np.ndarray | None = None,
        track_b: np.ndarray | None = None,
        mix: np.ndarray | None = None,
        identities: dict[str, Any] | None = None,
        avatar_uris: dict[str, str] | None = None,
        layout: str = "",
        head_px: int = 0,
        singles: bool = True,
        relation: tuple[bool, bool] = (False, True),
        environment: str = "",
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Path]:
        """Write ``conversation.mp4`` (the layout, with ``mix`` — ``[N, 2]`` or ``[N]`` — or the
        two tracks as a stereo pair) and, with ``singles``, ``speaker_a.mp4`` /
        ``speaker_b.mp4`` (each with its own track) into ``out_dir``.

        Clips ``[T, C]`` of ``rig`` (``motion_b`` None: A alone, ``single`` layout only);
        tracks ``[N]`` float at 16 kHz; no audio at all gives silent videos. ``environment``
        (a sound environment) picks the backdrop behind the heads; "" the plain colour.
        """
        layout = layout or self.settings.layout
        head_px = head_px or self.settings.head_px
        check_layout(layout, head_px)
        check_pair(motion_a, rig, motion_b, rig)
        if motion_b is None and (layout != "single" or singles):
            raise InvalidInput(
                "motion_b", f"required for the {layout} layout and per-speaker videos"
            )
        t = motion_a.shape[0]
        if (track_a is None) != (track_b is None):
            raise InvalidInput("track_b", "give both tracks or none")
        if singles and track_a is None and mix is not None:
            raise InvalidInput("track_a", "per-speaker videos need each speaker's track")
        if mix is None and track_a is not None and track_b is not None:
            n = min(track_a.shape[0], track_b.shape[0])
            mix = np.stack([track_a[:n], track_b[:n]], axis=1)
        if mix is not None and abs(num_frames(mix.shape[0] / AUDIO_RATE) - t) > 1:
            raise InvalidInput(
                "audio", f"{mix.shape[0] / AUDIO_RATE:.2f} s of audio for {t} frames"
            )
        clips = {"a": motion_a} if motion_b is None else {"a": motion_a, "b": motion_b}
        heads = self._heads(clips, rig, identities or {}, avatar_uris or {}, head_px)
        out_dir.mkdir(parents=True, exist_ok=True)
        active = None
        if track_a is not None and track_b is not None:
            active = active_speaker(track_a, track_b, t, AUDIO_RATE)
        outputs = [VideoOutput(out_dir / "conversation.mp4", layout, mix, "a", active)]
        if singles:
            outputs += [
                VideoOutput(out_dir / "speaker_a.mp4", "single", track_a, "a"),
                VideoOutput(out_dir / "speaker_b.mp4", "single", track_b, "b"),
            ]
        render_videos(
            heads,
            outputs,
            audio_rate=AUDIO_RATE,
            background=self.backgrounds(environment, head_px),
            backend=self.settings.backend,
            crf=self.settings.crf,
            relation=relation,
            progress=progress,
        )
        self.frames.inc(t)
        return {o.path.stem: o.path for o in outputs}

    def _wav(self, ref: ArtifactRef, field: str) -> np.ndarray:
        assert self.store is not None
        data = self.store.get_bytes(ref, field=field)
        try:
            x, rate = read_wav(data)
        except InvalidInput as e:
            raise InvalidInput(field, e.reason) from None
        return resample(x, rate, AUDIO_RATE) if rate != AUDIO_RATE else x

    def _motion(self, ref: ArtifactRef, field: str) -> tuple[np.ndarray, str]:
        assert self.store is not None
        clip = load_motion(self.store.get_bytes(ref, field=f"{field}.artifact"), field=field)
        if clip.fps != FPS:
            raise InvalidInput(f"{field}.fps", f"{clip.fps}; the renderer draws {FPS} fps")
        return clip.motion, clip.rig.name

    def _load_request(self, args: RenderArgs) -> dict[str, Any]:
        """Fetch and check a request's artefacts: clips, tracks and soundtrack as arrays."""
        if self.store is None:
            raise InvalidInput("store", "no artefact store configured")
        ma, rig = self._motion(args.motion[0], "motion_a")
        mb = None
        if args.motion[1] is not None:
            mb, rig_b = self._motion(args.motion[1], "motion_b")
            check_pair(ma, rig, mb, rig_b)
        mix = self._wav(args.audio, "audio") if args.audio is not None else None
        a = b = None
        if args.tracks is not None:
            a = to_mono(self._wav(args.tracks[0], "track_a"))
            b = to_mono(self._wav(args.tracks[1], "track_b"))
        return {"motion_a": ma, "motion_b": mb, "rig": rig, "track_a": a, "track_b": b, "mix": mix}

    def render_request(
        self, args: RenderArgs, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, Any]:
        """Artefacts in; the videos stored content-addressed out (and ``num_frames``)."""
        loaded = self._load_request(args)
        frames = int(loaded["motion_a"].shape[0])
        assert self.store is not None
        with tempfile.TemporaryDirectory(prefix="dyad-render-") as tmp:
            paths = self.render_conversation(
                loaded.pop("motion_a"),
                loaded.pop("motion_b"),
                loaded.pop("rig"),
                Path(tmp),
                identities=args.identities,
                avatar_uris=args.avatar_uris,
                layout=args.layout,
                head_px=args.head_px,
                singles=args.per_speaker,
                relation=args.relation,
                environment=args.environment,
                progress=progress,
                **loaded,
            )
            refs: dict[str, Any] = {
                k: self.store.put_file(p, "video/mp4") for k, p in paths.items()
            }
        refs["num_frames"] = frames
        return refs

    def stream_request(self, args: RenderArgs) -> Iterator[tuple[int, list[bytes]]]:
        loaded = self._load_request(args)
        active = None
        if loaded["track_a"] is not None:
            active = active_speaker(
                loaded["track_a"], loaded["track_b"], loaded["motion_a"].shape[0], AUDIO_RATE
            )
        return self.stream_frames(
            loaded["motion_a"],
            loaded["motion_b"],
            loaded["rig"],
            identities=args.identities,
            avatar_uris=args.avatar_uris,
            layout=args.layout,
            head_px=args.head_px,
            active=active,
            relation=args.relation,
            environment=args.environment,
        )

    def stream_frames(
        self,
        motion_a: np.ndarray,
        motion_b: np.ndarray | None,
        rig: str,
        *,
        identities: dict[str, Any] | None = None,
        avatar_uris: dict[str, str] | None = None,
        layout: str = "",
        head_px: int = 0,
        active: np.ndarray | None = None,
        relation: tuple[bool, bool] = (False, True),
        environment: str = "",
    ) -> Iterator[tuple[int, list[bytes]]]:
        """Composite frames as PNGs in chunks of ``stream_chunk_frames``: (start, [png…])."""
        layout = layout or self.settings.layout
        head_px = head_px or self.settings.head_px
        check_layout(layout, head_px)
        check_pair(motion_a, rig, motion_b, rig)
        clips = {"a": motion_a} if motion_b is None else {"a": motion_a, "b": motion_b}
        heads = self._heads(clips, rig, identities or {}, avatar_uris or {}, head_px)
        bg = self.backgrounds(environment, head_px)
        streams = {
            s: head_frames(
                h,
                background=bg[s] if isinstance(bg, dict) else bg,
                backend=self.settings.backend,
                relation=relation,
            )
            for s, h in heads.items()
        }

        chunk: list[bytes] = []
        start = 0
        for index in range(motion_a.shape[0]):
            frames = {s: next(it) for s, it in streams.items()}
            act = int(active[index]) if active is not None else 0
            chunk.append(png_bytes(compose(layout, frames["a"], frames.get("b"), active=act)))
            if len(chunk) == self.settings.stream_chunk_frames:
                self.frames.inc(len(chunk))
                yield start, chunk
                start, chunk = index + 1, []
        if chunk:
            self.frames.inc(len(chunk))
            yield start, chunk

    def warm_up(self) -> None:
        """Build the default avatar and render one small frame (compiles the CPU kernel)."""
        av = self.avatar("", rig="arkit55")
        self.preview(av, head_px=64)
