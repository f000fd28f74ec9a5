"""``dyad dataset synth`` (in-process: the command's behaviour, not a subprocess, is tested)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dyad.cli import main


def test_cli_dataset_synth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "corpus"
    args = ["dataset", "synth", "--n", "2", "--seconds", "4", "--out", str(out)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["generated"] == 2 and report["skipped"] == 0
    assert len((out / "metadata.jsonl").read_text().splitlines()) == 2
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 2
    assert main(["dataset", "synth", "--n", "0", "--out", str(out)]) == 2
    assert capsys.readouterr().err.startswith("dyad: --n")
