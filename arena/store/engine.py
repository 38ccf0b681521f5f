"""Connecting to the vote database: URL resolution, engine set-up, session factories.

The URL comes from ``--database`` (passed in), else ``$ARENA_DATABASE_URL``, else the
SQLite file ``data/arena.db`` under the current working directory. Two back ends:

* SQLite, configured for several writer processes (the web app's workers): WAL journal
  so readers never block the writer, a 30 s busy timeout, ``synchronous=NORMAL`` (safe
  with WAL, no fsync per commit), foreign keys on. Write transactions start with
  ``BEGIN IMMEDIATE``, so a transaction takes the write lock before it reads: with a
  plain ``BEGIN`` two transactions that both read and then write deadlock on the lock
  upgrade and one fails with "database is locked" whatever the busy timeout.
  Read-only sessions (:func:`make_sessionmaker` with ``read_only=True``) use
  ``BEGIN DEFERRED`` so a long export never holds the write lock. Writers of arena
  queue for the lock on a ``flock`` of ``<database>.lock`` (see :class:`_WriterQueue`),
  which keeps the slowest of many concurrent votes fast.
* PostgreSQL through psycopg 3 (``postgresql+psycopg://user:password@host/db``;
  ``postgresql://`` and ``postgres://`` are read as that).

The caller owns sessions: make one factory per engine with :func:`make_sessionmaker`
and keep transactions short (one vote = one transaction).

Faults under a running server are never silent and never fatal (:class:`DatabaseFault`,
one message saying what happened and that nothing was written, logged):

* before every SQLite transaction, and again before its commit, the database, ``-wal``
  and ``-shm`` files are checked to still be the ones the connection opened (same
  device and inode: not deleted, not replaced) and writable (not on a read-only file
  system, not immutable). A deleted file would otherwise take votes into an unlinked
  inode that vanishes with the process, and a read-only ``-shm`` file kills the process
  with SIGBUS at the first write into SQLite's memory-mapped WAL index, which no Python
  code can catch; checked first, the transaction is refused instead. Memory-mapped I/O
  of the database file itself is off (``PRAGMA mmap_size = 0``, whatever SQLite's build
  default): a file truncated under a mapping is another SIGBUS;
* a missing database file is never re-created by a new pool connection;
* SQLite's "read-only", "disk full", "I/O error", "corrupt" and "cannot open" errors
  become :class:`DatabaseFault`;
* a writer stalled inside its transaction makes the others fail after the busy timeout
  (:data:`BUSY_TIMEOUT_S`): the writer queue's ``flock`` has that deadline
  (:class:`DatabaseBusy`), SQLite's own busy handler too ("database is locked", for a
  writer outside arena), and PostgreSQL sessions get it as their ``lock_timeout``.
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeAlias

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import URL, Connection, ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from arena.store.errors import DatabaseBusy, DatabaseFault, DatabaseUnavailable, SchemaNotCurrent

__all__ = [
    "BUSY_TIMEOUT_S",
    "ENV_VAR",
    "READ_ONLY_OPTION",
    "Engine",
    "Session",
    "SessionFactory",
    "check_connection",
    "database_faults",
    "database_url",
    "default_database_url",
    "display_url",
    "make_engine",
    "make_sessionmaker",
    "open_engine",
    "parse_database_url",
    "sqlite_path",
]

#: What :func:`make_sessionmaker` returns. The service and the web app name sessions,
#: factories and engines through these store names only (the layer contract in
#: pyproject.toml forbids them SQLAlchemy), so the store stays the one SQLAlchemy user.
SessionFactory: TypeAlias = sessionmaker[Session]

#: Environment variable naming the database when ``--database`` is not given.
ENV_VAR = "ARENA_DATABASE_URL"

#: How long an SQLite writer waits for the write lock before failing.
BUSY_TIMEOUT_S = 30.0

#: Connection execution option that marks a read-only transaction (``BEGIN DEFERRED``).
READ_ONLY_OPTION = "arena_read_only"

log = logging.getLogger(__name__)

_URL_HELP = (
    "expected e.g. sqlite:///data/arena.db (relative to the working directory), "
    "sqlite:////abs/path/arena.db or postgresql+psycopg://user:password@host:5432/arena"
)


def default_database_url() -> str:
    """``sqlite:///<cwd>/data/arena.db``: the database of the project run from here."""
    return f"sqlite:///{Path.cwd() / 'data' / 'arena.db'}"


