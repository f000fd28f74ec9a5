"""Batching and per-call failure isolation for ``@serve.batch`` methods, as pure functions.

A Serve batch hands a deployment several callers' items at once. ``run_batched`` groups them by
a key (items that can share one model pass: same backend and fps, same checkpoint and sampling
options), runs each group in one call, and isolates failures: when a merged call fails, its
items run again one by one, so one caller's bad input fails only that caller. A failed item's
result *is* its exception; the caller's coroutine raises it (``raise_if_failed``).

``BatchSettings`` is the one spelling of the batching knobs (``batch_max_size``,
``batch_wait_timeout_s``), read from a deployment's ``user_config`` in the Serve config.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from dyad.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class BatchSettings:
    """Serve's ``@serve.batch`` knobs; unset ones keep the decorator's values."""

    batch_max_size: int | None = None
    batch_wait_timeout_s: float | None = None

    @classmethod
    def from_user_config(cls, user_config: dict[str, Any] | None) -> BatchSettings:
        cfg = dict(user_config or {})
        unknown = sorted(set(cfg) - {"batch_max_size", "batch_wait_timeout_s"})
        if unknown:
            raise ConfigError("user_config", f"unknown keys {unknown}")
        size, wait = cfg.get("batch_max_size"), cfg.get("batch_wait_timeout_s")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError("user_config.batch_max_size", f"a positive integer, got {size!r}")
        if wait is not None and (
            isinstance(wait, bool)
            or not isinstance(wait, int | float)
            or not math.isfinite(wait)
            or wait < 0
        ):
            raise ConfigError("user_config.batch_wait_timeout_s", f"seconds ≥ 0, got {wait!r}")
        return cls(size, None if wait is None else float(wait))

    def apply(self, batched: Any) -> None:
        """Set the sizes on a ``@serve.batch`` method (its setters exist at run time)."""
        if self.batch_max_size is not None:
            batched.set_max_batch_size(self.batch_max_size)
        if self.batch_wait_timeout_s is not None:
            batched.set_batch_wait_timeout_s(self.batch_wait_timeout_s)


def group_indices(items: Sequence[T], key: Callable[[T], K]) -> dict[K, list[int]]:
    """Indices of ``items`` by ``key``, groups in first-seen order, items in order."""
    groups: dict[K, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    return groups


def run_batched(
    items: Sequence[T],
    key: Callable[[T], K],
    run: Callable[[K, list[T]], list[R]],
) -> list[R | Exception]:
    """Each item's result (or exception), running each key group in one ``run(key, items)``
    call that returns one result per item; a failed group is retried item by item."""
    results: list[R | Exception | None] = [None] * len(items)
    for k, idx in group_indices(items, key).items():
        group = [items[i] for i in idx]
        out: list[R | Exception]
        try:
            done = run(k, group)
            if len(done) != len(group):
                raise RuntimeError(f"a batch of {len(group)} gave {len(done)} results")
            out = list(done)
        except Exception as exc:
            out = [exc]
            if len(group) > 1:  # one caller's bad item must not fail the others: each runs alone
                out = []
                for item in group:
                    one: R | Exception = _run_one(run, k, item)
                    out.append(one)
        for i, r in zip(idx, out, strict=True):
            results[i] = r
    return cast(list[R | Exception], results)


def _run_one(run: Callable[[K, list[T]], list[R]], k: K, item: T) -> R | Exception:
    try:
        return run(k, [item])[0]
    except Exception as exc:
        return exc


def raise_if_failed(result: R | BaseException) -> R:
    """What a caller of a batched method does with its item's result."""
    if isinstance(result, BaseException):
        raise result
    return result
