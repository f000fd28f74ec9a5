import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Speaker(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SPEAKER_UNSPECIFIED: _ClassVar[Speaker]
    SPEAKER_A: _ClassVar[Speaker]
    SPEAKER_B: _ClassVar[Speaker]

class EmotionCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMOTION_CATEGORY_UNSPECIFIED: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_NEUTRAL: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_HAPPY: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_SAD: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_ANGRY: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_SURPRISED: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_FEARFUL: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_DISGUSTED: _ClassVar[EmotionCategory]
    EMOTION_CATEGORY_CONTEMPT: _ClassVar[EmotionCategory]

class ScenarioFamily(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCENARIO_FAMILY_UNSPECIFIED: _ClassVar[ScenarioFamily]
    SCENARIO_FAMILY_CASUAL: _ClassVar[ScenarioFamily]
    SCENARIO_FAMILY_PROFESSIONAL: _ClassVar[ScenarioFamily]
    SCENARIO_FAMILY_EMOTIONAL: _ClassVar[ScenarioFamily]
    SCENARIO_FAMILY_ACADEMIC: _ClassVar[ScenarioFamily]
    SCENARIO_FAMILY_SOCIAL: _ClassVar[ScenarioFamily]

class SegmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_KIND_UNSPECIFIED: _ClassVar[SegmentKind]
    SEGMENT_KIND_SENTENCE: _ClassVar[SegmentKind]
    SEGMENT_KIND_BACKCHANNEL: _ClassVar[SegmentKind]

class Layout(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LAYOUT_UNSPECIFIED: _ClassVar[Layout]
    LAYOUT_SIDE_BY_SIDE: _ClassVar[Layout]
    LAYOUT_PICTURE_IN_PICTURE: _ClassVar[Layout]
    LAYOUT_SINGLE: _ClassVar[Layout]
SPEAKER_UNSPECIFIED: Speaker
SPEAKER_A: Speaker
SPEAKER_B: Speaker
EMOTION_CATEGORY_UNSPECIFIED: EmotionCategory
EMOTION_CATEGORY_NEUTRAL: EmotionCategory
EMOTION_CATEGORY_HAPPY: EmotionCategory
EMOTION_CATEGORY_SAD: EmotionCategory
EMOTION_CATEGORY_ANGRY: EmotionCategory
EMOTION_CATEGORY_SURPRISED: EmotionCategory
EMOTION_CATEGORY_FEARFUL: EmotionCategory
EMOTION_CATEGORY_DISGUSTED: EmotionCategory
EMOTION_CATEGORY_CONTEMPT: EmotionCategory
SCENARIO_FAMILY_UNSPECIFIED: ScenarioFamily
SCENARIO_FAMILY_CASUAL: ScenarioFamily
SCENARIO_FAMILY_PROFESSIONAL: ScenarioFamily
SCENARIO_FAMILY_EMOTIONAL: ScenarioFamily
SCENARIO_FAMILY_ACADEMIC: ScenarioFamily
SCENARIO_FAMILY_SOCIAL: ScenarioFamily
SEGMENT_KIND_UNSPECIFIED: SegmentKind
SEGMENT_KIND_SENTENCE: SegmentKind
SEGMENT_KIND_BACKCHANNEL: SegmentKind
LAYOUT_UNSPECIFIED: Layout
LAYOUT_SIDE_BY_SIDE: Layout
LAYOUT_PICTURE_IN_PICTURE: Layout
LAYOUT_SINGLE: Layout

class ArtifactRef(_message.Message):
    __slots__ = ("uri", "sha256", "size_bytes", "content_type")
    URI_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    uri: str
    sha256: str
    size_bytes: int
    content_type: str
    def __init__(self, uri: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., content_type: _Optional[str] = ...) -> None: ...

class AudioTrack(_message.Message):
    __slots__ = ("speaker", "artifact", "sample_rate_hz", "num_channels", "duration_s")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    NUM_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    speaker: Speaker
    artifact: ArtifactRef
    sample_rate_hz: int
    num_channels: int
    duration_s: float
    def __init__(self, speaker: _Optional[_Union[Speaker, str]] = ..., artifact: _Optional[_Union[ArtifactRef, _Mapping]] = ..., sample_rate_hz: _Optional[int] = ..., num_channels: _Optional[int] = ..., duration_s: _Optional[float] = ...) -> None: ...

class MotionClip(_message.Message):
    __slots__ = ("speaker", "rig", "channel_names", "fps", "num_frames", "artifact")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    speaker: Speaker
    rig: str
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    fps: int
    num_frames: int
    artifact: ArtifactRef
    def __init__(self, speaker: _Optional[_Union[Speaker, str]] = ..., rig: _Optional[str] = ..., channel_names: _Optional[_Iterable[str]] = ..., fps: _Optional[int] = ..., num_frames: _Optional[int] = ..., artifact: _Optional[_Union[ArtifactRef, _Mapping]] = ...) -> None: ...

class FeatureClip(_message.Message):
    __slots__ = ("speaker", "backend", "fps", "num_frames", "dim", "artifact")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    speaker: Speaker
    backend: str
    fps: int
    num_frames: int
    dim: int
    artifact: ArtifactRef
    def __init__(self, speaker: _Optional[_Union[Speaker, str]] = ..., backend: _Optional[str] = ..., fps: _Optional[int] = ..., num_frames: _Optional[int] = ..., dim: _Optional[int] = ..., artifact: _Optional[_Union[ArtifactRef, _Mapping]] = ...) -> None: ...

class Emotion(_message.Message):
    __slots__ = ("category", "intensity", "rate", "pitch", "energy", "pause_s")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    INTENSITY_FIELD_NUMBER: _ClassVar[int]
    RATE_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    ENERGY_FIELD_NUMBER: _ClassVar[int]
    PAUSE_S_FIELD_NUMBER: _ClassVar[int]
    category: EmotionCategory
    intensity: float
    rate: float
    pitch: float
    energy: float
    pause_s: float
    def __init__(self, category: _Optional[_Union[EmotionCategory, str]] = ..., intensity: _Optional[float] = ..., rate: _Optional[float] = ..., pitch: _Optional[float] = ..., energy: _Optional[float] = ..., pause_s: _Optional[float] = ...) -> None: ...

class SocialRelation(_message.Message):
    __slots__ = ("blood", "equal", "label")
    BLOOD_FIELD_NUMBER: _ClassVar[int]
    EQUAL_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    blood: bool
    equal: bool
    label: str
    def __init__(self, blood: _Optional[bool] = ..., equal: _Optional[bool] = ..., label: _Optional[str] = ...) -> None: ...

class Identity(_message.Message):
    __slots__ = ("name", "age_band", "gender_presentation", "voice", "appearance", "personality", "avatar_uri")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AGE_BAND_FIELD_NUMBER: _ClassVar[int]
    GENDER_PRESENTATION_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    APPEARANCE_FIELD_NUMBER: _ClassVar[int]
    PERSONALITY_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URI_FIELD_NUMBER: _ClassVar[int]
    name: str
    age_band: str
    gender_presentation: str
    voice: str
    appearance: _containers.RepeatedScalarFieldContainer[str]
    personality: str
    avatar_uri: str
    def __init__(self, name: _Optional[str] = ..., age_band: _Optional[str] = ..., gender_presentation: _Optional[str] = ..., voice: _Optional[str] = ..., appearance: _Optional[_Iterable[str]] = ..., personality: _Optional[str] = ..., avatar_uri: _Optional[str] = ...) -> None: ...

class Sentence(_message.Message):
    __slots__ = ("text", "emotion")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    text: str
    emotion: Emotion
    def __init__(self, text: _Optional[str] = ..., emotion: _Optional[_Union[Emotion, _Mapping]] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("speaker", "sentences")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    speaker: Speaker
    sentences: _containers.RepeatedCompositeFieldContainer[Sentence]
    def __init__(self, speaker: _Optional[_Union[Speaker, str]] = ..., sentences: _Optional[_Iterable[_Union[Sentence, _Mapping]]] = ...) -> None: ...

class Dialogue(_message.Message):
    __slots__ = ("dialogue_id", "scenario", "speaker_a", "speaker_b", "relation", "turns", "environment", "prompt", "seed")
    DIALOGUE_ID_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_A_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_B_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    TURNS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    dialogue_id: str
    scenario: ScenarioFamily
    speaker_a: Identity
    speaker_b: Identity
    relation: SocialRelation
    turns: _containers.RepeatedCompositeFieldContainer[Turn]
    environment: str
    prompt: str
    seed: int
    def __init__(self, dialogue_id: _Optional[str] = ..., scenario: _Optional[_Union[ScenarioFamily, str]] = ..., speaker_a: _Optional[_Union[Identity, _Mapping]] = ..., speaker_b: _Optional[_Union[Identity, _Mapping]] = ..., relation: _Optional[_Union[SocialRelation, _Mapping]] = ..., turns: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., environment: _Optional[str] = ..., prompt: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("speaker", "kind", "text", "start_s", "end_s", "turn_index", "emotion")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_S_FIELD_NUMBER: _ClassVar[int]
    END_S_FIELD_NUMBER: _ClassVar[int]
    TURN_INDEX_FIELD_NUMBER: _ClassVar[int]
    EMOTION_FIELD_NUMBER: _ClassVar[int]
    speaker: Speaker
    kind: SegmentKind
    text: str
    start_s: float
    end_s: float
    turn_index: int
    emotion: Emotion
    def __init__(self, speaker: _Optional[_Union[Speaker, str]] = ..., kind: _Optional[_Union[SegmentKind, str]] = ..., text: _Optional[str] = ..., start_s: _Optional[float] = ..., end_s: _Optional[float] = ..., turn_index: _Optional[int] = ..., emotion: _Optional[_Union[Emotion, _Mapping]] = ...) -> None: ...

class Timeline(_message.Message):
    __slots__ = ("duration_s", "segments", "speaker_a", "speaker_b", "relation", "sound_environment")
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_A_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_B_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    SOUND_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    duration_s: float
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    speaker_a: Identity
    speaker_b: Identity
    relation: SocialRelation
    sound_environment: str
    def __init__(self, duration_s: _Optional[float] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., speaker_a: _Optional[_Union[Identity, _Mapping]] = ..., speaker_b: _Optional[_Union[Identity, _Mapping]] = ..., relation: _Optional[_Union[SocialRelation, _Mapping]] = ..., sound_environment: _Optional[str] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("dialogue", "timeline", "track_a", "track_b", "mix")
    DIALOGUE_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    TRACK_A_FIELD_NUMBER: _ClassVar[int]
    TRACK_B_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    dialogue: Dialogue
    timeline: Timeline
    track_a: AudioTrack
    track_b: AudioTrack
    mix: ArtifactRef
    def __init__(self, dialogue: _Optional[_Union[Dialogue, _Mapping]] = ..., timeline: _Optional[_Union[Timeline, _Mapping]] = ..., track_a: _Optional[_Union[AudioTrack, _Mapping]] = ..., track_b: _Optional[_Union[AudioTrack, _Mapping]] = ..., mix: _Optional[_Union[ArtifactRef, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("time", "message")
    TIME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    message: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...
