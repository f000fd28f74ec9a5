"""The fault tier (``make test-faults``; every module is marked ``faults``): real servers and
real worker processes, faults injected by killing them, and exact counts of what came out.
Helpers: ``fault_support``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import Workers, new_bucket

from dyad.storage import S3Store
from dyad.testing import S3Server


@pytest.fixture
def bucket(s3_server: S3Server) -> S3Store:
    return new_bucket(s3_server)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    w = Workers(tmp_path)
    yield w
    w.stop()
