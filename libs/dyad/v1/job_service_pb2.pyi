import datetime

from dyad.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_RETRYING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]

class Priority(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRIORITY_UNSPECIFIED: _ClassVar[Priority]
    PRIORITY_LOW: _ClassVar[Priority]
    PRIORITY_NORMAL: _ClassVar[Priority]
    PRIORITY_HIGH: _ClassVar[Priority]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_RETRYING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus
PRIORITY_UNSPECIFIED: Priority
PRIORITY_LOW: Priority
PRIORITY_NORMAL: Priority
PRIORITY_HIGH: Priority

class JobOptions(_message.Message):
    __slots__ = ("motion_backend", "rig", "refine", "layout", "seed", "relation", "identity_a", "identity_b", "head_size_px", "min_turns", "max_turns", "refine_steps", "dataset_prefix", "dataset_split", "voice_a", "voice_b", "per_speaker_videos", "avatar_a", "avatar_b")
    MOTION_BACKEND_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    REFINE_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_A_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_B_FIELD_NUMBER: _ClassVar[int]
    HEAD_SIZE_PX_FIELD_NUMBER: _ClassVar[int]
    MIN_TURNS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    REFINE_STEPS_FIELD_NUMBER: _ClassVar[int]
    DATASET_PREFIX_FIELD_NUMBER: _ClassVar[int]
    DATASET_SPLIT_FIELD_NUMBER: _ClassVar[int]
    VOICE_A_FIELD_NUMBER: _ClassVar[int]
    VOICE_B_FIELD_NUMBER: _ClassVar[int]
    PER_SPEAKER_VIDEOS_FIELD_NUMBER: _ClassVar[int]
    AVATAR_A_FIELD_NUMBER: _ClassVar[int]
    AVATAR_B_FIELD_NUMBER: _ClassVar[int]
    motion_backend: str
    rig: str
    refine: bool
    layout: _common_pb2.Layout
    seed: int
    relation: _common_pb2.SocialRelation
    identity_a: _common_pb2.Identity
    identity_b: _common_pb2.Identity
    head_size_px: int
    min_turns: int
    max_turns: int
    refine_steps: int
    dataset_prefix: str
    dataset_split: str
    voice_a: str
    voice_b: str
    per_speaker_videos: bool
    avatar_a: str
    avatar_b: str
    def __init__(self, motion_backend: _Optional[str] = ..., rig: _Optional[str] = ..., refine: _Optional[bool] = ..., layout: _Optional[_Union[_common_pb2.Layout, str]] = ..., seed: _Optional[int] = ..., relation: _Optional[_Union[_common_pb2.SocialRelation, _Mapping]] = ..., identity_a: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., identity_b: _Optional[_Union[_common_pb2.Identity, _Mapping]] = ..., head_size_px: _Optional[int] = ..., min_turns: _Optional[int] = ..., max_turns: _Optional[int] = ..., refine_steps: _Optional[int] = ..., dataset_prefix: _Optional[str] = ..., dataset_split: _Optional[str] = ..., voice_a: _Optional[str] = ..., voice_b: _Optional[str] = ..., per_speaker_videos: _Optional[bool] = ..., avatar_a: _Optional[str] = ..., avatar_b: _Optional[str] = ...) -> None: ...

class Avatar(_message.Message):
    __slots__ = ("avatar_id", "name", "rig", "num_gaussians", "size_bytes", "head", "uri", "create_time")
    AVATAR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    NUM_GAUSSIANS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    avatar_id: str
    name: str
    rig: str
    num_gaussians: int
    size_bytes: int
    head: str
    uri: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, avatar_id: _Optional[str] = ..., name: _Optional[str] = ..., rig: _Optional[str] = ..., num_gaussians: _Optional[int] = ..., size_bytes: _Optional[int] = ..., head: _Optional[str] = ..., uri: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UploadAvatarRequest(_message.Message):
    __slots__ = ("name", "config_json", "model_safetensors")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    MODEL_SAFETENSORS_FIELD_NUMBER: _ClassVar[int]
    name: str
    config_json: bytes
    model_safetensors: bytes
    def __init__(self, name: _Optional[str] = ..., config_json: _Optional[bytes] = ..., model_safetensors: _Optional[bytes] = ...) -> None: ...

class UploadAvatarResponse(_message.Message):
    __slots__ = ("avatar", "created")
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    avatar: Avatar
    created: bool
    def __init__(self, avatar: _Optional[_Union[Avatar, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class UploadVideoRequest(_message.Message):
    __slots__ = ("data", "content_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...

class UploadVideoResponse(_message.Message):
    __slots__ = ("video", "duration_s")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    video: _common_pb2.ArtifactRef
    duration_s: float
    def __init__(self, video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., duration_s: _Optional[float] = ...) -> None: ...

class ListAvatarsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAvatarsResponse(_message.Message):
    __slots__ = ("avatars",)
    AVATARS_FIELD_NUMBER: _ClassVar[int]
    avatars: _containers.RepeatedCompositeFieldContainer[Avatar]
    def __init__(self, avatars: _Optional[_Iterable[_Union[Avatar, _Mapping]]] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("prompt", "audio", "fit_avatar", "options", "priority", "idempotency_key", "n")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    FIT_AVATAR_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    audio: AudioInput
    fit_avatar: FitAvatarInput
    options: JobOptions
    priority: Priority
    idempotency_key: str
    n: int
    def __init__(self, prompt: _Optional[str] = ..., audio: _Optional[_Union[AudioInput, _Mapping]] = ..., fit_avatar: _Optional[_Union[FitAvatarInput, _Mapping]] = ..., options: _Optional[_Union[JobOptions, _Mapping]] = ..., priority: _Optional[_Union[Priority, str]] = ..., idempotency_key: _Optional[str] = ..., n: _Optional[int] = ...) -> None: ...

class AudioInput(_message.Message):
    __slots__ = ("track_a", "track_b", "stereo")
    TRACK_A_FIELD_NUMBER: _ClassVar[int]
    TRACK_B_FIELD_NUMBER: _ClassVar[int]
    STEREO_FIELD_NUMBER: _ClassVar[int]
    track_a: _common_pb2.ArtifactRef
    track_b: _common_pb2.ArtifactRef
    stereo: _common_pb2.ArtifactRef
    def __init__(self, track_a: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., track_b: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., stereo: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class FitAvatarInput(_message.Message):
    __slots__ = ("video", "name", "iters", "size_px")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ITERS_FIELD_NUMBER: _ClassVar[int]
    SIZE_PX_FIELD_NUMBER: _ClassVar[int]
    video: _common_pb2.ArtifactRef
    name: str
    iters: int
    size_px: int
    def __init__(self, video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., name: _Optional[str] = ..., iters: _Optional[int] = ..., size_px: _Optional[int] = ...) -> None: ...

class SubmitJobResponse(_message.Message):
    __slots__ = ("job", "created")
    JOB_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    job: Job
    created: bool
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class StageProgress(_message.Message):
    __slots__ = ("stage", "progress", "status")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    progress: float
    status: JobStatus
    def __init__(self, stage: _Optional[str] = ..., progress: _Optional[float] = ..., status: _Optional[_Union[JobStatus, str]] = ...) -> None: ...

class JobError(_message.Message):
    __slots__ = ("code", "message", "error_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    error_id: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., error_id: _Optional[str] = ...) -> None: ...

class JobResult(_message.Message):
    __slots__ = ("manifest", "video", "conversation", "motion_a", "motion_b", "download_urls", "artifacts", "avatar")
    class DownloadUrlsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ArtifactsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _common_pb2.ArtifactRef
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    MOTION_A_FIELD_NUMBER: _ClassVar[int]
    MOTION_B_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URLS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    AVATAR_FIELD_NUMBER: _ClassVar[int]
    manifest: _common_pb2.ArtifactRef
    video: _common_pb2.ArtifactRef
    conversation: _common_pb2.Conversation
    motion_a: _common_pb2.MotionClip
    motion_b: _common_pb2.MotionClip
    download_urls: _containers.ScalarMap[str, str]
    artifacts: _containers.MessageMap[str, _common_pb2.ArtifactRef]
    avatar: Avatar
    def __init__(self, manifest: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., video: _Optional[_Union[_common_pb2.ArtifactRef, _Mapping]] = ..., conversation: _Optional[_Union[_common_pb2.Conversation, _Mapping]] = ..., motion_a: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., motion_b: _Optional[_Union[_common_pb2.MotionClip, _Mapping]] = ..., download_urls: _Optional[_Mapping[str, str]] = ..., artifacts: _Optional[_Mapping[str, _common_pb2.ArtifactRef]] = ..., avatar: _Optional[_Union[Avatar, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("job_id", "status", "priority", "stages", "progress", "attempts", "error", "result", "create_time", "update_time", "team", "cancel_requested")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TEAM_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: JobStatus
    priority: Priority
    stages: _containers.RepeatedCompositeFieldContainer[StageProgress]
    progress: float
    attempts: int
    error: JobError
    result: JobResult
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    team: str
    cancel_requested: bool
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., priority: _Optional[_Union[Priority, str]] = ..., stages: _Optional[_Iterable[_Union[StageProgress, _Mapping]]] = ..., progress: _Optional[float] = ..., attempts: _Optional[int] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., result: _Optional[_Union[JobResult, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., team: _Optional[str] = ..., cancel_requested: _Optional[bool] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "after_event_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    after_event_id: str
    def __init__(self, job_id: _Optional[str] = ..., after_event_id: _Optional[str] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "status", "stage", "progress", "event", "event_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: JobStatus
    stage: StageProgress
    progress: float
    event: _common_pb2.Event
    event_id: str
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., stage: _Optional[_Union[StageProgress, _Mapping]] = ..., progress: _Optional[float] = ..., event: _Optional[_Union[_common_pb2.Event, _Mapping]] = ..., event_id: _Optional[str] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ("statuses", "created_after", "created_before", "page_size", "page_token")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[JobStatus]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[JobStatus, str]]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs", "next_page_token")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
