"""Fixtures that start real servers on loopback and free ports, and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dyad.testing import RedisServer, S3Server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server per test (AOF on), so kills and restarts stay local to a test."""
    with RedisServer() as server:
        yield server
