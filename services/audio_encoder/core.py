"""The audio encoder: validation, windowing of long clips, batching, and the feature cache.

Pure numpy/torch plus the artefact store; no grpc or ray (usable in a notebook)::

    enc = AudioEncoder(load_backend("mel", settings), settings)
    feats = enc.encode([wave_16k])[0]          # [T, D] float32 at 25 fps

Long clips (over ``window_s``) are cut at frame boundaries into windows that overlap by
``overlap_s``; each window is encoded on its own and the overlaps are cross-faded linearly, so
memory stays bounded and the result stays close to a one-shot encoding. All windows of all
tracks in a call are batched together (``max_batch`` per forward pass).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass

import numpy as np

from dyad.domain import StoredFeatures
from dyad.errors import ConfigError, InvalidInput, NotFound
from dyad.features_io import NPY_CONTENT_TYPE, features_bytes
from dyad.media import load_audio
from dyad.services.audio_encoder.alignment import (
    SAMPLE_RATE,
    Span,
    frame_count,
    samples_for_frames,
)
from dyad.services.audio_encoder.backend import FeatureBackend
from dyad.services.audio_encoder.features import weight_free_backend
from dyad.services.audio_encoder.settings import BACKENDS, PREFIX, AudioEncoderSettings
from dyad.storage import ArtifactRef, ArtifactStore
from dyad.storage.base import cas_digest


def load_backend(name: str, settings: AudioEncoderSettings) -> FeatureBackend:
    """Build the backend called ``name``; wav2vec2 needs ``DYAD_AUDIO_MODEL_DIR``."""
    if name in ("mel", "mfcc"):
        return weight_free_backend(name)
    if name == "wav2vec2":
        if settings.model_dir is None:
            raise ConfigError(
                f"{PREFIX}MODEL_DIR",
                "not set: point it at a local wav2vec2 directory (config.json + weights); "
                "nothing is downloaded",
            )
        # transformers (the wav2vec2 backend) loads only when this backend is asked for
        from dyad.services.audio_encoder.wav2vec2 import Wav2Vec2Backend

        return Wav2Vec2Backend(
            settings.model_dir,
            setting=f"{PREFIX}MODEL_DIR",
            device=settings.device,
            max_batch=settings.max_batch,
        )
    raise InvalidInput("backend", f"unknown backend {name!r}; expected one of {list(BACKENDS)}")


def read_audio(data: bytes, field: str) -> np.ndarray:
    """Any audio file's bytes → float32 16 kHz mono ``[N]``; bad files name ``field``."""
    try:
        return load_audio(data)
    except InvalidInput as e:
        raise InvalidInput(field, e.reason) from None


def check_fps(fps: int) -> int:
    if not 1 <= fps <= 100 or SAMPLE_RATE % fps:
        raise InvalidInput(
            "fps", f"{fps} must be in 1–100 and divide {SAMPLE_RATE} (25 is standard)"
        )
    return fps


@dataclass(frozen=True)
class Window:
    track: int
    start_frame: int
    end_frame: int


