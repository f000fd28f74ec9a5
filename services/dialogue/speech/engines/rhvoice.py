"""RHVoice: HTS statistical voices (Debian contrib; ``make voices-extra``), one subprocess each.

Voices are found in RHVoice's data directory (``voices/<name>/voice.info`` gives the name,
language and gender, the ``<rate>`` sub-directories the sample rates; RHVoice-test writes the
highest, 24 kHz). English only, and evgeniy-eng and lyubov are left out: their licence
(CC-BY-NC-ND) forbids what we do with audio; alan, bdl, clb and slt are LGPL-2.1+.

``RHVoice-test -p <voice> -r/-t/-v <percent> -i <text file> -o <wav>``: the text goes in as a
plain-text file (no ``-s``, so ``<`` and ``&`` are spoken, never parsed, and a leading ``-`` is
never an option). Native controls, measured with pyworld and RMS on every voice:

* tempo ``-r``: length × 100/percent exactly (130 → 0.770–0.771, 50 → 2.0, 200 → 0.50); it is
  clamped to [50, 200] %, so outside that range ``dsp`` does the whole change.
* mean F0 ``-t``: F0 × percent/100 (125 → 1.247–1.251, 150 → 1.50); clamped to [50, 200] %.
* loudness ``-v``: linear (160 → +4.08 dB, 50 → −6.02 dB), but from ~250 % the output is
  peak-limited (+5.5 dB at 250 and at 400), so only [50, 160] % is claimed.
* F0 range: no setting; ``dsp`` applies it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.dialogue.speech.engines.base import Rendered, render_through_files, run_engine
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo

LICENCE = "LGPL-2.1+ (RHVoice)"
DATA_DIR = "/usr/share/RHVoice"
MISSING = "RHVoice not installed: run `make voices-extra`"
#: Non-commercial, no-derivatives voices: never offered.
EXCLUDED = frozenset({"evgeniy-eng", "lyubov"})
_GENDERS = {"male": "masculine", "female": "feminine"}
#: Multiplier ranges RHVoice honours linearly (measured; see the module docstring).
#: Loudness is not among them although ``-v`` works: RHVoice's voices differ by 7 dB at 100 %
#: and louder settings raise the pitch, so ``dsp`` levels every sentence and applies the gain
#: (bench/speech.py measured fearful +1.8 dB over neutral with ``-v``; the table asks −0.9).
_NATIVE_RANGE = {"rate": (0.5, 2.0), "pitch": (0.5, 2.0)}
_FLAGS = {"rate": "-r", "pitch": "-t"}
_EPS = 1e-6


def read_voice_info(path: Path) -> dict[str, str]:
    """``key=value`` lines of a voice.info, keys lower-cased."""
    info: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            info[key.strip().lower()] = value.strip()
    return info


def discover(data_dir: str | os.PathLike[str] = DATA_DIR) -> tuple[VoiceInfo, ...]:
    """The English voices installed under ``data_dir``, licence-excluded ones left out."""
    found = []
    for info_path in sorted(Path(data_dir, "voices").glob("*/voice.info")):
        folder = info_path.parent
        name = folder.name.lower()
        info = read_voice_info(info_path)
        gender = _GENDERS.get(info.get("gender", "").lower())
        if name in EXCLUDED or info.get("language", "").lower() != "english" or gender is None:
            continue
        rates = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
        if not rates:
            continue
        found.append(VoiceInfo("rhvoice", name, gender, "adult", max(rates), LICENCE))
    return tuple(found)


class RHVoiceEngine:
    """RHVoice-test in a subprocess; tempo, mean F0 and loudness native within RHVoice's range."""

    name = "rhvoice"

    def __init__(
        self, binary: str = "RHVoice-test", timeout_s: float = 30.0, data_dir: str = DATA_DIR
    ) -> None:
        exe = shutil.which(binary)
        if exe is None or not Path(data_dir, "voices").is_dir():
            raise FailedPrecondition(MISSING)
        self.binary, self.timeout_s, self.data_dir = exe, float(timeout_s), data_dir
        self._voices: tuple[VoiceInfo, ...] | None = None

    def voices(self) -> tuple[VoiceInfo, ...]:
        if self._voices is None:
            self._voices = discover(self.data_dir)
        return self._voices

    def command(
        self, voice: CastVoice, target: ProsodyTarget, text_path: str, wav_path: str
    ) -> tuple[list[str], frozenset[str]]:
        """The argv for one sentence and the controls it applies natively: a control outside
        RHVoice's linear range is not passed at all and left whole to ``dsp``."""
        if voice.info.engine != self.name or voice.info.name not in {v.name for v in self.voices()}:
            have = [v.name for v in self.voices()]
            raise InvalidInput("voice", f"RHVoice has no voice {voice.info.name!r} (have {have})")
        wanted = {
            "rate": float(target.rate) * float(voice.rate),
            "pitch": float(target.f0) * 2.0 ** (float(voice.pitch_st) / 12.0),
        }
        cmd = [self.binary, "-p", voice.info.name]
        native = set()
        for control, value in wanted.items():
            lo, hi = _NATIVE_RANGE[control]
            if lo <= value <= hi:
                native.add(control)
                if abs(value - 1.0) > _EPS:
                    cmd += [_FLAGS[control], str(round(100 * value))]
        return [*cmd, "-i", text_path, "-o", wav_path], frozenset(native)

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered:
        return render_through_files(
            "RHVoice",
            text,
            lambda text_path, wav_path: self.command(voice, target, text_path, wav_path),
            self._run,
        )

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
        return run_engine("RHVoice", cmd, self.timeout_s, MISSING)
