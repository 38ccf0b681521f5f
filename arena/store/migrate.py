"""Schema migrations, run from Python (no ``alembic.ini`` for the user to carry around).

``arena db upgrade`` calls :func:`upgrade`. Several processes may run it at once (every
web-app worker at start-up, a deploy script, a test): each takes the migration lock
first, so they queue, the first one migrates and the others find the schema at head
and do nothing. The lock is a transaction-scoped PostgreSQL advisory lock, or SQLite's
write lock (``BEGIN IMMEDIATE``, waiting up to the busy timeout). The migration runs in
that one transaction, so a failed migration leaves the schema as it was.

Alembic's version table is ``arena_schema_version``, so the vote store can share a
PostgreSQL database with another Alembic-managed application.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, exc, text
from sqlalchemy.engine import URL, Connection

from arena.store.engine import (
    READ_ONLY_OPTION,
    check_connection,
    database_url,
    display_url,
    make_engine,
)
from arena.store.errors import SchemaNotCurrent

__all__ = [
    "MIGRATION_LOCK_KEY",
    "VERSION_TABLE",
    "SchemaState",
    "alembic_config",
    "current_revision",
    "head_revision",
    "locked_connection",
    "require_current",
    "schema_state",
    "upgrade",
]

#: Alembic's version table for the vote store.
VERSION_TABLE = "arena_schema_version"

#: PostgreSQL advisory lock key held while migrating (the bytes of "arenadb").
MIGRATION_LOCK_KEY = 0x61_72_65_6E_61_64_62

_SCRIPT_LOCATION = "arena.store:migrations"


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None when never migrated) and the head.

    ``previous`` is the revision :func:`upgrade` found before migrating (None otherwise,
    or when the database was empty).
    """

    url: str
    current: str | None
    head: str
    previous: str | None = None

    @property
    def is_current(self) -> bool:
        """Whether the database is at the revision this code needs."""
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """Build an in-memory Alembic configuration pointing at the packaged migrations.

    ``connection`` (already inside a transaction) is handed to ``env.py``, which then
    runs the migrations on it rather than connecting itself.
    """
    config = Config()
    config.set_main_option("script_location", _SCRIPT_LOCATION)
    config.set_main_option("version_table", VERSION_TABLE)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("arena.store.migrations has no revision")
    return head


def current_revision(connection: Connection) -> str | None:
    """Return the revision the database is at, None when it was never migrated."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


@contextmanager
def locked_connection(url: str | URL | None = None) -> Iterator[Connection]:
    """Yield a connection in a transaction holding the migration lock (commits on exit).

    Creates the SQLite file (and folder) if missing: this is the one place allowed to.
    """
    engine = make_engine(database_url(None) if url is None else url, create=True)
    try:
        check_connection(engine)
        with engine.connect() as conn, conn.begin():
            # SQLite: the transaction began with BEGIN IMMEDIATE, i.e. holds the write lock.
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            yield conn
    finally:
        engine.dispose()


def upgrade(url: str | URL | None = None, revision: str = "head") -> SchemaState:
    """Migrate the database to ``revision`` (default: the newest), creating it if needed.

    Safe to run from several processes at once and to repeat. Returns the state after.

    Raises
    ------
    DatabaseUnavailable
        Bad URL or unreachable server.
    """
    resolved = database_url(None) if url is None else url
    head = head_revision()  # read the scripts before taking the lock, not while holding it
    target = head if revision == "head" else revision
    for attempt in range(5):
        try:
            with locked_connection(resolved) as conn:
                previous = current_revision(conn)
                if previous != target:  # the usual case at start-up: nothing to do, quickly
                    command.upgrade(alembic_config(conn), revision)
                current = current_revision(conn)
            return SchemaState(display_url(resolved), current, head, previous)
        except exc.OperationalError as error:
            # SQLite only: a lock held past the busy timeout, e.g. by a long export
            # on a database not yet in WAL mode. Waiting more is the right answer.
            locked = isinstance(error.orig, sqlite3.OperationalError) and "locked" in str(error)
            if not locked or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def schema_state(engine: Engine) -> SchemaState:
    """Read the revision of the database behind ``engine`` and the head revision."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{READ_ONLY_OPTION: True})
        current = current_revision(conn)
        conn.rollback()
    return SchemaState(display_url(engine.url), current, head_revision())


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrent` unless the database is at the head revision."""
    state = schema_state(engine)
    if state.is_current:
        return
    if state.current is None:
        raise SchemaNotCurrent(
            f"the vote database {state.url} has no arena schema: run `arena db upgrade`"
        )
    known = {
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    }
    if state.current not in known:
        raise SchemaNotCurrent(
            f"the vote database {state.url} is at revision {state.current}, newer than this "
            f"version of arena knows (head {state.head}): upgrade arena"
        )
    raise SchemaNotCurrent(
        f"the vote database {state.url} is at revision {state.current}, "
        f"this version of arena needs {state.head}: run `arena db upgrade`"
    )
