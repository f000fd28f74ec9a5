"""A team's avatars in the artefact store: checked on the way in, listed, resolved by reference.

Layout (``<team>`` from the caller's token; a team's keys are never built from request text
other than a checked name)::

    avatars/teams/<team>/<avatar_id>/config.json        # the avatar directory's two files,
    avatars/teams/<team>/<avatar_id>/model.safetensors  # as `GaussianAvatar.save` writes them
    avatars/teams/<team>/names/<name>.json              # the name → AvatarInfo, written last

``avatar_id`` is the content address of the two files (sha256, 32 hex digits), so a render's
stage-cache key and the renderer's per-replica avatar cache, both keyed by the avatar's store
key, can never serve stale bytes. The name file is the commit point: an avatar is listed, and
usable by reference, only once both files are stored.

The checks run before anything is stored and need neither torch nor the renderer (the gateway
may not import another service): ``config.json`` is the renderer's format and version, names a
known rig and a positive Gaussian count; ``model.safetensors`` is a well-formed safetensors file
whose header lists the avatar's tensors with ``num_gaussians`` rows and whose byte ranges tile
the data exactly. Whether the head model itself builds is the renderer's check when it loads
the avatar. The worker (a composition root) stores fitted avatars through ``TeamAvatars`` too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import time
from dataclasses import asdict, dataclass
from typing import Any

from dyad.errors import InvalidInput, NotFound
from dyad.rigs import RIGS
from dyad.storage import ArtifactStore
from dyad.storage.base import validate_key

#: The renderer's avatar directory format (``services/renderer/avatars/avatar.py``), repeated
#: here because a service never imports another one.
AVATAR_FORMAT = "dyad-gaussian-avatar"
AVATAR_VERSION = 1
AVATAR_FILES = ("config.json", "model.safetensors")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
AVATAR_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_CONFIG_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 1024 * 1024

_FLOATS = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
_INTS = {"I32": 4, "I64": 8}
#: Tensor → (dtypes, shape after the Gaussian axis) that every avatar holds.
REQUIRED_TENSORS: dict[str, tuple[dict[str, int], tuple[int, ...]]] = {
    "binding": (_INTS, ()),  # [N] triangle per Gaussian
    "xyz": (_FLOATS, (3,)),  # [N, 3]
    "log_scale": (_FLOATS, (3,)),  # [N, 3]
    "rot": (_FLOATS, (4,)),  # [N, 4] quaternion
    "opacity": (_FLOATS, ()),  # [N]
    "albedo": (_FLOATS, (3,)),  # [N, 3]
    "soft": (_FLOATS, ()),  # [N]
}
_DTYPE_BYTES = {**_FLOATS, **_INTS, "I8": 1, "U8": 1, "I16": 2, "BOOL": 1}


@dataclass(frozen=True)
class AvatarInfo:
    """One stored avatar as its team sees it (``Avatar`` on the wire)."""

    avatar_id: str
    name: str
    rig: str
    num_gaussians: int
    size_bytes: int
    head: str
    #: The avatar's store key prefix: ``avatars/teams/<team>/<avatar_id>``.
    key: str
    created_at: float
    #: ``upload`` or ``fit:<job_id>``.
    source: str = "upload"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AvatarInfo:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def check_name(name: str, field: str = "name") -> str:
    if not NAME.match(name):
        raise InvalidInput(
            field,
            "1–64 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit",
        )
    return name


def _check_config(data: bytes, field: str) -> dict[str, Any]:
    if len(data) > MAX_CONFIG_BYTES:
        raise InvalidInput(field, f"{len(data)} bytes; the limit is {MAX_CONFIG_BYTES}")
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: [[[…
        raise InvalidInput(field, "not JSON") from None
    if not isinstance(config, dict):
        raise InvalidInput(field, "not a JSON object")
    if config.get("format") != AVATAR_FORMAT or config.get("version") != AVATAR_VERSION:
        raise InvalidInput(
            f"{field}.format", f"not a {AVATAR_FORMAT} v{AVATAR_VERSION} avatar config"
        )
    if config.get("rig") not in RIGS:
        raise InvalidInput(f"{field}.rig", f"expected one of {', '.join(sorted(RIGS))}")
    n = config.get("num_gaussians")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidInput(f"{field}.num_gaussians", "expected a positive integer")
    head = config.get("head")
    if not isinstance(head, dict) or not isinstance(head.get("kind"), str):
        raise InvalidInput(f"{field}.head", "expected an object naming its `kind`")
    return config


def _check_tensors(data: bytes, num_gaussians: int, field: str) -> None:
    """A safetensors file: ``u64`` header length, JSON header, then the tensors' bytes."""
    if len(data) < 8:
        raise InvalidInput(field, "too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if not 2 <= header_len <= min(MAX_HEADER_BYTES, len(data) - 8):
        raise InvalidInput(field, "not a safetensors file (bad header length)")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidInput(field, "not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise InvalidInput(field, "not a safetensors file (header is not an object)")
    header.pop("__metadata__", None)
    body = len(data) - 8 - header_len
    spans: list[tuple[int, int]] = []
    for name, t in header.items():
        where = f"{field}.{name}"
        if not isinstance(t, dict):
            raise InvalidInput(where, "not a tensor entry")
        dtype, shape, offsets = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        if dtype not in _DTYPE_BYTES:
            raise InvalidInput(where, f"unknown dtype {dtype!r}")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise InvalidInput(where, "shape must be a list of non-negative integers")
        if not (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= body
        ):
            raise InvalidInput(where, "data_offsets outside the file")
        if offsets[1] - offsets[0] != math.prod(shape) * _DTYPE_BYTES[dtype]:
            raise InvalidInput(where, "data_offsets do not match its shape and dtype")
        spans.append((offsets[0], offsets[1]))
    spans.sort()
    covered = 0
    for start, end in spans:  # the tensors tile the data: no gaps, no overlaps, no tail
        if start != covered:
            raise InvalidInput(field, "tensor data overlaps or leaves gaps")
        covered = end
    if covered != body:
        raise InvalidInput(field, f"{body - covered} bytes after the last tensor")
    for name, (dtypes, tail) in REQUIRED_TENSORS.items():
        t = header.get(name)
        if t is None:
            raise InvalidInput(f"{field}.{name}", "missing")
        if t["dtype"] not in dtypes:
            raise InvalidInput(f"{field}.{name}", f"dtype {t['dtype']}; expected {sorted(dtypes)}")
        if tuple(t["shape"]) != (num_gaussians, *tail):
            raise InvalidInput(
                f"{field}.{name}",
                f"shape {t['shape']}; expected {[num_gaussians, *tail]} (num_gaussians rows)",
            )


def check_avatar_files(
    config_json: bytes, model_safetensors: bytes, *, max_bytes: int
) -> dict[str, Any]:
    """Refuse what is not an avatar directory's two files (InvalidInput naming the field and,
    inside a file, the entry); the parsed config."""
    size = len(config_json) + len(model_safetensors)
    if size > max_bytes:
        raise InvalidInput("model_safetensors", f"{size} bytes in all; the limit is {max_bytes}")
    if not config_json:
        raise InvalidInput("config_json", "required")
    if not model_safetensors:
        raise InvalidInput("model_safetensors", "required")
    config = _check_config(config_json, "config_json")
    _check_tensors(model_safetensors, int(config["num_gaussians"]), "model_safetensors")
    return config


class TeamAvatars:
    """Each team's avatars in one store (see the module docstring for the layout)."""

    def __init__(self, store: ArtifactStore, max_bytes: int) -> None:
        self.store, self.max_bytes = store, max_bytes

    @staticmethod
    def prefix(team: str) -> str:
        return validate_key(f"avatars/teams/{team}", field="team")

    def put(
        self,
        team: str,
        name: str,
        config_json: bytes,
        model_safetensors: bytes,
        *,
        source: str = "upload",
    ) -> tuple[AvatarInfo, bool]:
        """Check and store an avatar as ``name``; ``created`` is False when the name already
        named these exact files (nothing is written then)."""
        check_name(name)
        config = check_avatar_files(config_json, model_safetensors, max_bytes=self.max_bytes)
        digest = hashlib.sha256()
        for data in (config_json, model_safetensors):  # length-prefixed: no ambiguity
            digest.update(len(data).to_bytes(8, "little") + data)
        avatar_id = digest.hexdigest()[:32]
        current = self._named(team, name)
        if current is not None and current.avatar_id == avatar_id:
            return current, False
        key = f"{self.prefix(team)}/{avatar_id}"
        self.store.put_named(f"{key}/model.safetensors", model_safetensors)
        self.store.put_named(f"{key}/config.json", config_json, "application/json")
        info = AvatarInfo(
            avatar_id=avatar_id,
            name=name,
            rig=str(config["rig"]),
            num_gaussians=int(config["num_gaussians"]),
            size_bytes=len(config_json) + len(model_safetensors),
            head=str(config["head"]["kind"]),
            key=key,
            created_at=time.time(),
            source=source,
        )
        body = json.dumps(info.to_dict(), sort_keys=True).encode()
        self.store.put_named(self._name_key(team, name), body, "application/json")
        return info, True

    def list(self, team: str) -> list[AvatarInfo]:
        """The team's avatars by name (the name files under its prefix only)."""
        names = f"{self.prefix(team)}/names/"
        out = []
        for key in self.store.list(names):
            if key.endswith(".json"):
                info = self._read(key)
                if info is not None:
                    out.append(info)
        return sorted(out, key=lambda i: i.name)

    def resolve(self, team: str, ref: str, field: str) -> AvatarInfo:
        """The team's avatar ``ref`` names (a name, else an id); NotFound naming ``field``.

        Only the team's own prefix is ever read: another team's avatar is not found."""
        if not NAME.match(ref):
            raise InvalidInput(field, "expected an avatar name or id (`ListAvatars`)")
        info = self._named(team, ref)
        if info is None and AVATAR_ID.match(ref):
            info = next((i for i in self.list(team) if i.avatar_id == ref), None)
        if info is None:
            raise NotFound(f"{field}: the team has no avatar named {ref!r} (`ListAvatars`)")
        return info

    def resolve_options(
        self, team: str, options: dict[str, Any], names: tuple[str, ...]
    ) -> dict[str, Any]:
        """A job's avatar options (``names``: ``avatar_a``, ``avatar_b``; a name or id of the
        team's) → the avatars' store keys, so the worker renders exactly the avatar the name
        meant at submit time. The avatar's rig must be the job's. ``options`` itself when it
        names none."""
        refs = {n: options[n] for n in names if options.get(n)}
        if not refs:
            return options
        out = dict(options)
        rig = out.get("rig") or "arkit55"
        for n, ref in refs.items():
            info = self.resolve(team, str(ref), f"options.{n}")
            if info.rig != rig:
                raise InvalidInput(
                    f"options.{n}",
                    f"the avatar {info.name!r} is posed by {info.rig}; the job animates {rig} "
                    "(set options.rig)",
                )
            out[n] = info.key
        return out

    def _name_key(self, team: str, name: str) -> str:
        return f"{self.prefix(team)}/names/{check_name(name)}.json"

    def _named(self, team: str, name: str) -> AvatarInfo | None:
        key = self._name_key(team, name)
        return self._read(key) if self.store.size(key) is not None else None

    def _read(self, key: str) -> AvatarInfo | None:
        try:
            return AvatarInfo.from_dict(json.loads(self.store.get_bytes(key)))
        except (ValueError, TypeError, KeyError, NotFound):  # removed or damaged: not listed
            return None
