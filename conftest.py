"""Fixtures that start real servers on loopback and free ports, and stop them afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dyad.services.gateway.tests.stack import TOKENS
from dyad.testing import RedisServer, S3Server, ServedStack


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with S3Server() as server:
        yield server


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server per test (AOF on), so kills and restarts stay local to a test."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    """Every service on one local Ray Serve (the Serve config fitted to 2 CPUs), with a
    redis-server and a local store: started once for the whole session, by the first test
    that asks for it (the deployment tests of every service, the served pipeline)."""
    root = tmp_path_factory.mktemp("served")
    # Batches wait a little longer than in production, so concurrent test calls share them.
    batching = {
        "audio_encoder": {"batch_wait_timeout_s": 0.2},
        "refiner": {"batch_wait_timeout_s": 0.05},
    }
    with ServedStack(root, tokens=TOKENS, user_config=batching) as stack:
        yield stack