def database_url(explicit: str | None) -> str:
    """Choose the URL: ``explicit`` (``--database``) > ``$ARENA_DATABASE_URL`` > default."""
    if explicit:
        return explicit
    from_env = os.environ.get(ENV_VAR, "").strip()
    return from_env or default_database_url()


def parse_database_url(url: str | URL) -> URL:
    """Parse and normalise a database URL, or raise :class:`DatabaseUnavailable`.

    ``postgresql://`` and ``postgres://`` select psycopg 3 (the only PostgreSQL driver
    arena installs); ``sqlite://`` is SQLite through the standard library.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        raise DatabaseUnavailable(f"invalid database URL {str(url)!r}: {_URL_HELP}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "postgresql":
        if "+" not in parsed.drivername:  # no driver named: psycopg 3, whatever the default
            parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        if parsed.get_driver_name() != "pysqlite":
            raise DatabaseUnavailable(
                f"unsupported SQLite driver in {display_url(parsed)!r}: use sqlite:///PATH"
            )
    else:
        raise DatabaseUnavailable(
            f"unsupported database {backend!r} in {display_url(parsed)!r}: "
            f"arena stores votes in SQLite or PostgreSQL; {_URL_HELP}"
        )
    return parsed


def display_url(url: str | URL) -> str:
    """Render the URL with its password hidden, for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except exc.ArgumentError:
        return str(url)
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: str | URL) -> Path | None:
    """Return the file of an SQLite URL; None for PostgreSQL or an in-memory database."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


#: SQLite result codes (primary) that mean the database failed under us, and what to say.
_FAULTS = {
    sqlite3.SQLITE_READONLY: "the vote database has become read-only",
    sqlite3.SQLITE_FULL: "the disk holding the vote database is full",
    sqlite3.SQLITE_IOERR: "the vote database gave an I/O error",
    sqlite3.SQLITE_CORRUPT: "the vote database file is damaged",
    sqlite3.SQLITE_NOTADB: "the vote database file is not an SQLite database any more",
    sqlite3.SQLITE_CANTOPEN: "the vote database file cannot be opened",
}
_NOTHING_WRITTEN = "nothing was written"


class _GuardedConnection(sqlite3.Connection):
    """An SQLite connection that can be abandoned: never closed, never freed.

    Once the ``-shm`` file under a connection is read-only, closing the connection (or
    any read) writes into the memory-mapped WAL index and the process dies of SIGBUS.
    Such a connection is abandoned instead: :meth:`close` does nothing and the object
    is kept alive for the life of the process (a deliberate, bounded leak: one per pool
    connection at most), so neither the pool nor interpreter exit ever closes it.
    """

    abandoned = False

    def abandon(self) -> None:
        if not self.abandoned:
            self.abandoned = True
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(self))  # never freed, never closed

    def close(self) -> None:
        if not self.abandoned:
            super().close()


class _FileGuard:
    """The files behind a connection stay the ones it opened, and writable (module doc)."""

    _KEY = "arena_files"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files = (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))

    def remember(self, record: ConnectionPoolEntry) -> None:
        identities: list[tuple[int, int] | None] = []
        for file in self.files:
            try:
                st = os.stat(file)
                identities.append((st.st_dev, st.st_ino))
            except OSError:
                identities.append(None)
        record.info[self._KEY] = tuple(identities)

    def check_writable(self) -> None:
        """Before a new connection: every file there is writable (see :meth:`check`)."""
        for file in self.files:
            if file.exists() and not os.access(file, os.W_OK):
                _fault(
                    f"the vote database file {file} has become read-only (file system "
                    "mounted read-only, or the file made immutable)"
                )

    def check(self, connection: Connection) -> None:
        expected = connection.connection.info.get(self._KEY, (None, None, None))
        for file, identity in zip(self.files, expected, strict=True):
            if identity is None:
                continue
            try:
                st = os.stat(file)
            except FileNotFoundError:
                _fault(f"the vote database file {file} was deleted while the server ran")
            except OSError as error:
                _fault(f"the vote database file {file} cannot be read ({error.strerror})")
            if (st.st_dev, st.st_ino) != identity:
                connection.invalidate()  # never write through the old file again
                _fault(f"the vote database file {file} was replaced while the server ran")
            if not os.access(file, os.W_OK):
                driver = connection.connection.driver_connection
                if isinstance(driver, _GuardedConnection):
                    driver.abandon()
                connection.invalidate()  # a fresh connection once the files are writable
                _fault(
                    f"the vote database file {file} has become read-only (file system "
                    "mounted read-only, or the file made immutable)"
                )


def _fault(what: str) -> NoReturn:
    """Log and raise the :class:`DatabaseFault` of a file fault."""
    message = f"{what}: {_NOTHING_WRITTEN}; restore it (or fix the disk), then restart the server"
    log.error("%s", message)
    raise DatabaseFault(message)


def _sqlite_fault(error: BaseException) -> DatabaseFault | None:
    """The :class:`DatabaseFault` an SQLite error stands for (logged), or None."""
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(error, sqlite3.Error) or code is None:
        return None
    what = _FAULTS.get(code & 0xFF)
    if what is None:
        return None
    message = f"{what} ({error}): {_NOTHING_WRITTEN}; fix it, then try again"
    log.error("%s", message)
    return DatabaseFault(message)


def _translate_sqlite(context: ExceptionContext) -> None:
    """Turn SQLite's fault errors into :class:`DatabaseFault` (see the module docstring)."""
    fault = _sqlite_fault(context.original_exception)
    if fault is not None:
        raise fault from context.original_exception