def plan_windows(num_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` covering ``num_frames``; consecutive ones share ``overlap``."""
    if num_frames <= window:
        return [(0, num_frames)]
    starts = [0]
    while starts[-1] + window < num_frames:
        starts.append(starts[-1] + window - overlap)
    return [(s, min(s + window, num_frames)) for s in starts]


def stitch(parts: list[np.ndarray], ranges: list[tuple[int, int]], overlap: int) -> np.ndarray:
    """Cross-fade window outputs ``[e - s, D]`` into one ``[T, D]`` array (weights sum to 1)."""
    total = ranges[-1][1]
    out = np.zeros((total, parts[0].shape[1]), dtype=np.float64)
    ramp = (np.arange(overlap) + 0.5) / overlap  # rises across the shared frames
    for k, ((s, e), part) in enumerate(zip(ranges, parts, strict=True)):
        w = np.ones(e - s)
        if k > 0:
            w[:overlap] = ramp
        if k < len(ranges) - 1:
            w[-overlap:] = 1.0 - ramp
        out[s:e] += part * w[:, None]
    return out.astype(np.float32)


class AudioEncoder:
    """One backend plus the windowing and batching policy."""

    def __init__(self, backend: FeatureBackend, settings: AudioEncoderSettings) -> None:
        self.backend = backend
        self.settings = settings
        self._lock = threading.Lock()  # one forward pass at a time per model

    @property
    def name(self) -> str:
        return self.backend.name

    def cache_identity(self, fps: int) -> str:
        """Everything besides the audio that decides the output: backend, weights, windows, fps."""
        ident = {
            "backend": self.backend.name,
            "config": self.backend.config_hash(),
            "fps": fps,
            "window_s": self.settings.window_s,
            "overlap_s": self.settings.overlap_s,
        }
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def validate(self, wave: np.ndarray, field: str) -> np.ndarray:
        """A finite, non-empty float32 ``[N]`` of at most ``max_duration_s`` at 16 kHz."""
        x = np.asarray(wave)
        if x.ndim != 1:
            raise InvalidInput(field, f"expected mono [N] samples, got shape {x.shape}")
        if x.size == 0:
            raise InvalidInput(field, "empty audio")
        if not np.isfinite(x).all():
            raise InvalidInput(field, "audio contains NaN or Inf samples")
        seconds = x.size / SAMPLE_RATE
        if seconds > self.settings.max_duration_s:
            raise InvalidInput(
                field,
                f"{seconds:.1f} s is longer than the limit of {self.settings.max_duration_s:g} s "
                f"({PREFIX}MAX_DURATION_S)",
            )
        return x.astype(np.float32, copy=False)

    def encode(
        self, waves: list[np.ndarray], *, fps: int = 25, fields: list[str] | None = None
    ) -> list[np.ndarray]:
        """Features ``[T_i, D]`` float32 at ``fps`` for 16 kHz mono waves ``[N_i]``."""
        check_fps(fps)
        fields = fields or [f"audio[{i}]" for i in range(len(waves))]
        waves = [self.validate(w, f) for w, f in zip(waves, fields, strict=True)]
        win = max(1, round(self.settings.window_s * fps))
        ovl = round(self.settings.overlap_s * fps)
        spf = samples_for_frames(1, fps=fps)
        plans, segments, frames, spans, owners = [], [], [], [], []
        for i, w in enumerate(waves):
            total = frame_count(w.size, fps=fps)
            ranges = plan_windows(total, win, ovl)
            plans.append(ranges)
            stats = (float(w.mean(dtype=np.float64)), float(w.var(dtype=np.float64)))
            for s, e in ranges:
                segments.append(w[s * spf : min(e * spf, w.size)])
                frames.append(e - s)
                spans.append(Span(s, total, w.size, fps, *stats) if len(ranges) > 1 else None)
                owners.append(i)
        outs: list[np.ndarray] = []
        step = self.settings.max_batch
        with self._lock:
            for b in range(0, len(segments), step):
                outs += self.backend.encode_batch(
                    segments[b : b + step], frames[b : b + step], spans[b : b + step]
                )
        result = []
        for i, ranges in enumerate(plans):
            parts = [o for o, owner in zip(outs, owners, strict=True) if owner == i]
            result.append(parts[0] if len(parts) == 1 else stitch(parts, ranges, ovl))
        return result


@dataclass(frozen=True)
class EncodedFeatures:
    artifact: ArtifactRef
    num_frames: int
    dim: int
    fps: int
    backend: str
    cache_hit: bool

    @property
    def stored(self) -> StoredFeatures:
        """The reference later stages take (``dyad.domain``)."""
        return StoredFeatures(self.artifact, self.backend, self.fps, self.num_frames, self.dim)


class FeatureService:
    """Artefacts in, artefacts out, with a cache keyed by (audio sha256, backend, config, fps).

    Backends load lazily on first use (or in ``warm_up``) and stay loaded.
    """

    def __init__(self, store: ArtifactStore, settings: AudioEncoderSettings) -> None:
        self.store = store
        self.settings = settings
        self._encoders: dict[str, AudioEncoder] = {}
        self._load_lock = threading.Lock()

    def encoder(self, backend: str) -> AudioEncoder:
        with self._load_lock:
            if backend not in self._encoders:
                self._encoders[backend] = AudioEncoder(
                    load_backend(backend, self.settings), self.settings
                )
            return self._encoders[backend]

    def warm_up(self) -> None:
        """Load the default backend (and wav2vec2 when configured) and run one forward each."""
        names = {self.settings.backend} | ({"wav2vec2"} if self.settings.model_dir else set())
        for name in sorted(names):
            self.encoder(name).backend.warm_up()

    def _fetch(self, ref: ArtifactRef, field: str) -> bytes:
        """The artefact's bytes (checked against its sha256 when the ref has one)."""
        return self.store.get_bytes(ref if ref.sha256 else ref.uri, field=f"{field}.artifact")

    def _content_hash(self, ref: ArtifactRef, field: str) -> tuple[str, bytes | None]:
        """The sha256 of the audio a reference names, as read or verified — never the client's
        claim — and the bytes when they had to be read.

        A content-addressed key *is* the hash of its bytes (the store writes it so and checks
        it on every read), so a CAS reference costs one stat: the claim must equal the key's
        hash. Any other object is read and hashed.
        """
        key = self.store.key_of(ref.uri, field=f"{field}.artifact.uri")
        digest = cas_digest(key)
        if digest is None:
            data = self._fetch(ref, field)
            return hashlib.sha256(data).hexdigest(), data
        size = self.store.size(key)
        if size is None:
            raise NotFound(f"{field}.artifact: no artefact at {key}")
        if ref.sha256 and ref.sha256 != digest:
            raise InvalidInput(f"{field}.artifact.sha256", "does not match the stored bytes")
        if ref.sha256 and ref.size_bytes != size:
            raise InvalidInput(
                f"{field}.artifact.size_bytes", f"{ref.size_bytes}; the stored object is {size}"
            )
        return digest, None

    @staticmethod
    def _cache_key(audio_sha256: str, identity: str) -> str:
        return f"cache/audio_features/{identity[:16]}/{audio_sha256}.json"

    def encode_artifacts(
        self,
        refs: list[ArtifactRef],
        *,
        backend: str = "",
        fps: int = 25,
        fields: list[str] | None = None,
    ) -> list[EncodedFeatures]:
        """Encode audio artefacts; cached results are returned without recomputation."""
        fields = fields or [f"tracks[{i}]" for i in range(len(refs))]
        if not refs:
            raise InvalidInput("tracks", "no tracks to encode")
        if len(refs) > self.settings.max_tracks:
            raise InvalidInput("tracks", f"{len(refs)} tracks; at most {self.settings.max_tracks}")
        enc = self.encoder(backend or self.settings.backend)
        identity = enc.cache_identity(check_fps(fps))
        results: list[EncodedFeatures | None] = [None] * len(refs)
        todo: list[tuple[int, str, np.ndarray]] = []
        for i, ref in enumerate(refs):
            # Keyed by the hash of what the store holds (a CAS hit costs a stat, not a
            # download); a client's claimed sha256 only has to agree with it.
            sha, data = self._content_hash(ref, fields[i])
            key = self._cache_key(sha, identity)
            if self.store.exists(key):
                entry = json.loads(self.store.get_bytes(key))
                results[i] = EncodedFeatures(
                    ArtifactRef.from_dict(entry["artifact"]),
                    entry["num_frames"],
                    entry["dim"],
                    fps,
                    enc.name,
                    True,
                )
                continue
            data = self._fetch(ref, fields[i]) if data is None else data
            todo.append((i, key, read_audio(data, f"{fields[i]}.artifact")))
        feats = enc.encode([w for _, _, w in todo], fps=fps, fields=[fields[i] for i, _, _ in todo])
        for (i, key, _), f in zip(todo, feats, strict=True):
            ref = self.store.put_bytes(features_bytes(f), NPY_CONTENT_TYPE)
            entry = {
                "artifact": ref.to_dict(),
                "num_frames": int(f.shape[0]),
                "dim": int(f.shape[1]),
            }
            self.store.put_named(
                key, json.dumps(entry, sort_keys=True).encode(), "application/json"
            )
            results[i] = EncodedFeatures(ref, f.shape[0], f.shape[1], fps, enc.name, False)
        return [r for r in results if r is not None]
