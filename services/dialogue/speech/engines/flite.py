"""flite (CMU): small statistical and diphone voices, one subprocess per sentence.

Voices: kal16 (diphone), awb, rms, slt (clustergen), all 16 kHz. ``kal`` (8 kHz) and
``awb_time`` (a talking clock that only says times) are left out. The text goes in as a file
(``-f``), never on a command line a shell could see, and flite reads it as plain text (no SSML).

Native controls, measured with pyworld (dio + stonemask) over three sentences:

* tempo, ``--setf duration_stretch``: honoured by every voice. kal16 stretches by 1.1 on its
  own (stretch 0.5 → 0.452 of the default length, 2.0 → 1.819), so its stretch is 1.1 / rate;
  for the clustergen voices 0.769 gives 0.768–0.770 of the length.
* mean F0, ``--setf int_f0_target_mean`` (Hz): the output mean moves with the target along a
  line, so the target is the voice's own implicit one (``f0_target``) plus (multiplier − 1) ×
  its neutral mean ÷ the slope. Measured output mean F0 (geometric, 3 sentences) for targets
  0.8/1.0/1.25/1.5 × the neutral mean: kal16 78.1/82.7/105.1/130.5 Hz (neutral 88.8; own target
  95 Hz, slope 1.08 above the 71 Hz end), awb 99.3/124.0/155.2/186.8 (neutral 128.0, slope
  0.98), slt 137.1/170.9/212.4/256.2 (neutral 171.3, slope 0.99); rms ignores it (100.1 Hz for
  every target), so its pitch is left to ``dsp``. The F0 spread stays in Hz, so a raised voice
  has a slightly narrower log-F0 range (kal16 at 2 × F0: 0.049 against 0.105).
* F0 range, ``int_f0_target_stddev``: not claimed. The log-F0 spread moves little and not in
  proportion (slt: stddev 5/10/20/40 Hz → 0.042/0.046/0.051/0.081 against 0.062 neutral) and it
  shifts the mean (kal16: stddev 40 → +13 %); rms ignores it too.
* loudness: flite has no volume setting; ``dsp`` applies the gain.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.dialogue.speech.engines.base import Rendered, render_through_files, run_engine
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo

LICENCE = "BSD-style (flite, CMU)"
#: Multipliers closer to 1 than this are left to the voice's own defaults.
_EPS = 1e-6


@dataclass(frozen=True)
class _Voice:
    gender: str
    sample_rate: int
    stretch: float  # the voice's own duration_stretch (kal16 slows itself down by 1.1)
    f0_target: float | None  # its implicit int_f0_target_mean in Hz; None: F0 not settable
    neutral_f0: float  # measured mean F0 of its neutral delivery, Hz (3 sentences)
    f0_slope: float = 1.0  # output mean F0 change per Hz of target


#: The voices we offer, when ``flite -lv`` lists them. Numbers: the module docstring.
_VOICES: dict[str, _Voice] = {
    "kal16": _Voice("masculine", 16_000, 1.1, 95.0, 88.8, 1.077),
    "awb": _Voice("masculine", 16_000, 1.0, 131.9, 128.0, 0.977),
    "rms": _Voice("masculine", 16_000, 1.0, None, 100.1),
    "slt": _Voice("feminine", 16_000, 1.0, 171.9, 171.3, 0.991),
}


class FliteEngine:
    """flite in a subprocess; tempo and (where the voice honours it) mean F0 are native."""

    name = "flite"
    #: a program with no randomness: the same sentence gives the same samples
    deterministic = True

    def __init__(self, binary: str = "flite", timeout_s: float = 30.0) -> None:
        exe = shutil.which(binary)
        if exe is None:
            raise FailedPrecondition("flite not found: run `make setup`")
        self.binary, self.timeout_s = exe, float(timeout_s)
        self._installed: tuple[str, ...] | None = None

    def installed(self) -> tuple[str, ...]:
        """The voices ``flite -lv`` lists (asked once)."""
        if self._installed is None:
            out = self._run([self.binary, "-lv"]).stdout.decode("utf-8", "replace")
            listed = out.split(":", 1)[-1].split()
            self._installed = tuple(v for v in listed if v in _VOICES)
        return self._installed

    def voices(self) -> tuple[VoiceInfo, ...]:
        return tuple(
            VoiceInfo(self.name, v, _VOICES[v].gender, "adult", _VOICES[v].sample_rate, LICENCE)
            for v in self.installed()
        )

    def neutral_f0(self, voice: str) -> float:
        """The voice's measured neutral mean F0 in Hz."""
        return _VOICES[self._voice_name(voice)].neutral_f0

    def command(
        self, voice: CastVoice, target: ProsodyTarget, text_path: str, wav_path: str
    ) -> tuple[list[str], frozenset[str]]:
        """The argv for one sentence and the controls it applies natively."""
        name = self._voice_name(voice.info.name)
        spec = _VOICES[name]
        cmd = [self.binary, "-voice", name]
        native = {"rate"}
        rate = float(target.rate) * float(voice.rate)
        if abs(rate - 1.0) > _EPS:
            cmd += ["--setf", f"duration_stretch={spec.stretch / rate:.4f}"]
        if spec.f0_target is not None:
            native.add("pitch")
            f0 = float(target.f0) * 2.0 ** (float(voice.pitch_st) / 12.0)
            if abs(f0 - 1.0) > _EPS:
                hz = spec.f0_target + (f0 - 1.0) * spec.neutral_f0 / spec.f0_slope
                cmd += ["--setf", f"int_f0_target_mean={max(hz, 20.0):.1f}"]
        return [*cmd, "-f", text_path, "-o", wav_path], frozenset(native)

    def render(self, text: str, voice: CastVoice, target: ProsodyTarget) -> Rendered:
        if voice.info.engine != self.name:
            raise InvalidInput("voice", f"{voice.info.id} is not a flite voice")
        if not float(target.rate) * float(voice.rate) > 0:
            raise InvalidInput("rate", f"tempo {target.rate * voice.rate!r} is not positive")
        return render_through_files(
            "flite",
            text,
            lambda text_path, wav_path: self.command(voice, target, text_path, wav_path),
            self._run,
        )

    def _voice_name(self, name: str) -> str:
        if name not in self.installed():
            raise InvalidInput(
                "voice", f"flite has no voice {name!r} (have {list(self.installed())})"
            )
        return name

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
        return run_engine("flite", cmd, self.timeout_s, "flite not found: run `make setup`")
