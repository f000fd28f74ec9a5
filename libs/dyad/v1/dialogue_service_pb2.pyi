from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteDialoguesRequest(_message.Message):
    __slots__ = ("prompt", "num_dialogues", "backend", "seed", "temperature", "relation", "scenario", "min_turns", "max_turns")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NUM_DIALOGUES_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    MIN_TURNS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    num_dialogues: int
    backend: str
    seed: int
    temperature: float
    relation: _common_pb2.SocialRelation
    scenario: _common_pb2.ScenarioFamily
    min_turns: int
    max_turns: int
    def __init__(self, prompt: _Optional[str] = ..., num_dialogues: _Optional[int] = ..., backend: _Optional[str] = ..., seed: _Optional[int] = ..., temperature: _Optional[float] = ..., relation: _Optional[_Union[_common_pb2.SocialRelation, _Mapping]] = ..., scenario: _Optional[_Union[_common_pb2.ScenarioFamily, str]] = ..., min_turns: _Optional[int] = ..., max_turns: _Optional[int] = ...) -> None: ...

class WriteDialoguesResponse(_message.Message):
    __slots__ = ("dialogues",)
    DIALOGUES_FIELD_NUMBER: _ClassVar[int]
    dialogues: _containers.RepeatedCompositeFieldContainer[_common_pb2.Dialogue]
    def __init__(self, dialogues: _Optional[_Iterable[_Union[_common_pb2.Dialogue, _Mapping]]] = ...) -> None: ...

class SynthesizeConversationRequest(_message.Message):
    __slots__ = ("dialogue", "speech_backend", "interaction_probability", "seed", "sample_rate_hz", "voice_a", "voice_b")
    DIALOGUE_FIELD_NUMBER: _ClassVar[int]
    SPEECH_BACKEND_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_HZ_FIELD_NUMBER: _ClassVar[int]
    VOICE_A_FIELD_NUMBER: _ClassVar[int]
    VOICE_B_FIELD_NUMBER: _ClassVar[int]
    dialogue: _common_pb2.Dialogue
    speech_backend: str
    interaction_probability: float
    seed: int
    sample_rate_hz: int
    voice_a: str
    voice_b: str
    def __init__(self, dialogue: _Optional[_Union[_common_pb2.Dialogue, _Mapping]] = ..., speech_backend: _Optional[str] = ..., interaction_probability: _Optional[float] = ..., seed: _Optional[int] = ..., sample_rate_hz: _Optional[int] = ..., voice_a: _Optional[str] = ..., voice_b: _Optional[str] = ...) -> None: ...

class SynthesizeConversationResponse(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...

class SegmentConversationRequest(_message.Message):
    __slots__ = ("stereo", "tracks")
    STEREO_FIELD_NUMBER: _ClassVar[int]
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    stereo: _common_pb2.ArtifactRef
    tracks: TrackPair
    def __init__(self, stereo: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., tracks: _Optional[_Union[TrackPair, _Mapping]] = ...) -> None: ...

class TrackPair(_message.Message):
    __slots__ = ("track_a", "track_b")
    TRACK_A_FIELD_NUMBER: _ClassVar[int]
    TRACK_B_FIELD_NUMBER: _ClassVar[int]
    track_a: _common_pb2.ArtifactRef
    track_b: _common_pb2.ArtifactRef
    def __init__(self, track_a: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., track_b: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class SegmentConversationResponse(_message.Message):
    __slots__ = ("conversation",)
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    conversation: _common_pb2.Conversation
    def __init__(self, conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ...) -> None: ...
