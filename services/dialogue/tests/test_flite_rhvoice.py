"""flite and RHVoice engines: voice discovery, audio, and the prosody controls they claim to
apply natively, checked by measuring the audio (duration, median F0 by pyworld, RMS)."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dyad.errors import FailedPrecondition, InvalidInput
from dyad.services.dialogue.speech.dsp import pyworld
from dyad.services.dialogue.speech.engines.base import Rendered
from dyad.services.dialogue.speech.engines.flite import FliteEngine
from dyad.services.dialogue.speech.engines.rhvoice import RHVoiceEngine
from dyad.services.dialogue.speech.prosody import ProsodyTarget
from dyad.services.dialogue.speech.voices import CastVoice, VoiceInfo

TEXT = "Would you like some tea before we go out tonight?"
RHVOICE_MISSING = "RHVoice not installed: run `make voices-extra`"
FLITE_VOICES = {"kal16": "masculine", "awb": "masculine", "rms": "masculine", "slt": "feminine"}
RHVOICE_VOICES = {"alan": "masculine", "bdl": "masculine", "clb": "feminine", "slt": "feminine"}


pw = pyworld()


def speech(r: Rendered) -> np.ndarray:
    """The audio from the first to the last 10 ms frame within 40 dB of the loudest."""
    hop = r.sample_rate // 100
    x = r.audio[: r.audio.size // hop * hop].astype(np.float64)
    rms = np.sqrt(np.mean(x.reshape(-1, hop) ** 2, axis=1))
    loud = np.flatnonzero(rms >= rms.max() * 0.01)
    return x[loud[0] * hop : (loud[-1] + 1) * hop]


def duration(r: Rendered) -> float:
    return speech(r).size / r.sample_rate


def median_f0(r: Rendered) -> float:
    x = r.audio.astype(np.float64)
    f0, t = pw.dio(x, r.sample_rate, f0_floor=60.0, f0_ceil=500.0, frame_period=5.0)
    f0 = pw.stonemask(x, f0, t, r.sample_rate)
    return float(np.median(f0[f0 > 0]))


def rms_db(r: Rendered) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(speech(r) ** 2))))


@functools.cache
def flite() -> FliteEngine:
    return FliteEngine()


@functools.cache
def _rhvoice() -> RHVoiceEngine | None:
    try:
        return RHVoiceEngine()
    except FailedPrecondition:
        return None


def rhvoice() -> RHVoiceEngine:
    engine = _rhvoice()
    if engine is None:
        pytest.skip(RHVOICE_MISSING)
    return engine


def engine_for(name: str) -> Any:
    return flite() if name == "flite" else rhvoice()


def cast(engine: Any, voice: str, **offsets: float) -> CastVoice:
    info = next(v for v in engine.voices() if v.name == voice)
    return CastVoice(info, **offsets)


@functools.cache
def render(engine_name: str, voice: str, text: str = TEXT, **target: float) -> Rendered:
    engine = engine_for(engine_name)
    return engine.render(text, cast(engine, voice), ProsodyTarget(**target))


CASES = [("flite", v) for v in FLITE_VOICES] + [("rhvoice", v) for v in RHVOICE_VOICES]


# --- discovery ----------------------------------------------------------------------------


def test_flite_lists_its_voices_with_gender_rate_and_licence() -> None:
    voices = {v.name: v for v in flite().voices()}
    assert set(voices) == set(FLITE_VOICES)  # kal (8 kHz) and awb_time (a clock) left out
    for name, v in voices.items():
        assert (v.engine, v.gender, v.sample_rate) == ("flite", FLITE_VOICES[name], 16_000)
        assert v.licence == "BSD-style (flite, CMU)"


def test_rhvoice_lists_english_voices_without_the_non_commercial_ones() -> None:
    voices = {v.name: v for v in rhvoice().voices()}
    assert set(voices) == set(RHVOICE_VOICES)  # evgeniy-eng and lyubov are CC-BY-NC-ND
    for name, v in voices.items():
        assert (v.engine, v.gender, v.sample_rate) == ("rhvoice", RHVOICE_VOICES[name], 24_000)
        assert v.licence.startswith("LGPL-2.1+")


def test_rhvoice_discovery_reads_voice_info(tmp_path: Path) -> None:
    from dyad.services.dialogue.speech.engines.rhvoice import discover

    for name, lang, gender in [
        ("anna", "Russian", "female"),
        ("lyubov", "English", "female"),
        ("joe", "English", "male"),
    ]:
        (tmp_path / "voices" / name / "16000").mkdir(parents=True)
        (tmp_path / "voices" / name / "voice.info").write_text(
            f"name={name.title()}\nlanguage={lang}\ngender={gender}\n"
        )
    (tmp_path / "voices" / "joe" / "22050").mkdir()
    assert [(v.name, v.gender, v.sample_rate) for v in discover(tmp_path)] == [
        ("joe", "masculine", 22_050)
    ]


# --- audio and native controls ------------------------------------------------------------


@pytest.mark.parametrize(("engine", "voice"), CASES)
def test_render_is_audible_float32_at_the_voices_rate(engine: str, voice: str) -> None:
    r = render(engine, voice)
    info = next(v for v in engine_for(engine).voices() if v.name == voice)
    assert r.audio.dtype == np.float32 and r.audio.ndim == 1
    assert r.sample_rate == info.sample_rate
    assert 0.8 < r.audio.size / r.sample_rate < 10
    assert float(np.sqrt(np.mean(r.audio.astype(np.float64) ** 2))) > 0.01
    assert float(np.max(np.abs(r.audio))) <= 1.0


@pytest.mark.parametrize(("engine", "voice"), CASES)
def test_claimed_controls_are_honoured(engine: str, voice: str) -> None:
    base = render(engine, voice)
    checked = 0
    if "rate" in render(engine, voice, rate=1.3).native:
        assert duration(render(engine, voice, rate=1.3)) <= 0.85 * duration(base)
        checked += 1
    if "pitch" in render(engine, voice, f0=1.25).native:
        assert median_f0(render(engine, voice, f0=1.25)) >= 1.12 * median_f0(base)
        checked += 1
    if "gain" in render(engine, voice, gain=1.6).native:
        assert rms_db(render(engine, voice, gain=1.6)) >= rms_db(base) + 3.0
        checked += 1
    assert checked >= 1


def test_which_controls_are_native() -> None:
    """The measured table: flite has no gain, rms ignores F0 targets, nobody does range;
    RHVoice's settings only within their linear range."""
    for voice in FLITE_VOICES:
        expected = {"rate"} if voice == "rms" else {"rate", "pitch"}
        assert render("flite", voice, rate=1.2, f0=1.1, range=1.3, gain=1.2).native == expected
    rh = rhvoice()
    assert render("rhvoice", "slt", rate=1.2, f0=1.1, range=1.3, gain=1.2).native == {
        "rate",
        "pitch",
    }
    _, native = rh.command(cast(rh, "slt"), ProsodyTarget(rate=3.0, gain=2.5), "in", "out")
    assert native == {"pitch"}  # clamped / peak-limited by RHVoice: left to dsp


