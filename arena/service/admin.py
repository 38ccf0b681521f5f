"""The admin page: its gate (one password, wrong tries slowed per client) and its model desk.

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

Behind the gate, :class:`ModelAdmin` changes models (weights, active flags, codenames,
reveals) through :func:`arena.store.update_model`, and reads the vote statistics, a
model's standing and the vote export.
"""

from __future__ import annotations

import hmac
import io
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from arena.service._store import StoreAccess
from arena.service.catalog import Catalog
from arena.service.errors import RateLimited, ServiceError
from arena.service.limits import subject
from arena.service.pool import ModelPool
from arena.store import (
    SessionFactory,
    UnknownModel,
    VoteStats,
    database_faults,
    list_models,
    vote_stats,
)
from arena.store import limits as store_limits
from arena.store import update_model as store_update_model

if TYPE_CHECKING:
    from arena.campaign.standing import Standing

__all__ = [
    "ADMIN_ENV",
    "AdminGate",
    "AdminModel",
    "FailureStore",
    "MemoryFailures",
    "ModelAdmin",
    "StoredFailures",
]

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


_KEEP: Any = object()


@dataclass(frozen=True)
class AdminModel:
    """Everything the admin page shows about a model."""

    name: str
    display_name: str
    organization: str | None
    codename: str | None
    active: bool
    weight: float
    state: str
    error: str | None


class ModelAdmin:
    """What the admin page does besides its gate: models, reveals, statistics, exports.

    Parameters
    ----------
    store:
        The vote store.
    pool:
        The models' backends (their loading state).
    catalog:
        The service's model catalog (re-read at once after a change, which applies it).
    """

    def __init__(self, store: StoreAccess, pool: ModelPool, catalog: Catalog) -> None:
        self._store = store
        self.pool = pool
        self._catalog = catalog

    @property
    def login_failures(self) -> StoredFailures:
        """Wrong admin passwords per client address, in the database (for the admin gate)."""
        return StoredFailures(self._store.sessions)

    def admin_models(self) -> list[AdminModel]:
        """Every model in the store with its settings and this process's loading state."""
        with self._store.read() as session:
            rows = list_models(session)
        out = []
        for m in rows:
            state = self.pool.state(m.name)
            out.append(
                AdminModel(
                    m.name,
                    m.display_name,
                    m.organization,
                    m.codename,
                    m.active,
                    m.sampling_weight,
                    state.state,
                    state.error,
                )
            )
        return out

    def update_model(
        self,
        name: str,
        *,
        weight: float | None = None,
        active: bool | None = None,
        codename: str | None = _KEEP,
    ) -> None:
        """Change a model's sampling weight, active flag or codename (None reveals it).

        Saved in the database: this process applies it at once, every other server
        replica within :data:`~arena.service.catalog.CATALOG_TTL_S` (its next catalog
        read). The models file is applied again when a server starts (any replica):
        copy lasting changes into it.

        Raises
        ------
        UserError
            Unknown model, negative weight, or a codename another model has.
        """
        changes: dict[str, Any] = {}
        if weight is not None:
            changes["sampling_weight"] = weight
        if active is not None:
            changes["active"] = bool(active)
        if codename is not _KEEP:
            changes["codename"] = codename or None
        try:
            with self._store.write() as session:
                store_update_model(session, name, **changes)
        except UnknownModel:
            raise UnknownModel(f"unknown model {name!r}") from None
        self._catalog.entries(fresh=True)  # a change: word list rebuilt, boards refreshed

    def reveal(self, name: str) -> None:
        """Announce a preview model: its real name replaces its codename everywhere."""
        self.update_model(name, codename=None)

    def model_standing(self, name: str, *, rounds: int = 100) -> Standing:
        """A model's standing from the stored votes, real names (admin only).

        See :func:`arena.campaign.standing.model_standing`; takes seconds (bootstrap).

        Raises
        ------
        UserError
            No votes yet, or the model has none.
        """
        from arena.campaign.data import read_store
        from arena.campaign.standing import model_standing

        with self._store.read() as session:
            data = read_store(session, admin=True)
        return model_standing(data.battles, data.resolve(name), rounds=rounds)

    def vote_stats(self) -> VoteStats:
        """Counts of votes, voters, outcomes, statuses and per-model results."""
        with self._store.read() as session:
            return vote_stats(session)

    def export_votes(self, fmt: str) -> bytes:
        """Every vote in the FastChat battle layout, as ``csv`` or ``jsonl`` bytes."""
        from arena.store import write_votes

        stream = io.StringIO()
        with self._store.read() as session:
            write_votes(session, stream, fmt)
        return stream.getvalue().encode("utf-8")