def _configure_sqlite(engine: Engine, path: Path | None, *, create: bool) -> None:
    """Pragmas on every new connection and our own BEGIN (see the module docstring)."""
    lock_path = None if path is None else path.with_name(path.name + ".lock")
    queue = None if lock_path is None else _WriterQueue(lock_path, BUSY_TIMEOUT_S)
    guard = None if path is None else _FileGuard(path)
    event.listen(engine, "handle_error", _translate_sqlite)
    _listen_connections(engine, path, create=create, guard=guard, queue=queue)
    _listen_transactions(engine, guard=guard, queue=queue)


def _listen_connections(
    engine: Engine,
    path: Path | None,
    *,
    create: bool,
    guard: _FileGuard | None,
    queue: _WriterQueue | None,
) -> None:
    """Check the file before each connect; set the pragmas and hooks on each new connection."""

    @event.listens_for(engine, "do_connect")
    def _on_do_connect(*_: object) -> None:
        # sqlite3.connect would make a new empty file where the database was deleted.
        if path is not None and not create and not path.exists():
            _fault(f"the vote database file {path} is missing")
        if guard is not None:
            guard.check_writable()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy emit BEGIN itself (the "begin" hook below), not the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA mmap_size = 0")  # no SIGBUS from a file changed under us
            cursor.execute("PRAGMA foreign_keys = ON")
            _set_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()
        if guard is not None:
            guard.remember(record)
        if queue is not None:
            queue.attach(record)


def _listen_transactions(
    engine: Engine, *, guard: _FileGuard | None, queue: _WriterQueue | None
) -> None:
    """Our own BEGIN (deferred for readers), the file check at COMMIT, the writer queue."""

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if guard is not None:
            guard.check(connection)
        if connection.get_execution_options().get(READ_ONLY_OPTION, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        if queue is None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        queue.begin(connection)

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Connection) -> None:
        if guard is not None:
            guard.check(connection)  # deleted meanwhile: the commit would vanish with it
        if queue is not None:
            queue.end(connection, "COMMIT")

    if queue is None:
        return

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Connection) -> None:
        queue.end(connection, "ROLLBACK")

    @event.listens_for(engine, "reset")
    def _on_reset(_dbapi_connection: object, record: ConnectionPoolEntry, _state: object) -> None:
        queue.release_abandoned(record)  # a connection returned without COMMIT/ROLLBACK

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection: object, record: ConnectionPoolEntry) -> None:
        queue.detach(record)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(_dbapi: object, record: ConnectionPoolEntry, _exc: object) -> None:
        queue.detach(record)


