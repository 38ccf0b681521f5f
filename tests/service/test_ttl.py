"""The service's one time-bounded cache (arena.service.ttl.TTLCache)."""

from __future__ import annotations

import functools
import threading

import pytest

from arena.service.ttl import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counter() -> tuple[list[int], TTLCache[str, int], Clock]:
    calls: list[int] = []
    clock = Clock()
    return calls, TTLCache(10.0, clock=clock), clock


def test_a_value_is_reused_for_its_ttl_then_read_again() -> None:
    calls, cache, clock = counter()

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("k", compute) == 1
    clock.now += 9.9
    assert cache.get("k", compute) == 1 and len(calls) == 1
    clock.now += 0.1
    assert cache.get("k", compute) == 2
    assert cache.get("k", compute, fresh=True) == 3
    assert cache.age("k") == 0.0 and cache.age("other") is None


def test_invalidate_recomputes_but_keeps_the_last_value_for_peek() -> None:
    _, cache, _ = counter()
    cache.get("k", lambda: 7)
    cache.invalidate()
    assert cache.peek("k") == 7  # a stale answer for a caller that prefers one
    assert cache.get("k", lambda: 8) == 8
    assert cache.peek("never") is None


def test_a_failing_compute_leaves_the_cache_as_it_was() -> None:
    _, cache, clock = counter()
    cache.get("k", lambda: 1)
    clock.now += 11

    def broken() -> int:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        cache.get("k", broken)
    assert cache.peek("k") == 1
    assert cache.get("k", lambda: 2) == 2


def test_a_read_overtaken_by_invalidate_is_not_kept() -> None:
    """A value read before an admin change must not be served as fresh after it."""
    _, cache, _ = counter()
    started, release = threading.Event(), threading.Event()
    out: list[int] = []

    def slow_old_read() -> int:
        started.set()
        release.wait(5)
        return 1  # what the store said before the change

    reader = threading.Thread(target=lambda: out.append(cache.get("k", slow_old_read)))
    reader.start()
    assert started.wait(5)
    cache.invalidate()  # the change lands while the old read is in flight
    release.set()
    reader.join(5)
    assert out == [1]  # its caller gets what it read
    assert cache.get("k", lambda: 2) == 2  # but the next reader reads again


def test_max_entries_drops_the_least_recently_computed() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0, clock=Clock(), max_entries=2)
    for i, key in enumerate("abc"):
        cache.get(key, functools.partial(int, i))
    assert cache.peek("a") is None and cache.peek("b") == 1 and cache.peek("c") == 2


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s must be >= 0"):
        TTLCache(-1.0)
