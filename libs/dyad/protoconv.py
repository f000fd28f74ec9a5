"""``dyad.v1`` messages ↔ the conversation domain (``dyad.domain``), both directions,
field-checked. Shared by every servicer and by the pipeline's gRPC client side."""

from __future__ import annotations

from typing import Any, Literal

from dyad.domain import (
    EMOTIONS,
    SCENARIOS,
    Dialogue,
    Emotion,
    Identity,
    Relation,
    Segment,
    Sentence,
    SpeakerId,
    StoredConversation,
    StoredFeatures,
    Timeline,
    Turn,
)
from dyad.errors import InvalidInput
from dyad.storage import ArtifactRef
from dyad.timebase import FPS, SAMPLE_RATE
from dyad.v1 import common_pb2 as c

_SPEAKER: dict[SpeakerId, Any] = {"a": c.SPEAKER_A, "b": c.SPEAKER_B}
_SPEAKER_BACK: dict[Any, SpeakerId] = {v: k for k, v in _SPEAKER.items()}
_Kind = Literal["sentence", "backchannel"]
_KIND: dict[_Kind, Any] = {
    "sentence": c.SEGMENT_KIND_SENTENCE,
    "backchannel": c.SEGMENT_KIND_BACKCHANNEL,
}


def _enum(prefix: str, name: str) -> Any:
    return int(getattr(c, f"{prefix}_{name.upper()}"))


def _enum_name(prefix: str, value: int, choices: tuple[str, ...], field: str) -> str:
    for name in choices:
        if _enum(prefix, name) == value:
            return name
    raise InvalidInput(field, f"unset or unknown value {value}")


def emotion_to_pb(e: Emotion) -> c.Emotion:
    return c.Emotion(
        category=_enum("EMOTION_CATEGORY", e.category),
        intensity=e.intensity,
        rate=e.rate,
        pitch=e.pitch,
        energy=e.energy,
        pause_s=e.pause_s,
    )


def emotion_from_pb(m: c.Emotion, field: str) -> Emotion:
    if m.category == c.EMOTION_CATEGORY_UNSPECIFIED:
        return Emotion()
    return Emotion.from_dict(
        {
            "category": _enum_name("EMOTION_CATEGORY", m.category, EMOTIONS, f"{field}.category"),
            "intensity": m.intensity,
            "rate": m.rate or 1.0,
            "pitch": m.pitch or 1.0,
            "energy": m.energy or 1.0,
            "pause_s": m.pause_s,
        },
        field,
    )


def identity_to_pb(i: Identity) -> c.Identity:
    return c.Identity(
        name=i.name,
        age_band=i.age_band,
        gender_presentation=i.gender_presentation,
        voice=i.voice,
        appearance=list(i.appearance),
        personality=i.personality,
    )


def identity_from_pb(m: c.Identity, field: str) -> Identity:
    d: dict[str, Any] = {
        "name": m.name,
        "appearance": list(m.appearance),
        "voice": m.voice,
        "personality": m.personality,
    }
    if m.age_band:
        d["age_band"] = m.age_band
    if m.gender_presentation:
        d["gender_presentation"] = m.gender_presentation
    return Identity.from_dict(d, field)


def relation_to_pb(r: Relation) -> c.SocialRelation:
    return c.SocialRelation(blood=r.blood, equal=r.equal, label=r.label)


def relation_from_pb(m: c.SocialRelation) -> Relation | None:
    """None unless both axes are set (an unset axis means "infer it")."""
    if m.HasField("blood") and m.HasField("equal"):
        return Relation(m.blood, m.equal, m.label)
    return None


def dialogue_to_pb(d: Dialogue) -> c.Dialogue:
    return c.Dialogue(
        dialogue_id=d.dialogue_id,
        scenario=_enum("SCENARIO_FAMILY", d.scenario),
        speaker_a=identity_to_pb(d.speaker_a),
        speaker_b=identity_to_pb(d.speaker_b),
        relation=relation_to_pb(d.relation),
        environment=d.environment,
        prompt=d.prompt,
        seed=d.seed,
        turns=[
            c.Turn(
                speaker=_SPEAKER[t.speaker],
                sentences=[
                    c.Sentence(text=s.text, emotion=emotion_to_pb(s.emotion)) for s in t.sentences
                ],
            )
            for t in d.turns
        ],
    )


