"""The admin page's gate: one password, compared in constant time, wrong tries slowed per client.

The password comes from ``$ARENA_ADMIN_PASSWORD`` (or the web app's secrets). Without
one the admin page stays closed.

Wrong passwords are counted **per client address** (not per session: a new tab or
session buys no guesses), in the database when the gate is given one (so every server
replica sees them), and answered with an exponential back-off: the first
:attr:`AdminGate.free_tries` wrong tries cost nothing, then each further try must wait
``base_delay_s * 2**k`` seconds (capped at ``max_delay_s``) after the previous wrong
one, right password or not. Failures are forgotten ``forget_after_s`` after the last
one, and a right password clears that client's count. Because the count is per client,
someone guessing from one address never locks the real admin out on another.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from arena.service.errors import RateLimited, ServiceError
from arena.service.limits import subject
from arena.store import SessionFactory, database_faults
from arena.store import limits as store_limits

__all__ = ["ADMIN_ENV", "AdminGate", "FailureStore", "MemoryFailures", "StoredFailures"]

#: Environment variable holding the admin password.
ADMIN_ENV = "ARENA_ADMIN_PASSWORD"
_SCOPE = "admin-login"


class FailureStore(Protocol):
    """Where wrong tries are counted (per client key)."""

    def get(self, client: str, now: float) -> tuple[int, float]:
        """``(wrong tries, time of the last one)``; ``(0, 0.0)`` when none."""
        ...

    def add(self, client: str, now: float, forget_after_s: float) -> int:
        """Count one wrong try; returns the count."""
        ...

    def clear(self, client: str) -> None:
        """Forget the client's wrong tries."""
        ...


class MemoryFailures:
    """Wrong tries in this process's memory (a gate without a database: tests, tools)."""

    def __init__(self) -> None:
        self._tries: dict[str, tuple[int, float, float]] = {}
        self._lock = threading.Lock()

    def get(self, client: str, now: float) -> tuple[int, float]:
        """See :meth:`FailureStore.get`."""
        with self._lock:
            count, last, expires = self._tries.get(client, (0, 0.0, 0.0))
        return (count, last) if expires >= now else (0, 0.0)

    def add(self, client: str, now: float, forget_after_s: float) -> int:
        """See :meth:`FailureStore.add`."""
        with self._lock:
            count, _, expires = self._tries.get(client, (0, 0.0, 0.0))
            count = count + 1 if expires >= now else 1
            self._tries[client] = (count, now, now + forget_after_s)
            for key in [k for k, v in self._tries.items() if v[2] < now]:
                del self._tries[key]
            return count

    def clear(self, client: str) -> None:
        """See :meth:`FailureStore.clear`."""
        with self._lock:
            self._tries.pop(client, None)


class StoredFailures:
    """Wrong tries in the vote database (``rate_limits``), shared by every server process."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def get(self, client: str, now: float) -> tuple[int, float]:
        """See :meth:`FailureStore.get`."""
        with database_faults(), self._sessions.begin() as session:
            return store_limits.failure_count(session, _SCOPE, subject("client", client), now=now)

    def add(self, client: str, now: float, forget_after_s: float) -> int:
        """See :meth:`FailureStore.add`."""
        with database_faults(), self._sessions.begin() as session:
            key = subject("client", client)
            return store_limits.record_failure(
                session, _SCOPE, key, now=now, forget_after_s=forget_after_s
            )

    def clear(self, client: str) -> None:
        """See :meth:`FailureStore.clear`."""
        with database_faults(), self._sessions.begin() as session:
            store_limits.clear_subject(session, _SCOPE, subject("client", client))


def backoff_s(failures: int, free_tries: int, base_delay_s: float, max_delay_s: float) -> float:
    """Seconds a client with ``failures`` wrong tries waits after its last one (pure)."""
    if failures < free_tries:
        return 0.0
    return min(max_delay_s, base_delay_s * 2.0 ** (failures - free_tries))


class AdminGate:
    """Checks admin passwords (see the module docstring).

    Parameters
    ----------
    password:
        The password; None or empty keeps the gate closed.
    free_tries:
        Wrong tries per client before the back-off starts.
    base_delay_s, max_delay_s:
        The first wait, doubled at each further wrong try, up to the most.
    forget_after_s:
        Wrong tries are forgotten this long after the last one.
    failures:
        Where wrong tries are counted; by default this process's memory. The web app
        passes the database's (:class:`StoredFailures`).
    """

    def __init__(
        self,
        password: str | None,
        *,
        free_tries: int = 5,
        base_delay_s: float = 2.0,
        max_delay_s: float = 900.0,
        forget_after_s: float = 3600.0,
        failures: FailureStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._password = (password or "").encode()
        self.free_tries = free_tries
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self._failures: FailureStore = failures if failures is not None else MemoryFailures()
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """Whether a password is configured."""
        return bool(self._password)

    def check(
        self, given: str, client: str = "local", failures: FailureStore | None = None
    ) -> bool:
        """True for the right password, False for a wrong one.

        ``client`` is the caller's address (:func:`arena.service.limits.client_address`);
        ``failures`` overrides the gate's store for this call.

        Raises
        ------
        ServiceError
            No password is configured.
        RateLimited
            This client tried too many wrong passwords lately: every password from it is
            refused until the back-off has passed (other clients are not affected).
        """
        if not self.enabled:
            raise ServiceError(f"the admin page is disabled: set ${ADMIN_ENV} to enable it")
        store = failures if failures is not None else self._failures
        now = self._clock()
        count, last = store.get(client, now)
        wait = last + backoff_s(count, self.free_tries, self.base_delay_s, self.max_delay_s) - now
        if wait > 0:
            raise RateLimited(
                f"too many wrong passwords from your address: wait {math.ceil(wait)} s "
                "before the next try",
                retry_after=wait,
            )
        if hmac.compare_digest(given.encode(), self._password):
            if count:
                store.clear(client)
            return True
        store.add(client, now, self.forget_after_s)
        return False
