"""A finished job's named result artefacts, from what the worker's runner returned."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from dyad.queue import JobRecord
from dyad.storage import ArtifactRef

_CAS_URI = re.compile(r"/cas/sha256/[0-9a-f]{2}/([0-9a-f]{64})$")


def as_ref(value: Any) -> ArtifactRef | None:
    """An ArtifactRef from a result value: an ArtifactRef dict or a bare URI.

    A bare URI of a CAS blob still gets its sha256 (it is in the key).
    """
    if isinstance(value, dict) and isinstance(value.get("uri"), str):
        return ArtifactRef(
            value["uri"],
            str(value.get("sha256") or ""),
            int(value.get("size_bytes") or 0),
            str(value.get("content_type") or ""),
        )
    if isinstance(value, str) and "://" in value:
        m = _CAS_URI.search(value)
        ctype = mimetypes.guess_type(value)[0] or ""
        return ArtifactRef(value, m.group(1) if m else "", 0, ctype)
    return None


def result_artifacts(rec: JobRecord) -> dict[str, ArtifactRef]:
    """Named result artefacts of a finished job: manifest, video, then ``artifacts``."""
    r = rec.result or {}
    named: list[tuple[str, Any]] = [(k, r[k]) for k in ("manifest", "video") if k in r]
    extra = r.get("artifacts")
    if isinstance(extra, dict):
        named += [(str(k), v) for k, v in sorted(extra.items())]
    if "manifest" not in r and rec.result_uri:
        named.append(("manifest", rec.result_uri))
    out: dict[str, ArtifactRef] = {}
    for name, value in named:
        ref = as_ref(value)
        if ref is not None and name not in out:
            out[name] = ref
    return out
