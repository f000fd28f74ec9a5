"""The synthetic dyadic corpus (real composer, espeak-ng, room and procedural animator) and the
DualTalk-layout reader (``dyad.dataset.reader``) over it; the training ``WindowDataset`` is
tested in ``services/training/tests/test_windows.py``."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dyad.dataset.reader import (
    iter_windows,
    load_pair,
    read_motion,
    scan,
    window_starts,
)
from dyad.domain import Timeline
from dyad.errors import FailedPrecondition, InvalidInput
from dyad.motion_io import load_motion
from dyad.services.corpus import casting
from dyad.services.corpus import synth as corpus
from dyad.services.dialogue.speech.voices import voice_for
from dyad.services.dialogue.writing.composer import OfflineComposer
from dyad.services.dialogue.writing.relations import infer_relation

SPLITS = (0.5, 0.25, 0.25)  # clips 0..3 → train, test, train, ood
KW = {"seed": 7, "splits": SPLITS, "target_s": 6.0, "progress": False}
FILES = ("speaker1.wav", "speaker2.wav", "speaker1.npz", "speaker2.npz", "sidecar")


@pytest.fixture(scope="module")
def arkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("arkit")
    report = corpus.build_corpus(out, 4, workers=2, rig="arkit55", **KW)
    assert (report.generated, report.skipped) == (4, 0)
    assert report.splits == {"train": 2, "test": 1, "ood": 1}
    return out


def _clip_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("synth_*"))}


def test_prompt_grid_and_splits() -> None:
    assert sum(len(t) for t in casting.TOPICS.values()) >= 40
    assert len(casting.RELATIONSHIPS) >= 10
    first = [casting.prompt_for(i, random.Random(i)) for i in range(20)]
    assert first == [casting.prompt_for(i, random.Random(i)) for i in range(20)]
    assert len({p for p, _ in first}) == 20
    for rel, topic, _family in casting.GRID:  # topics never change who is talking
        prompt = casting._TEMPLATES[0].format(rel=rel, topic=topic)
        assert infer_relation(prompt) == infer_relation(rel), prompt
    splits = [casting.split_of(i) for i in range(1000)]
    assert abs(splits.count("train") - 800) <= 2 and abs(splits.count("ood") - 100) <= 2
    assert [casting.split_of(i, SPLITS) for i in range(4)] == ["train", "test", "train", "ood"]


def test_ood_pools_are_disjoint_and_audible() -> None:
    main, ood = casting.NAME_POOLS["main"], casting.NAME_POOLS["ood"]
    for gender in main:
        assert len(ood[gender]) >= 2 and not set(main[gender]) & set(ood[gender])
    vm, vo = casting.VOICE_POOLS["main"], casting.VOICE_POOLS["ood"]
    variants = {
        p: {v for k, vs in casting.VOICE_POOLS[p].items() if k != "language" for v in vs}
        for p in ("main", "ood")
    }
    assert not variants["main"] & variants["ood"] and not set(vm["language"]) & set(vo["language"])
    # every voice of the pools sounds different (espeak-ng 1.51 ignores variants on en-gb)
    sounds = {}
    for pool in ("main", "ood"):
        for lang in casting.VOICE_POOLS[pool]["language"]:
            for variant in variants[pool]:
                wav = subprocess.run(
                    ["espeak-ng", "--stdout", "-v", f"{lang}+{variant}", "hi"],
                    capture_output=True,
                    check=True,
                ).stdout
                sounds[f"{lang}+{variant}"] = hashlib.sha256(wav).hexdigest()
    assert len(set(sounds.values())) == len(sounds)


def test_recast_keeps_splits_apart() -> None:
    names: dict[str, set[str]] = {"train": set(), "ood": set()}
    voices: dict[str, set[str]] = {"train": set(), "ood": set()}
    for i in range(12):
        prompt, scenario = casting.prompt_for(i, random.Random(i))
        (d,) = OfflineComposer().write(prompt, 1, i, scenario=scenario)
        for split in ("train", "ood"):
            r = casting.recast(d, split, random.Random(i))
            for old, new in ((d.speaker_a, r.speaker_a), (d.speaker_b, r.speaker_b)):
                assert (new.gender_presentation, new.age_band) == (
                    old.gender_presentation,
                    old.age_band,
                )
                assert voice_for(new).espeak_voice == new.voice
                names[split].add(new.name.split()[0])
                voices[split].add(new.voice)
            text = " ".join(s.text for t in r.turns for s in t.sentences)
            for old, new in ((d.speaker_a, r.speaker_a), (d.speaker_b, r.speaker_b)):
                if old.name.split()[0] != new.name.split()[0]:
                    assert old.name.split()[0] not in text.split()
    assert not names["train"] & names["ood"] and not voices["train"] & voices["ood"]


def test_layout_dtypes_shapes(arkit: Path) -> None:
    assert not list(arkit.rglob("*.tmp"))
    for index, split in enumerate(("train", "test", "train", "ood")):
        paths = corpus.clip_paths(arkit, index, split)
        assert all(paths[f].is_file() for f in FILES)
        for s in ("1", "2"):
            info = sf.info(str(paths[f"speaker{s}.wav"]))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "FLOAT")
            assert 3.0 < info.duration < 14.0
            with np.load(paths[f"speaker{s}.npz"]) as z:
                t = math.ceil(info.frames / 640)
                assert z["arkit"].shape == (t, 55) and z["arkit"].dtype == np.float32
                assert np.array_equal(z["arkit"], z["motion"]) and int(z["fps"]) == 25
            clip = load_motion(paths[f"speaker{s}.npz"])  # dyad.motion_io reads it too
            assert clip.rig.name == "arkit55" and clip.num_frames == t
            assert np.ptp(clip.motion[:, 17]) > 0.05  # jawOpen moves


def test_metadata_one_line_per_clip(arkit: Path) -> None:
    lines = (arkit / "metadata.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["clip"] for r in rows] == [f"synth_{i:06d}" for i in range(4)]
    for r, line in zip(rows, lines, strict=True):
        side = arkit / r["split"] / f"{r['clip']}.json"
        assert side.read_text() == line + "\n"
        assert r["rig"] == "arkit55" and r["seed"] == 7 and r["relation"]["label"]
        assert set(r["identities"]) == {"a", "b"} and r["emotions"] and r["scenario"]
        tl = Timeline.from_dict(r["timeline"])
        assert tl.duration_s == r["duration_s"]
        assert {s.speaker for s in tl.segments if s.kind == "sentence"} == {"a", "b"}
    ood = [r for r in rows if r["split"] == "ood"]
    train = [r for r in rows if r["split"] == "train"]
    for key in ("name", "voice"):
        got = {r["identities"][s][key] for r in ood for s in "ab"}
        assert not got & {r["identities"][s][key] for r in train for s in "ab"}
    assert all(r["identities"][s]["voice"].startswith("en-gb") for r in ood for s in "ab")


def test_flame_layout_maps_dualtalk_keys(tmp_path: Path) -> None:
    corpus.build_corpus(tmp_path, 4, workers=2, rig="flame56", **KW)
    pairs = scan(tmp_path, "train")
    assert [p.clip for p in pairs] == ["synth_000000", "synth_000002"]
    for p in pairs:
        with np.load(p.npz_a) as z:
            m = z["motion"]
            assert z["exp"].shape == (m.shape[0], 50) and z["pose"].shape == (m.shape[0], 6)
            assert np.array_equal(z["pose"][:, 3:6], m[:, 50:53])  # jaw
            assert np.array_equal(z["pose"][:, 0:3], m[:, 53:56])  # global / neck
            assert np.array_equal(read_motion(p.npz_a, "flame56"), m)
        assert np.abs(m[:, 50]).max() > 0.01  # the jaw opens


def test_loader_windows_match_files(arkit: Path) -> None:
    pairs = scan(arkit, "train")
    assert len(pairs) == 2 and all(p.relation is not None for p in pairs)
    for p in pairs:
        data = load_pair(p, "arkit55")
        wav_a, _ = sf.read(p.wav_a, dtype="float32")
        with np.load(p.npz_b) as z:
            mot_b = z["arkit"]
        t = math.ceil(wav_a.size / 640)
        assert data.frames == t == mot_b.shape[0] and data.audio_a.size == t * 640
        wins = list(iter_windows(data, 50, 30))
        assert [w.start for w in wins] == [s for s, _ in window_starts(t, 50, 30)]
        assert wins[-1].start + 50 == t  # the tail window ends on the last frame
        full = np.pad(wav_a, (0, t * 640 - wav_a.size))
        for w in wins:
            assert np.array_equal(w.audio_a, full[w.start * 640 : (w.start + 50) * 640])
            assert np.array_equal(w.motion_b, mot_b[w.start : w.start + 50])
            assert w.audio_b.shape == (50 * 640,) and w.motion_a.shape == (50, 55)
        # every window is its own object with its own data (DualTalk's release reused one dict)
        assert len({id(w) for w in wins}) == len(wins)
        for w0, w1 in itertools.pairwise(wins):
            assert not np.shares_memory(w0.motion_a, w1.motion_a)
            assert not np.array_equal(w0.audio_a, w1.audio_a)


def test_window_tails() -> None:
    assert window_starts(500, 200) == [(0, 200), (200, 200), (300, 200)]
    assert window_starts(500, 200, tail="drop") == [(0, 200), (200, 200)]
    assert window_starts(500, 200, tail="pad") == [(0, 200), (200, 200), (400, 100)]
    assert window_starts(400, 200) == [(0, 200), (200, 200)]
    assert window_starts(150, 200) == [] and window_starts(150, 200, tail="pad") == [(0, 150)]
    assert window_starts(300, 200, 50) == [(0, 200), (50, 200), (100, 200)]
    with pytest.raises(InvalidInput):
        window_starts(300, 0)


def test_resume_regenerates_only_missing_clips(arkit: Path, tmp_path: Path) -> None:
    before = _clip_files(arkit)
    out = tmp_path / "c"
    shutil.copytree(arkit, out)  # copy2: mtimes kept
    (out / "test" / "synth_000001_speaker2.npz").unlink()  # sidecar left: still unfinished
    (out / "ood" / "synth_000003.json").unlink()  # killed before the sidecar
    (out / "train" / ".synth_000002_speaker1.wav.tmp").write_bytes(b"partial")
    with open(out / "metadata.jsonl", "a") as f:
        f.write('{"clip": "synth_0000')  # a line cut short by the kill
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("synth_00000[02]*")}
    # workers=1 here, 2 in the fixture: the regenerated clips must still match byte for byte
    report = corpus.build_corpus(out, 4, workers=1, rig="arkit55", **KW)
    assert (report.generated, report.skipped) == (2, 2)
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert _clip_files(out) == before
    assert (out / "metadata.jsonl").read_bytes() == (arkit / "metadata.jsonl").read_bytes()
    assert not list(out.rglob("*.tmp"))


def test_killed_build_resumes_to_the_same_corpus(arkit: Path, tmp_path: Path) -> None:
    """SIGKILL the whole build (parent and workers) once a clip is finished, then resume."""
    out = tmp_path / "killed"
    code = (
        "from dyad.services.corpus import synth as corpus; "
        f"corpus.build_corpus({str(out)!r}, 4, workers=2, rig='arkit55', seed=7, "
        f"splits={SPLITS!r}, target_s=6.0, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(out.glob("*/synth_*.json")) and proc.poll() is None:
            assert time.monotonic() < deadline, "no clip finished in 60 s"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(list(out.glob("*/synth_*.json"))) < 4, "the build ended before it was killed"
    report = corpus.build_corpus(out, 4, workers=2, rig="arkit55", **KW)
    assert report.skipped >= 1
    assert _clip_files(out) == _clip_files(arkit)
    assert (out / "metadata.jsonl").read_bytes() == (arkit / "metadata.jsonl").read_bytes()


def test_build_refuses_other_settings_and_concurrent_builds(arkit: Path, tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="seed"):
        corpus.build_corpus(arkit, 4, workers=1, rig="arkit55", **{**KW, "seed": 8})
    (tmp_path / "x").mkdir()
    with open(tmp_path / "x" / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(FailedPrecondition, match="another build"):
            corpus.build_corpus(tmp_path / "x", 1, progress=False)
    with pytest.raises(InvalidInput, match="splits"):
        corpus.build_corpus(tmp_path / "y", 1, splits=(0.5, 0.5, 0.5))
