"""One time-bounded cache for the service's views (catalog, judge boards, board history).

A value is computed on the first :meth:`TTLCache.get` of its key and reused for
``ttl_s`` seconds; the computation runs outside the lock (a slow database read never
blocks the readers of other keys), and two callers that miss together may both compute
(the last one stored wins: the values are equal reads of the same data). An
:meth:`~TTLCache.invalidate` (an admin change, a new snapshot) makes the next read
compute again, and a computation that was already running when it came is returned
to its caller but not kept: it may have read the data before the change.

The last value of a key stays readable through :meth:`~TTLCache.peek` after it
expired, for callers that prefer a stale answer to an error (the catalog during a
database fault).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values by key, each reused for ``ttl_s`` seconds (module docstring).

    Parameters
    ----------
    ttl_s:
        Seconds a computed value is reused (``0``: computed at every read).
    clock:
        Monotonic clock (tests inject a fake one).
    max_entries:
        Keys kept at most (the least recently computed go first); None: no bound.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int | None = None,
    ) -> None:
        if ttl_s < 0:
            raise ValueError(f"ttl_s must be >= 0, got {ttl_s!r}")
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_entries
        self._lock = threading.Lock()
        self._values: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._expired: set[K] = set()
        self._generation = 0

    def get(self, key: K, compute: Callable[[], V], *, fresh: bool = False) -> V:
        """The cached value of ``key``, or ``compute()`` (kept) when none is fresh.

        ``fresh`` computes anew whatever the value's age. An exception from
        ``compute`` propagates and leaves the cache as it was.
        """
        with self._lock:
            cached = self._values.get(key)
            if (
                cached is not None
                and not fresh
                and key not in self._expired
                and self._clock() - cached[0] < self.ttl_s
            ):
                return cached[1]
            generation = self._generation
        taken_at = self._clock()  # the age counts from before the read
        value = compute()
        with self._lock:
            if generation == self._generation:  # no invalidate() while computing
                self._values[key] = (taken_at, value)
                self._values.move_to_end(key)
                self._expired.discard(key)
                while self._max is not None and len(self._values) > self._max:
                    old, _ = self._values.popitem(last=False)
                    self._expired.discard(old)
        return value

    def peek(self, key: K) -> V | None:
        """The last value computed for ``key``, however old (None: never computed)."""
        with self._lock:
            cached = self._values.get(key)
        return None if cached is None else cached[1]

    def age(self, key: K) -> float | None:
        """Seconds since ``key``'s value was read (None: never computed)."""
        with self._lock:
            cached = self._values.get(key)
        return None if cached is None else self._clock() - cached[0]

    def invalidate(self) -> None:
        """Make every next read compute again (values stay readable through :meth:`peek`)."""
        with self._lock:
            self._generation += 1
            self._expired = set(self._values)
