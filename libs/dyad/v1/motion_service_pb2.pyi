from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GenerateMotionRequest(_message.Message):
    __slots__ = ("backend", "model_id", "rig", "track_a", "track_b", "features_a", "features_b", "timeline", "relation", "identity_a", "identity_b", "seed")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    TRACK_A_FIELD_NUMBER: _ClassVar[int]
    TRACK_B_FIELD_NUMBER: _ClassVar[int]
    FEATURES_A_FIELD_NUMBER: _ClassVar[int]
    FEATURES_B_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_A_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_B_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    backend: str
    model_id: str
    rig: str
    track_a: _common_pb2.AudioTrack
    track_b: _common_pb2.AudioTrack
    features_a: _common_pb2.FeatureClip
    features_b: _common_pb2.FeatureClip
    timeline: _common_pb2.Timeline
    relation: _common_pb2.SocialRelation
    identity_a: _common_pb2.Identity
    identity_b: _common_pb2.Identity
    seed: int
    def __init__(self, backend: _Optional[str] = ..., model_id: _Optional[str] = ..., rig: _Optional[str] = ..., track_a: _Optional[_Union[_common_pb2.AudioTrack, _Mapping]] = ..., track_b: _Optional[_Union[_common_pb2.AudioTrack, _Mapping]] = ..., features_a: _Optional[_Union[_common_pb2.FeatureClip, _Mapping]] = ..., features_b: _Optional[_Union[_common_pb2.FeatureClip, _Mapping]] = ..., timeline: _Optional[_Union[_common_pb2.Timeline, _Mapping]] = ..., relation: _Optional[_Union[_common_pb2.SocialRelation, _Mapping]] = ..., identity_a: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., identity_b: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., seed: _Optional[int] = ...) -> None: ...

class GenerateMotionResponse(_message.Message):
    __slots__ = ("motion_a", "motion_b")
    MOTION_A_FIELD_NUMBER: _ClassVar[int]
    MOTION_B_FIELD_NUMBER: _ClassVar[int]
    motion_a: _common_pb2.MotionClip
    motion_b: _common_pb2.MotionClip
    def __init__(self, motion_a: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., motion_b: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ...) -> None: ...

class MotionChunk(_message.Message):
    __slots__ = ("start_frame", "num_frames", "channel_names", "values_a", "values_b")
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    VALUES_A_FIELD_NUMBER: _ClassVar[int]
    VALUES_B_FIELD_NUMBER: _ClassVar[int]
    start_frame: int
    num_frames: int
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    values_a: _containers.RepeatedScalarFieldContainer[float]
    values_b: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, start_frame: _Optional[int] = ..., num_frames: _Optional[int] = ..., channel_names: _Optional[_Iterable[str]] = ..., values_a: _Optional[_Iterable[float]] = ..., values_b: _Optional[_Iterable[float]] = ...) -> None: ...
