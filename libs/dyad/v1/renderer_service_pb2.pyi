from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RenderVideoRequest(_message.Message):
    __slots__ = ("motion_a", "motion_b", "audio", "avatar_a_uri", "avatar_b_uri", "identity_a", "identity_b", "layout", "head_size_px", "track_a", "track_b", "per_speaker_videos", "relation", "sound_environment")
    MOTION_A_FIELD_NUMBER: _ClassVar[int]
    MOTION_B_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    AVATAR_A_URI_FIELD_NUMBER: _ClassVar[int]
    AVATAR_B_URI_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_A_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_B_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    HEAD_SIZE_PX_FIELD_NUMBER: _ClassVar[int]
    TRACK_A_FIELD_NUMBER: _ClassVar[int]
    TRACK_B_FIELD_NUMBER: _ClassVar[int]
    PER_SPEAKER_VIDEOS_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    SOUND_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    motion_a: _common_pb2.MotionClip
    motion_b: _common_pb2.MotionClip
    audio: _common_pb2.ArtifactRef
    avatar_a_uri: str
    avatar_b_uri: str
    identity_a: _common_pb2.Identity
    identity_b: _common_pb2.Identity
    layout: _common_pb2.Layout
    head_size_px: int
    track_a: _common_pb2.ArtifactRef
    track_b: _common_pb2.ArtifactRef
    per_speaker_videos: bool
    relation: _common_pb2.SocialRelation
    sound_environment: str
    def __init__(self, motion_a: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., motion_b: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., audio: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., avatar_a_uri: _Optional[str] = ..., avatar_b_uri: _Optional[str] = ..., identity_a: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., identity_b: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., layout: _Optional[_Union[_common_pb2.Layout, str]] = ..., head_size_px: _Optional[int] = ..., track_a: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., track_b: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., per_speaker_videos: _Optional[bool] = ..., relation: _Optional[_Union[_common_pb2.SocialRelation, _Mapping]] = ..., sound_environment: _Optional[str] = ...) -> None: ...

class RenderVideoResponse(_message.Message):
    __slots__ = ("video", "num_frames", "width", "height", "speaker_a_video", "speaker_b_video")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    NUM_FRAMES_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_A_VIDEO_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_B_VIDEO_FIELD_NUMBER: _ClassVar[int]
    video: _common_pb2.ArtifactRef
    num_frames: int
    width: int
    height: int
    speaker_a_video: _common_pb2.ArtifactRef
    speaker_b_video: _common_pb2.ArtifactRef
    def __init__(self, video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., num_frames: _Optional[int] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., speaker_a_video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., speaker_b_video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class FrameChunk(_message.Message):
    __slots__ = ("start_frame", "png_frames")
    START_FRAME_FIELD_NUMBER: _ClassVar[int]
    PNG_FRAMES_FIELD_NUMBER: _ClassVar[int]
    start_frame: int
    png_frames: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, start_frame: _Optional[int] = ..., png_frames: _Optional[_Iterable[bytes]] = ...) -> None: ...

class CreateAvatarRequest(_message.Message):
    __slots__ = ("identity", "head_model", "seed")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    HEAD_MODEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    identity: _common_pb2.Identity
    head_model: str
    seed: int
    def __init__(self, identity: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., head_model: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class CreateAvatarResponse(_message.Message):
    __slots__ = ("avatar_uri", "preview_png")
    AVATAR_URI_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_PNG_FIELD_NUMBER: _ClassVar[int]
    avatar_uri: str
    preview_png: _common_pb2.ArtifactRef
    def __init__(self, avatar_uri: _Optional[str] = ..., preview_png: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...
