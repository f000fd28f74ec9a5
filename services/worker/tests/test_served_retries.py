"""Stage calls retry while a service is unavailable or overloaded, within one deadline, and
fail at once on anything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from dyad.errors import InvalidInput, ResourceExhausted, Unavailable
from dyad.observability import stage_metrics
from dyad.services.worker.pipeline.served import RetryPolicy, ServedStages
from dyad.storage import LocalStore
from dyad.testing import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_backoff_doubles_to_a_ceiling_and_succeeds_once_the_service_is_back() -> None:
    clock, calls = Clock(), []

    def attempt(timeout_s: float) -> str:
        calls.append(timeout_s)
        if len(calls) < 4:
            raise (Unavailable if len(calls) % 2 else ResourceExhausted)("starting")
        return "ok"

    policy = RetryPolicy(retries=5, base_s=1.0, max_s=3.0)
    assert policy.run(attempt, 60.0, clock=clock, sleep=clock.sleep) == "ok"
    assert clock.slept == [1.0, 2.0, 3.0]
    assert calls == [60.0, 59.0, 57.0, 54.0]  # every attempt gets what is left of the deadline


def test_gives_up_after_the_retries_or_at_the_deadline_and_never_retries_bad_input() -> None:
    def down(timeout_s: float) -> str:
        raise Unavailable("down")

    clock = Clock()
    with pytest.raises(Unavailable):
        RetryPolicy(retries=2, base_s=1.0).run(down, 100.0, clock=clock, sleep=clock.sleep)
    assert clock.slept == [1.0, 2.0]
    clock = Clock()
    with pytest.raises(Unavailable):
        RetryPolicy(retries=9, base_s=4.0, max_s=4.0).run(
            down, 10.0, clock=clock, sleep=clock.sleep
        )
    assert clock.slept == [4.0, 4.0]  # a third wait would pass the deadline
    calls = []

    def bad(timeout_s: float) -> str:
        calls.append(1)
        raise InvalidInput("prompt", "empty")

    with pytest.raises(InvalidInput):
        RetryPolicy().run(bad, 10.0, sleep=lambda s: None)
    assert calls == [1]


def test_a_service_that_is_not_there_is_retried_then_unavailable(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    stages = ServedStages(
        LocalStore(tmp_path),
        dict.fromkeys(("dialogue", "audio", "motion", "refiner", "renderer"), dead),
        timeout_s=30,
        route_by_application=False,
        retry=RetryPolicy(retries=2, base_s=0.05, max_s=0.1),
    )
    before = stage_metrics().retries.labels("dialogue", "UNAVAILABLE")._value.get()
    try:
        with pytest.raises(Unavailable):
            stages.write("two friends", 1, seed=0, relation=None)
    finally:
        stages.close()
    assert stage_metrics().retries.labels("dialogue", "UNAVAILABLE")._value.get() - before == 2