class _WriterQueue:
    """Write transactions of arena processes wait in the kernel, not in SQLite's busy loop.

    Before ``BEGIN IMMEDIATE`` a writer takes an exclusive ``flock`` on ``<db>.lock``,
    and releases it right after its ``COMMIT``/``ROLLBACK``. Waiting writers sleep in
    the kernel and one wakes as soon as the lock is free. SQLite's own busy handler
    (still in force, for writers outside arena) instead sleeps 1, 2, 5, ... 100 ms
    between tries: with 32 writers, a waiter that backed off misses release after
    release, and a few votes took seconds. Same-thread nesting (a write session opened
    inside another) skips the queue, so it cannot deadlock on itself.
    """

    _FD = "arena_writer_fd"
    _HELD = "arena_writer_held"
    #: Per thread: how many write transactions hold each lock file (any engine).
    _local = threading.local()

    def __init__(self, path: Path, timeout_s: float) -> None:
        self.path = path
        self.timeout_s = timeout_s

    def _held(self) -> dict[Path, int]:
        held: dict[Path, int] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    def attach(self, record: ConnectionPoolEntry) -> None:
        try:
            record.info[self._FD] = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            record.info[self._FD] = None  # unwritable folder: SQLite's busy handler only

    def detach(self, record: ConnectionPoolEntry) -> None:
        fd = record.info.pop(self._FD, None)
        if fd is not None:
            if record.info.pop(self._HELD, False):
                self._release(fd)
            os.close(fd)

    def release_abandoned(self, record: ConnectionPoolEntry) -> None:
        if record.info.get(self._HELD):
            record.info[self._HELD] = False
            self._release(record.info[self._FD])

    def begin(self, connection: Connection) -> None:
        info = connection.connection.info
        fd = info.get(self._FD)
        held = self._held()
        if fd is not None and not held.get(self.path):
            self._lock(fd)
            info[self._HELD] = True
            held[self.path] = held.get(self.path, 0) + 1
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection, None)
            raise

    def end(self, connection: Connection, statement: str | None) -> None:
        info = connection.connection.info
        if not info.get(self._HELD):
            return
        try:
            driver = connection.connection.driver_connection
            if statement and isinstance(driver, sqlite3.Connection) and driver.in_transaction:
                # End the transaction here, before releasing the lock, so the next
                # writer never finds it still held; the driver's own commit() or
                # rollback() that follows is then a no-op.
                try:
                    driver.execute(statement)
                except sqlite3.Error as error:  # e.g. the disk filled up at COMMIT
                    fault = _sqlite_fault(error)
                    if fault is None:
                        raise
                    raise fault from error
        finally:
            info[self._HELD] = False
            self._release(info[self._FD])

    def _lock(self, fd: int) -> None:
        """``flock(fd, LOCK_EX)``, but never longer than the busy timeout.

        Uncontended, one non-blocking call. Otherwise a helper thread waits in the kernel
        (so the lock still goes to a waiter the moment it is free); past the deadline
        the caller gives up with :class:`DatabaseBusy`, and should the helper get the
        lock later, it lets it go at once.
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        state = {"got": False, "abandoned": False}
        guard = threading.Lock()
        done = threading.Event()
        # The helper locks through its own descriptor of the same open file (flock locks
        # belong to the open file, not the descriptor), so it never touches a descriptor
        # number the connection closed and the system gave to another file meanwhile.
        mine = os.dup(fd)

        def wait() -> None:
            try:
                fcntl.flock(mine, fcntl.LOCK_EX)
                with guard:
                    if state["abandoned"]:
                        fcntl.flock(mine, fcntl.LOCK_UN)
                    else:
                        state["got"] = True
            finally:
                os.close(mine)
                done.set()

        threading.Thread(target=wait, name="arena-writer-queue", daemon=True).start()
        done.wait(self.timeout_s)
        with guard:
            if state["got"]:
                return
            state["abandoned"] = True
        message = (
            f"the vote database is busy: another writer has held it for more than "
            f"{self.timeout_s:g} s; {_NOTHING_WRITTEN}: try again"
        )
        log.error("%s (%s)", message, self.path)
        raise DatabaseBusy(message)

    def _release(self, fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        held = self._held()
        held[self.path] = max(held.get(self.path, 1) - 1, 0)


def _set_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL; the switch needs a moment alone with the file, so retry if busy."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def make_engine(
    url: str | URL | None = None, *, create: bool = False, echo: bool = False
) -> Engine:
    """Create an engine for the vote database, configured as the module docstring explains.

    Parameters
    ----------
    url:
        Database URL; None resolves it with :func:`database_url`.
    create:
        For SQLite, create the database file (and its folder) when missing. Only
        ``arena db upgrade`` does this: elsewhere a missing file means the database
        was never set up, which :class:`SchemaNotCurrent` says, rather than silently
        starting an empty database.
    echo:
        Log every SQL statement (debugging).

    Raises
    ------
    DatabaseUnavailable
        Malformed or unsupported URL, or the PostgreSQL driver is not installed.
    SchemaNotCurrent
        The SQLite file does not exist and ``create`` is False.
    """
    parsed = parse_database_url(database_url(None) if url is None else url)
    kwargs: dict[str, Any] = {"echo": echo}
    path = sqlite_path(parsed)
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {
            "timeout": BUSY_TIMEOUT_S,
            "check_same_thread": False,
            "factory": _GuardedConnection,
        }
        if path is None:
            kwargs["poolclass"] = StaticPool  # one in-memory database shared by the engine
        elif not path.exists():
            if not create:
                raise SchemaNotCurrent(
                    f"no vote database at {path}: run `arena db upgrade` to create it "
                    f"(or pass --database / set {ENV_VAR})"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseUnavailable(
                    f"cannot create the SQLite database {path}: its folder {path.parent} "
                    f"cannot be made ({error.strerror or error})"
                ) from None
    else:
        kwargs["pool_pre_ping"] = True
        # A writer stalled in its transaction holds its row locks: the others fail
        # after the busy timeout, as on SQLite, instead of waiting forever.
        kwargs["connect_args"] = {
            "connect_timeout": 10,
            "options": f"-c lock_timeout={int(BUSY_TIMEOUT_S * 1000)}",
        }
    try:
        engine = create_engine(parsed, **kwargs)
    except (exc.NoSuchModuleError, ImportError) as error:
        raise DatabaseUnavailable(
            f"cannot use {display_url(parsed)!r}: {error}; "
            "for PostgreSQL install the driver with `pip install 'psycopg[binary]'`"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, path, create=create)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once, turning a refused or failed connection into :class:`DatabaseUnavailable`."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
    except exc.OperationalError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise DatabaseUnavailable(
            f"cannot connect to the vote database {display_url(engine.url)!r}: {detail}"
        ) from None


def open_engine(url: str | URL | None = None) -> Engine:
    """Open an existing, migrated database: what the web app and CLI start with.

    Checks the connection and that the schema is at the revision this code needs, so
    a forgotten ``arena db upgrade`` is one clear error at start-up instead of a
    "no such table" on the first vote.

    Raises
    ------
    DatabaseUnavailable, SchemaNotCurrent
    """
    from arena.store.migrate import require_current

    engine = make_engine(url)
    try:
        check_connection(engine)
        require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def make_sessionmaker(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Make the session factory of an engine; make it once, next to the engine.

    Parameters
    ----------
    engine:
        From :func:`make_engine` / :func:`open_engine`.
    read_only:
        Sessions that only read (exports, statistics): SQLite starts them with
        ``BEGIN DEFERRED`` so they never take the write lock, and PostgreSQL runs them
        as ``READ ONLY`` transactions. Writing in such a session fails.
    """
    bind = engine
    if read_only:
        options: dict[str, Any] = {READ_ONLY_OPTION: True}
        if engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True
        bind = engine.execution_options(**options)
    return sessionmaker(bind, expire_on_commit=False)


@contextmanager
def database_faults() -> Iterator[None]:
    """Turn a database error escaping the block into :class:`DatabaseBusy` / :class:`DatabaseFault`.

    For callers that show errors to people (the web app's service): a lock held past the
    busy timeout (SQLite's "database is locked", PostgreSQL's ``lock_timeout``) becomes
    :class:`DatabaseBusy`, any other driver error :class:`DatabaseFault`, both logged
    with the driver's message; the transaction was rolled back, so nothing was written.
    """
    try:
        yield
    except exc.DBAPIError as error:
        detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        if isinstance(error, exc.OperationalError) and (
            "locked" in detail or "lock timeout" in detail or "busy" in detail
        ):
            message = (
                f"the vote database is busy: another writer has held it for more than "
                f"{BUSY_TIMEOUT_S:g} s; {_NOTHING_WRITTEN}: try again"
            )
            log.error("%s (%s)", message, detail)
            raise DatabaseBusy(message) from error
        message = f"the vote database failed ({detail}): {_NOTHING_WRITTEN}; try again later"
        log.error("%s", message, exc_info=True)
        raise DatabaseFault(message) from error