def dialogue_from_pb(m: c.Dialogue, field: str = "dialogue") -> Dialogue:
    turns = []
    for i, t in enumerate(m.turns):
        if t.speaker not in _SPEAKER_BACK:
            raise InvalidInput(f"{field}.turns[{i}].speaker", "SPEAKER_A or SPEAKER_B")
        if not t.sentences:
            raise InvalidInput(f"{field}.turns[{i}].sentences", "at least one sentence")
        turns.append(
            Turn(
                _SPEAKER_BACK[t.speaker],
                tuple(
                    Sentence(
                        s.text,
                        emotion_from_pb(s.emotion, f"{field}.turns[{i}].sentences[{j}].emotion"),
                    )
                    for j, s in enumerate(t.sentences)
                ),
            )
        )
    relation = relation_from_pb(m.relation) or Relation()
    d = Dialogue(
        dialogue_id=m.dialogue_id or "dialogue",
        prompt=m.prompt,
        scenario=_enum_name("SCENARIO_FAMILY", m.scenario, SCENARIOS, f"{field}.scenario"),
        speaker_a=identity_from_pb(m.speaker_a, f"{field}.speaker_a"),
        speaker_b=identity_from_pb(m.speaker_b, f"{field}.speaker_b"),
        relation=relation,
        turns=tuple(turns),
        environment=m.environment or "studio",
        seed=m.seed,
    )
    # Round-trip through the dict form so every field gets the same checks as a JSON file.
    return Dialogue.from_dict(d.to_dict(), field)


def timeline_to_pb(t: Timeline) -> c.Timeline:
    return c.Timeline(
        duration_s=t.duration_s,
        speaker_a=identity_to_pb(t.speakers["a"]),
        speaker_b=identity_to_pb(t.speakers["b"]),
        relation=relation_to_pb(t.relation),
        sound_environment=t.sound_environment,
        segments=[
            c.Segment(
                speaker=_SPEAKER[s.speaker],
                kind=_KIND[s.kind],
                text=s.text,
                start_s=s.start_s,
                end_s=s.end_s,
                turn_index=s.turn_index,
                emotion=emotion_to_pb(s.emotion),
            )
            for s in t.segments
        ],
    )


def timeline_from_pb(
    m: c.Timeline,
    *,
    relation: Relation | None = None,
    speakers: dict[str, Identity] | None = None,
    sound_environment: str = "",
    field: str = "timeline",
) -> Timeline:
    """A ``Timeline`` from its message. ``relation``/``speakers``/``sound_environment`` given
    here (a request's own fields) win over the message's; what neither sets gets neutral
    defaults."""
    kinds: dict[Any, _Kind] = {v: k for k, v in _KIND.items()}
    segments = []
    for i, s in enumerate(m.segments):
        sp = f"{field}.segments[{i}]"
        if s.speaker not in _SPEAKER_BACK:
            raise InvalidInput(f"{sp}.speaker", "SPEAKER_A or SPEAKER_B")
        if s.kind not in kinds:
            raise InvalidInput(f"{sp}.kind", "SEGMENT_KIND_SENTENCE or SEGMENT_KIND_BACKCHANNEL")
        segments.append(
            Segment(
                _SPEAKER_BACK[s.speaker],
                kinds[s.kind],
                s.text,
                s.start_s,
                s.end_s,
                emotion_from_pb(s.emotion, f"{sp}.emotion"),
                s.turn_index,
            )
        )
    if speakers is None and m.speaker_a.name and m.speaker_b.name:
        speakers = {
            "a": identity_from_pb(m.speaker_a, f"{field}.speaker_a"),
            "b": identity_from_pb(m.speaker_b, f"{field}.speaker_b"),
        }
    tl = Timeline(
        sample_rate=SAMPLE_RATE,
        duration_s=m.duration_s,
        speakers=speakers or {"a": Identity("Speaker A"), "b": Identity("Speaker B")},
        relation=relation or relation_from_pb(m.relation) or Relation(),
        sound_environment=sound_environment or m.sound_environment or "unknown",
        segments=tuple(sorted(segments, key=lambda s: (s.start_s, s.speaker))),
    )
    tl.validate(field)
    return tl


