"""The embedded pipeline end to end: prompt or recorded audio → every output file, checked by
what a user would check (ffprobe, sha256, sample counts); reruns skip finished stages."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from dyad.media import probe_video, read_wav, write_wav
from dyad.motion_io import load_motion
from dyad.services.worker.pipeline.orchestrator import export

from .conftest import FILES, OPTS, PX


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_writes_every_output(generated) -> None:
    root, orch, outs, rec = generated
    assert len(outs) == 1
    out = outs[0]
    d = export(out, orch.store, orch.manifest(out, OPTS), root / "out")
    assert {p.name for p in d.iterdir()} == FILES
    manifest = json.loads((d / "manifest.json").read_text())
    for name, art in manifest["artifacts"].items():
        assert _sha(d / name) == art["sha256"], name
    assert set(manifest["timings_s"]) == {"dialogue", "speech", "features", "motion", "render"}
    assert manifest["settings"]["turns"] == [5, 5]
    assert len(json.loads((d / "dialogue.json").read_text())["turns"]) == 5

    duration = manifest["duration_s"]
    frames = int(np.ceil(round(duration * 25, 9)))
    for video, size, channels in (
        ("conversation.mp4", (2 * PX, PX), 2),
        ("speaker_a.mp4", (PX, PX), 1),
        ("speaker_b.mp4", (PX, PX), 1),
    ):
        info = probe_video(d / video)
        v, a = info["video"], info["audio"]
        assert v is not None and a is not None
        assert (v["codec"], v["fps"], v["num_frames"]) == ("h264", 25, frames)
        assert (v["width"], v["height"], a["codec"], a["channels"]) == (*size, "aac", channels)
        assert abs(v["duration_s"] - a["duration_s"]) <= 1 / 25 + 1e-6  # type: ignore[operator]
    for s in ("a", "b"):
        clip = load_motion(d / f"motion_{s}.npz")
        assert clip.motion.shape == (frames, 55)
        track, rate = read_wav((d / f"speaker_{s}.wav").read_bytes())
        assert rate == 16000 and abs(track.shape[0] / rate - duration) < 1e-3
        assert float(np.sqrt(np.mean(track**2))) > 1e-3  # each speaker is audible
    # progress: every stage reached 1.0, in pipeline order
    done = list(dict.fromkeys(name for name, f in rec.events if f >= 1.0))
    assert done == ["dialogue", "speech", "features", "motion", "refine", "render"]


def test_rerun_skips_every_stage_and_gives_the_same_artefacts(generated) -> None:
    _root, orch, outs, _rec = generated
    again = orch.generate("Two neighbours argue about a noisy party", OPTS)[0]
    assert set(again.cached) == {"dialogue", "speech", "features", "motion", "render"}
    assert again.artifacts == outs[0].artifacts


def test_animate_from_recorded_audio(tmp_path: Path, generated) -> None:
    _root, orch, outs, _rec = generated
    # Reuse the generated tracks as "recorded" input: one stereo file.
    a, _ = read_wav(orch.store.get_bytes(outs[0].artifacts["speaker_a.wav"]))
    b, _ = read_wav(orch.store.get_bytes(outs[0].artifacts["speaker_b.wav"]))
    write_wav(tmp_path / "rec.wav", np.concatenate([a, b], 1)[: 16000 * 8], 16000)
    ref = orch.store.put_file(tmp_path / "rec.wav", "audio/wav")
    out = orch.animate(ref, None, OPTS)
    assert out.dialogue is None and "dialogue.json" not in out.artifacts
    assert any(s.speaker == "a" for s in out.timeline.segments)
    d = export(out, orch.store, orch.manifest(out, OPTS), tmp_path / "o")
    info = probe_video(d / "conversation.mp4")
    assert info["video"] is not None and info["video"]["num_frames"] == 200


def test_cli_errors_are_one_line() -> None:
    for args, field in (
        (["--turns", "3-4"], "turns"),
        (["--n", "0"], "n"),
        (["--relation", "2,1"], "--relation"),
    ):
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "dyad.cli",
                "generate",
                "--prompt",
                "hi",
                "--out",
                "/tmp/never",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"dyad: {field}"), lines


def test_dataset_export_in_dualtalk_layout(generated) -> None:
    from dyad.dataset.reader import load_pair, scan
    from dyad.services.worker.pipeline.dataset_export import export_dataset

    root, orch, outs, _rec = generated
    prefix = "datasets/red/corpus"
    first = export_dataset(orch.store, prefix, "train", "job1", outs)
    assert first["clips"] == 1 and first["metadata"].endswith(f"{prefix}/metadata.jsonl")
    corpus = root / "store" / prefix
    pairs = scan(corpus, "train")
    assert [p.clip for p in pairs] == ["job1_00"]
    data = load_pair(pairs[0], "arkit55")
    motion = load_motion(orch.store.get_bytes(outs[0].artifacts["motion_a.npz"])).motion
    np.testing.assert_array_equal(data.motion_a, motion)
    rel = outs[0].timeline.relation
    assert pairs[0].relation is not None  # read back from metadata.jsonl by the loader
    assert (pairs[0].relation.blood, pairs[0].relation.equal) == (rel.blood, rel.equal)
    # A second job adds its clips; a rerun of the first rewrites its own lines only.
    export_dataset(orch.store, prefix, "test", "job2", outs)
    export_dataset(orch.store, prefix, "train", "job1", outs)
    lines = [json.loads(x) for x in (corpus / "metadata.jsonl").read_text().splitlines()]
    assert [(x["clip"], x["split"]) for x in lines] == [("job1_00", "train"), ("job2_00", "test")]
    assert lines[0]["relation"] == outs[0].timeline.relation.to_dict()
    assert lines[0]["frames"] == motion.shape[0]


def test_stage_cache_versions_name_the_weights(tmp_path: Path) -> None:
    from dyad.services.worker.pipeline.embedded import _model_versions, _weights_id

    versions = _model_versions()
    assert versions["motion_model"].startswith("dualtalk-social-arkit55-synth@")
    assert versions["refiner_model"].startswith("refiner-arkit55-synth@")
    ids = []
    for content in (b"weights one", b"weights two"):  # retrained under the same name
        d = tmp_path / content.decode().replace(" ", "_") / "model-x"
        d.mkdir(parents=True)
        (d / "model.safetensors").write_bytes(content)
        ids.append(_weights_id(d))
    assert ids[0].startswith("model-x@") and ids[0] != ids[1]
    assert _weights_id(tmp_path / "none") == "none@missing"
