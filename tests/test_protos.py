"""The generated ``dyad.v1`` code matches ``protos/`` and follows the style guide."""

from __future__ import annotations

import re
from pathlib import Path

from dyad import protogen

REPO = Path(__file__).resolve().parents[1]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    fresh = {p.name: p.read_bytes() for p in protogen.generate(tmp_path)}
    committed_dir = REPO / "libs" / "dyad" / "v1"
    committed = {
        p.name: p.read_bytes()
        for p in committed_dir.iterdir()
        if p.is_file() and p.suffix in (".py", ".pyi")
    }
    assert sorted(committed) == sorted(fresh), "run `make protos`: generated file set differs"
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"run `make protos`: stale generated files {stale}"


def test_every_service_proto_imports_and_has_a_service() -> None:
    import importlib

    for proto in protogen.proto_files():
        mod = importlib.import_module(f"dyad.v1.{proto.stem}_pb2")
        if proto.stem.endswith("_service"):
            (svc,) = mod.DESCRIPTOR.services_by_name.values()
            assert svc.full_name.startswith("dyad.v1.") and svc.name.endswith("Service")
            for m in svc.methods:
                # One request message per RPC (StreamX may reuse its unary twin's request).
                assert m.input_type.name.endswith("Request"), m.full_name


def test_style_guide() -> None:
    for proto in protogen.proto_files():
        text = proto.read_text()
        assert "package dyad.v1;" in text and 'syntax = "proto3";' in text
        for field in re.findall(r"^\s+(?:repeated |optional )?[\w.<>, ]+ (\w+) = \d+;", text, re.M):
            assert re.fullmatch(r"[a-z][a-z0-9_]*", field), f"{proto.name}: field {field}"
        for enum, body in re.findall(r"enum (\w+) \{(.*?)\}", text, re.S):
            prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum).upper() + "_"
            values = re.findall(r"(\w+) = (\d+);", body)
            assert values[0] == (prefix + "UNSPECIFIED", "0"), enum
            assert all(v.startswith(prefix) for v, _ in values), enum


def test_common_messages_have_the_contract_fields() -> None:
    from dyad.v1 import common_pb2 as c

    def fields(msg: type) -> set[str]:
        return {f.name for f in msg.DESCRIPTOR.fields}  # type: ignore[attr-defined]

    assert fields(c.ArtifactRef) == {"uri", "sha256", "size_bytes", "content_type"}
    assert {"rig", "channel_names", "fps", "artifact"} <= fields(c.MotionClip)
    assert fields(c.Emotion) == {"category", "intensity", "rate", "pitch", "energy", "pause_s"}
    assert fields(c.SocialRelation) == {"blood", "equal", "label"}
    # The timeline carries who speaks and how they relate (what later stages read from it),
    # and emotions are doubles: a conversation sent over the wire is the same conversation.
    assert {"speaker_a", "speaker_b", "relation", "sound_environment"} <= fields(c.Timeline)
    double = c.Emotion.DESCRIPTOR.fields_by_name["rate"].type
    assert double == c.Emotion.DESCRIPTOR.fields_by_name["rate"].TYPE_DOUBLE
    assert "seed" in fields(c.Dialogue)
    rel = c.SocialRelation()
    assert not rel.HasField("blood"), "unset must be distinguishable from false"