def check_clip_claims(m: Any, field: str) -> None:
    """What an AudioTrack, MotionClip or FeatureClip claims about itself, checked: the speaker
    is one of the enum's values (never echoed back unchecked), counts are not negative."""
    if m.speaker not in (c.SPEAKER_UNSPECIFIED, c.SPEAKER_A, c.SPEAKER_B):
        raise InvalidInput(f"{field}.speaker", f"SPEAKER_A or SPEAKER_B, got {m.speaker}")
    for name in ("num_frames", "fps", "dim", "sample_rate_hz", "num_channels"):
        if name in m.DESCRIPTOR.fields_by_name and getattr(m, name) < 0:
            raise InvalidInput(f"{field}.{name}", f"must not be negative, got {getattr(m, name)}")


def track_to_pb(ref: ArtifactRef, speaker: Any, duration_s: float = 0.0) -> c.AudioTrack:
    """One speaker's track (16 kHz mono, DESIGN.md §2) as an ``AudioTrack``."""
    return c.AudioTrack(
        speaker=speaker,
        artifact=ref.to_proto(),
        sample_rate_hz=SAMPLE_RATE,
        num_channels=1,
        duration_s=duration_s,
    )


def features_to_pb(f: StoredFeatures, speaker: Any) -> c.FeatureClip:
    return c.FeatureClip(
        speaker=speaker,
        backend=f.backend,
        fps=f.fps,
        num_frames=f.num_frames,
        dim=f.dim,
        artifact=f.artifact.to_proto(),
    )


def features_from_pb(m: c.FeatureClip, field: str) -> StoredFeatures | None:
    """The features a request carries, or None when the field is unset (no artefact URI)."""
    if not m.artifact.uri:
        return None
    if m.fps and m.fps != FPS:
        raise InvalidInput(f"{field}.fps", f"{m.fps}; motion runs at {FPS} fps")
    if m.num_frames < 0 or m.dim < 0:
        raise InvalidInput(f"{field}.num_frames", "must not be negative")
    return StoredFeatures(
        ArtifactRef.from_proto(m.artifact), m.backend, m.fps or FPS, m.num_frames, m.dim
    )


def feature_pair_from_pb(
    a: c.FeatureClip, b: c.FeatureClip, field: str = "features"
) -> tuple[StoredFeatures, StoredFeatures] | None:
    """Both speakers' features, or None when neither is given; one without the other is an
    error naming the missing field."""
    fa, fb = features_from_pb(a, f"{field}_a"), features_from_pb(b, f"{field}_b")
    if (fa is None) != (fb is None):
        missing = f"{field}_b" if fb is None else f"{field}_a"
        raise InvalidInput(f"{missing}.artifact.uri", "give both speakers' features or neither")
    return None if fa is None or fb is None else (fa, fb)


def conversation_to_pb(s: StoredConversation) -> c.Conversation:
    out = c.Conversation(
        timeline=timeline_to_pb(s.timeline),
        track_a=track_to_pb(s.track_a, c.SPEAKER_A, s.duration_s),
        track_b=track_to_pb(s.track_b, c.SPEAKER_B, s.duration_s),
    )
    if s.dialogue is not None:
        out.dialogue.CopyFrom(dialogue_to_pb(s.dialogue))
    if s.mix is not None:
        out.mix.CopyFrom(s.mix.to_proto())
    return out


def conversation_from_pb(m: c.Conversation, field: str = "conversation") -> StoredConversation:
    """What ``conversation_to_pb`` sends, back to the domain (the client side of the stages)."""
    if not m.track_a.artifact.uri or not m.track_b.artifact.uri:
        raise InvalidInput(f"{field}.track_a", "both tracks are required")
    timeline = timeline_from_pb(m.timeline)
    return StoredConversation(
        timeline,
        dialogue_from_pb(m.dialogue, f"{field}.dialogue") if m.HasField("dialogue") else None,
        ArtifactRef.from_proto(m.track_a.artifact),
        ArtifactRef.from_proto(m.track_b.artifact),
        ArtifactRef.from_proto(m.mix) if m.mix.uri else None,
        timeline.duration_s,
    )
