from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EncodeAudioRequest(_message.Message):
    __slots__ = ("tracks", "backend", "model_id", "fps")
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    tracks: _containers.RepeatedCompositeFieldContainer[_common_pb2.AudioTrack]
    backend: str
    model_id: str
    fps: int
    def __init__(self, tracks: _Optional[_Iterable[_Union[_common_pb2.AudioTrack, _Mapping]]] = ..., backend: _Optional[str] = ..., model_id: _Optional[str] = ..., fps: _Optional[int] = ...) -> None: ...

class EncodeAudioResponse(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[EncodedTrack]
    def __init__(self, features: _Optional[_Iterable[_Union[EncodedTrack, _Mapping]]] = ...) -> None: ...

class EncodedTrack(_message.Message):
    __slots__ = ("clip", "cache_hit")
    CLIP_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    clip: _common_pb2.FeatureClip
    cache_hit: bool
    def __init__(self, clip: _Optional[_Union[_common_pb2.FeatureClip, _Mapping]] = ..., cache_hit: _Optional[bool] = ...) -> None: ...
