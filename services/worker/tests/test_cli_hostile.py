"""``dyad generate`` / ``dyad animate`` refuse what can only fail before any work starts: a
one-line message and exit code 2, never a traceback after a minute of rendering (issue 16,
the probe's CLI cases)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from dyad.media import wav_bytes
from dyad.testing.cli import run_cli

PROMPT = ("--prompt", "Two friends talk about the weather")


def generate(tmp_path: Path, *args: str) -> tuple[int, str]:
    r = run_cli(
        "generate",
        *PROMPT,
        "--store",
        f"file://{tmp_path}/store",
        *args,
        env={"DYAD_LOG_JSON": "false"},
    )
    return r.returncode, r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--seed", "-5"), "seed: expected 0–9223372036854775807, got -5"),
        (("--seed", str(2**63)), "seed: expected 0–9223372036854775807"),
        (("--n", "3", "--seed", str(2**63 - 2)), "seed: expected 0–9223372036854775805"),
        (("--head-px", "63"), "head_px: expected an even size in 64–2048 pixels, got 63"),
        (("--head-px", "4096"), "head_px: expected an even size in 64–2048 pixels, got 4096"),
        (("--refine-steps", "0"), "refine_steps: expected 1–1000"),
    ],
)
def test_bad_options_are_one_line_and_exit_2_before_any_stage(tmp_path, args, message):
    code, err = generate(tmp_path, *args, "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # Nothing ran: no stage wrote to the store, no output directory appeared.
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.wav"))
    assert not (tmp_path / "out").exists()


def test_out_naming_an_existing_file_is_refused_up_front(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    code, err = generate(tmp_path, "--out", str(target))
    assert code == 2
    assert f"--out: {target} exists and is not a directory" in err
    assert "Traceback" not in err
    code, err = generate(tmp_path, "--out", str(target / "below"))
    assert code == 2 and "is not a directory" in err


def test_animate_refuses_a_hostile_wav_header_with_exit_2(tmp_path):
    good = wav_bytes(np.zeros(1600, np.float32), 16000)
    hostile = tmp_path / "hostile.wav"
    # The same file with its sample rate field set to 2^31 − 1 Hz.
    hostile.write_bytes(good[:24] + struct.pack("<I", 2**31 - 1) + good[28:])
    r = run_cli(
        "animate",
        "--audio",
        str(hostile),
        "--out",
        str(tmp_path / "out"),
        "--store",
        f"file://{tmp_path}/store",
    )
    assert r.returncode == 2
    assert "--audio: sample rate 2147483647 Hz is outside 8000–192000 Hz" in r.stderr
    assert "Traceback" not in r.stderr