def test_speaker_offsets_reach_the_engine() -> None:
    """The voice's own tempo and semitone offsets multiply the target's."""
    engine = flite()
    base = render("flite", "slt")
    r = engine.render(TEXT, cast(engine, "slt", rate=1.3, pitch_st=4.0), ProsodyTarget())
    assert duration(r) <= 0.85 * duration(base)
    assert median_f0(r) >= 1.12 * median_f0(base)


# --- errors and hostile text --------------------------------------------------------------


def test_missing_binaries_name_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="make setup"):
        FliteEngine(binary=str(tmp_path / "flite"))
    with pytest.raises(FailedPrecondition, match="make voices-extra"):
        RHVoiceEngine(binary=str(tmp_path / "RHVoice-test"))
    if shutil.which("RHVoice-test"):
        with pytest.raises(FailedPrecondition, match="make voices-extra"):
            RHVoiceEngine(data_dir=str(tmp_path))


@pytest.mark.parametrize("engine", ["flite", "rhvoice"])
def test_unknown_voice_is_invalid_input(engine: str) -> None:
    e = engine_for(engine)
    for name in ("nosuch", "awb_time", "kal", "lyubov", "evgeniy-eng"):
        with pytest.raises(InvalidInput) as err:
            e.render("Hello.", CastVoice(VoiceInfo(engine, name, "masculine")), ProsodyTarget())
        assert err.value.field == "voice"


@pytest.mark.parametrize(("engine", "voice"), [("flite", "slt"), ("rhvoice", "slt")])
def test_text_is_spoken_literally(engine: str, voice: str) -> None:
    hostile = '-v 5 < 6 & "quoted" it\'s \'fine\' </speak><break time="20s"/> --help'
    r = render(engine, voice, text=hostile)
    assert 1.0 < duration(r) < 12.0
    assert float(np.sqrt(np.mean(r.audio.astype(np.float64) ** 2))) > 0.01
