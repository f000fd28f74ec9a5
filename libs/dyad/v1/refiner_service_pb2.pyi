from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefinerBlock(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFINER_BLOCK_UNSPECIFIED: _ClassVar[RefinerBlock]
    REFINER_BLOCK_SFBG: _ClassVar[RefinerBlock]
    REFINER_BLOCK_RFBG: _ClassVar[RefinerBlock]
    REFINER_BLOCK_TCR: _ClassVar[RefinerBlock]
REFINER_BLOCK_UNSPECIFIED: RefinerBlock
REFINER_BLOCK_SFBG: RefinerBlock
REFINER_BLOCK_RFBG: RefinerBlock
REFINER_BLOCK_TCR: RefinerBlock

class RefineMotionRequest(_message.Message):
    __slots__ = ("motion_a", "motion_b", "timeline", "num_steps", "blocks", "model_id", "seed", "relation", "identity_a", "identity_b", "strength", "guidance", "features_a", "features_b")
    MOTION_A_FIELD_NUMBER: _ClassVar[int]
    MOTION_B_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    NUM_STEPS_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_A_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_B_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_A_FIELD_NUMBER: _ClassVar[int]
    FEATURES_B_FIELD_NUMBER: _ClassVar[int]
    motion_a: _common_pb2.MotionClip
    motion_b: _common_pb2.MotionClip
    timeline: _common_pb2.Timeline
    num_steps: int
    blocks: _containers.RepeatedScalarFieldContainer[RefinerBlock]
    model_id: str
    seed: int
    relation: _common_pb2.SocialRelation
    identity_a: _common_pb2.Identity
    identity_b: _common_pb2.Identity
    strength: float
    guidance: float
    features_a: _common_pb2.FeatureClip
    features_b: _common_pb2.FeatureClip
    def __init__(self, motion_a: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., motion_b: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., timeline: _Optional[_Union[_common_pb2.Timeline, _Mapping]] = ..., num_steps: _Optional[int] = ..., blocks: _Optional[_Iterable[_Union[RefinerBlock, str]]] = ..., model_id: _Optional[str] = ..., seed: _Optional[int] = ..., relation: _Optional[_Union[_common_pb2.SocialRelation, _Mapping]] = ..., identity_a: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., identity_b: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., strength: _Optional[float] = ..., guidance: _Optional[float] = ..., features_a: _Optional[_Union[_common_pb2.FeatureClip, _Mapping]] = ..., features_b: _Optional[_Union[_common_pb2.FeatureClip, _Mapping]] = ...) -> None: ...

class RefineMotionResponse(_message.Message):
    __slots__ = ("motion_a", "motion_b")
    MOTION_A_FIELD_NUMBER: _ClassVar[int]
    MOTION_B_FIELD_NUMBER: _ClassVar[int]
    motion_a: _common_pb2.MotionClip
    motion_b: _common_pb2.MotionClip
    def __init__(self, motion_a: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., motion_b: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ...) -> None: ...
