"""The service's way into the vote store: its session factories and fault handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from arena.store import Engine, Session, database_faults, make_sessionmaker

__all__ = ["StoreAccess"]


class StoreAccess:
    """A read-write and a read-only session factory on one engine.

    :meth:`write` and :meth:`read` turn a database fault (file deleted, read-only, disk
    full, busy) into one clear, logged :class:`arena.store.StoreError`; a write is
    rolled back then, so nothing is half-written.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self.read_sessions = make_sessionmaker(engine, read_only=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction, committed when the block ends without an error."""
        with database_faults(), self.sessions.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (closing ends its transaction; loaded rows stay readable)."""
        with database_faults(), self.read_sessions() as session:
            yield session
