"""Avatars in the artefact store: ``avatars/<hash>/{config.json, model.safetensors}``.

A client names a stored avatar by its key or its store URI; it is resolved only through the
store's key rules (never a host path), its size is checked before it is downloaded, and bytes
that do not load are the client's error, named by key — never by a server path.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from dyad.errors import DyadError, InvalidInput, NotFound
from dyad.services.renderer.avatars.avatar import GaussianAvatar, load_avatar
from dyad.storage import ArtifactStore
from dyad.storage.base import CAS_PREFIX

AVATAR_FILES = ("config.json", "model.safetensors")


def avatar_key(store: ArtifactStore, avatar_uri: str, field: str) -> str:
    """The store key of a client-named avatar prefix; InvalidInput naming ``field`` for anything
    that is not a key or URI of this store (absolute paths, foreign ``file://``, CAS blobs)."""
    key = store.key_of(avatar_uri.rstrip("/"), field=field)
    if key.startswith(CAS_PREFIX + "/"):
        raise InvalidInput(field, "names a content-addressed blob, not an avatar")
    return key


def load_stored_avatar(
    store: ArtifactStore, key: str, field: str, max_bytes: int
) -> GaussianAvatar:
    """The avatar under ``key``, if its files exist, fit ``max_bytes`` and load."""
    sizes = [store.size(f"{key}/{name}") or 0 for name in AVATAR_FILES]
    if sum(sizes) > max_bytes:
        raise InvalidInput(
            field,
            f"the avatar under {key} is {sum(sizes)} bytes; the limit is {max_bytes} "
            "(DYAD_RENDER_MAX_AVATAR_BYTES)",
        )
    with tempfile.TemporaryDirectory(prefix="dyad-avatar-") as tmp:
        for name in AVATAR_FILES:
            try:
                store.get_file(f"{key}/{name}", Path(tmp) / name, field=field)
            except NotFound:
                raise InvalidInput(field, f"not an avatar: no {name} under {key}") from None
        try:
            return load_avatar(tmp)
        except (DyadError, ValueError, KeyError, TypeError, RuntimeError, OSError):
            # Bytes a client pointed us at: say what is wrong without the temp path.
            raise InvalidInput(field, f"not a readable avatar under {key}") from None


def load_local_avatar(uri: str, field: str) -> GaussianAvatar:
    """An operator's own avatar directory (the ``dyad render`` CLI, no store)."""
    local = Path(uri[len("file://") :] if uri.startswith("file://") else uri)
    if not local.is_dir():
        raise InvalidInput(field, f"{uri} is not a local directory")
    return load_avatar(local)


def store_avatar(store: ArtifactStore, av: GaussianAvatar) -> str:
    """Save ``av`` under ``avatars/<hash of its files>/``; its URI."""
    with tempfile.TemporaryDirectory(prefix="dyad-avatar-") as tmp:
        av.save(tmp)
        blobs = {n: (Path(tmp) / n).read_bytes() for n in AVATAR_FILES}
    digest = hashlib.sha256(b"".join(blobs.values())).hexdigest()[:32]
    for name, data in blobs.items():
        store.put_named(f"avatars/{digest}/{name}", data)
    return store.uri(f"avatars/{digest}")
