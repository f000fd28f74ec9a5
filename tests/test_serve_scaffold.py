"""The Ray Serve scaffold (``dyad.rpc.serve``) without Ray: batching and failure isolation as
pure functions, the batching settings, and the generated RPC methods' error contract. The
same code runs inside real replicas in the deployment tests (the session's served stack)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from dyad.errors import ConfigError, InvalidInput
from dyad.rpc.interceptor import ERROR_FIELD_KEY, REQUEST_ID_KEY
from dyad.rpc.serve import (
    BatchSettings,
    RpcFailed,
    ServedService,
    grpc_methods,
    raise_if_failed,
    run_batched,
)
from dyad.rpc.serve.batching import group_indices


def test_groups_keep_first_seen_order() -> None:
    assert group_indices(["b1", "a1", "b2", "c1", "a2"], lambda s: s[0]) == {
        "b": [0, 2],
        "a": [1, 4],
        "c": [3],
    }


def test_one_pass_per_group_and_one_bad_item_fails_alone() -> None:
    calls: list[tuple[str, list[int]]] = []

    def run(key: str, items: list[int]) -> list[int]:
        calls.append((key, items))
        if any(i < 0 for i in items):
            raise InvalidInput("tracks[0]", f"{min(items)} is negative")
        return [10 * i for i in items]

    items = [1, 2, -3, 4]
    results = run_batched(items, lambda i: "odd" if i % 2 else "even", run)
    assert results[0] == 10 and results[1] == 20 and results[3] == 40
    assert isinstance(results[2], InvalidInput) and results[2].field == "tracks[0]"
    # odd group [1, -3] failed together, then each of its items ran alone
    assert calls == [("odd", [1, -3]), ("odd", [1]), ("odd", [-3]), ("even", [2, 4])]
    with pytest.raises(InvalidInput):
        raise_if_failed(results[2])
    assert raise_if_failed(results[0]) == 10


def test_a_single_failing_item_runs_once_and_a_wrong_count_is_a_failure() -> None:
    calls = []

    def run(key: int, items: list[int]) -> list[int]:
        calls.append(list(items))
        raise RuntimeError("boom")

    (only,) = run_batched([7], lambda i: 0, run)
    assert isinstance(only, RuntimeError) and calls == [[7]]
    short = run_batched(
        [1, 2], lambda i: 0, lambda k, items: items[:1] if len(items) > 1 else items
    )
    assert short == [1, 2]  # the short answer was refused, then each item ran alone


def test_batch_settings_from_user_config() -> None:
    assert BatchSettings.from_user_config(None) == BatchSettings()
    assert BatchSettings.from_user_config({"batch_max_size": 8, "batch_wait_timeout_s": 0}) == (
        BatchSettings(8, 0.0)
    )
    for bad, key in (
        ({"batch_max_size": 0}, "user_config.batch_max_size"),
        ({"batch_max_size": True}, "user_config.batch_max_size"),
        ({"batch_wait_timeout_s": -1}, "user_config.batch_wait_timeout_s"),
        ({"batch_size": 4}, "user_config"),
    ):
        with pytest.raises(ConfigError) as e:
            BatchSettings.from_user_config(bad)
        assert e.value.setting == key

    class Batched:
        def set_max_batch_size(self, n: int) -> None:
            self.size = n

        def set_batch_wait_timeout_s(self, s: float) -> None:
            self.wait = s

    target = Batched()
    BatchSettings(4, 0.25).apply(target)
    assert (target.size, target.wait) == (4, 0.25)


class Context:
    """What Serve hands a deployment method: invocation metadata in, status and trailers out."""

    def __init__(self, request_id: str = "") -> None:
        self.md = [(REQUEST_ID_KEY, request_id)] if request_id else []
        self.code: Any = None
        self.details = ""
        self.trailers: list[tuple[str, str]] = []

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self.md

    def set_code(self, code: Any) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    def set_trailing_metadata(self, trailers: list[tuple[str, str]]) -> None:
        self.trailers = trailers


class Servicer:
    async def Echo(self, request: str, context: Any) -> str:
        if not request:
            raise InvalidInput("text", "required")
        if request == "crash":
            raise RuntimeError("secret detail")
        return request.upper()

    async def Stream(self, request: str, context: Any) -> AsyncIterator[str]:
        yield "first"
        if request == "bad":
            raise InvalidInput("text", "bad after the first message")
        yield "second"


@grpc_methods(unary=("Echo",), streaming=("Stream",))
class EchoDeployment(ServedService):
    def __init__(self) -> None:  # no store: this test runs no replica set-up
        self.servicer = Servicer()
        self.calls: list[str] = []

    async def before_call(self, method: str, request: Any) -> None:
        self.calls.append(method)


def test_generated_methods_map_errors_and_echo_the_request_id() -> None:
    dep = EchoDeployment()
    assert inspect.isasyncgenfunction(EchoDeployment.Stream)  # Serve streams generators
    assert "grpc_context" in inspect.signature(EchoDeployment.Echo).parameters

    async def main() -> None:
        ok = Context("req-1")
        assert await dep.Echo("hi", ok) == "HI"
        assert ok.code is None and ok.trailers == [(REQUEST_ID_KEY, "req-1")]
        bad = Context("req-2")
        with pytest.raises(RpcFailed):
            await dep.Echo("", bad)
        assert bad.code == grpc.StatusCode.INVALID_ARGUMENT and bad.details == "text: required"
        assert (ERROR_FIELD_KEY, "text") in bad.trailers and (
            REQUEST_ID_KEY,
            "req-2",
        ) in bad.trailers
        crash = Context()
        with pytest.raises(RpcFailed):
            await dep.Echo("crash", crash)
        assert crash.code == grpc.StatusCode.INTERNAL and "secret" not in crash.details
        streamed, stream_ctx = [], Context("req-3")
        with pytest.raises(RpcFailed):
            async for item in dep.Stream("bad", stream_ctx):
                streamed.append(item)
        assert streamed == ["first"] and stream_ctx.code == grpc.StatusCode.INVALID_ARGUMENT
        assert (REQUEST_ID_KEY, "req-3") in stream_ctx.trailers
        assert dep.calls == ["Echo", "Echo", "Echo", "Stream"]

    asyncio.run(main())
