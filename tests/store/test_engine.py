"""Engine set-up: URL resolution, SQLite pragmas and locking, clear errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from arena.store import (
    ENV_VAR,
    DatabaseUnavailable,
    SchemaNotCurrent,
    check_connection,
    database_url,
    make_engine,
    make_sessionmaker,
    open_engine,
)
from arena.store.engine import display_url, parse_database_url, sqlite_path


def test_url_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert database_url(None) == f"sqlite:///{tmp_path / 'data' / 'arena.db'}"
    monkeypatch.setenv(ENV_VAR, "sqlite:///from-env.db")
    assert database_url(None) == "sqlite:///from-env.db"
    assert database_url("sqlite:///explicit.db") == "sqlite:///explicit.db"


def test_default_database_lives_in_cwd_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from arena.store import upgrade
    from arena.store.migrate import head_revision

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert upgrade().current == head_revision()
    assert (tmp_path / "data" / "arena.db").is_file()
    open_engine().dispose()


def test_postgres_urls_use_psycopg3() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"):
        assert parse_database_url(url).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("sqlite+aiosqlite:///x.db", "unsupported SQLite driver"),
    ],
)
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(DatabaseUnavailable, match=message):
        make_engine(url)


def test_unreachable_server_hides_the_password() -> None:
    engine = make_engine("postgresql+psycopg://arena:s3cret@127.0.0.1:1/arena")
    with pytest.raises(DatabaseUnavailable, match="cannot connect") as info:
        check_connection(engine)
    assert "s3cret" not in str(info.value)
    assert "***" in display_url(engine.url)


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nope' / 'arena.db'}"
    with pytest.raises(SchemaNotCurrent, match="run `arena db upgrade`"):
        open_engine(url)
    assert not (tmp_path / "nope").exists()
    assert sqlite_path(url) == tmp_path / "nope" / "arena.db"


@pytest.fixture
def sqlite_engine(sqlite_template: Path, tmp_path: Path) -> Engine:
    import shutil

    path = tmp_path / "arena.db"
    shutil.copy(sqlite_template, path)
    return make_engine(f"sqlite:///{path}")


def test_sqlite_pragmas_on_every_connection(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    sqlite_engine.dispose()


def test_sqlite_writers_take_the_lock_up_front_readers_do_not(sqlite_engine: Engine) -> None:
    """A write session holds the write lock from BEGIN; a read-only session never blocks."""
    writes = make_sessionmaker(sqlite_engine)
    reads = make_sessionmaker(sqlite_engine, read_only=True)
    second_started = threading.Event()
    waited: list[float] = []

    def second_writer() -> None:
        with writes.begin() as session:
            second_started.set()
            t0 = time.perf_counter()
            session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: waits for the first writer
            waited.append(time.perf_counter() - t0)

    with writes.begin() as first:
        first.execute(text("SELECT count(*) FROM votes"))  # BEGIN IMMEDIATE happened here
        with reads() as reader:  # BEGIN DEFERRED: no wait while a writer is active
            t0 = time.perf_counter()
            assert reader.execute(text("SELECT count(*) FROM votes")).scalar() == 0
            assert time.perf_counter() - t0 < 1.0
        thread = threading.Thread(target=second_writer)
        thread.start()
        second_started.wait(5)
        time.sleep(0.3)
    thread.join(10)
    assert waited and waited[0] >= 0.2
    sqlite_engine.dispose()


def test_postgres_read_only_session_cannot_write(pg_migrated: str) -> None:
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(pg_migrated)
    reads = make_sessionmaker(engine, read_only=True)
    with pytest.raises(DBAPIError, match="read-only"), reads.begin() as session:
        session.execute(text("INSERT INTO voters (token) VALUES ('x')"))
    engine.dispose()


def _write_in_thread(sessions: sessionmaker[Session], token: str) -> threading.Thread:
    def write() -> None:
        with sessions.begin() as session:
            session.execute(text("INSERT INTO voters (token) VALUES (:t)"), {"t": token})

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_sqlite_writer_queue_is_released_after_commit_and_rollback(
    sqlite_engine: Engine,
) -> None:
    writes = make_sessionmaker(sqlite_engine)
    lock = Path(str(sqlite_engine.url.database) + ".lock")
    with writes.begin() as session:
        session.execute(text("INSERT INTO voters (token) VALUES ('committed')"))
    assert lock.is_file()
    with pytest.raises(RuntimeError), writes.begin() as session:
        session.execute(text("INSERT INTO voters (token) VALUES ('rolled back')"))
        raise RuntimeError("the caller's code failed")
    with pytest.raises(IntegrityError), writes.begin() as session:
        session.execute(text("INSERT INTO voters (token) VALUES ('committed')"))
    thread = _write_in_thread(writes, "other thread")  # would wait forever on a leaked lock
    thread.join(10)
    assert not thread.is_alive()
    with writes() as session:
        tokens = session.scalars(text("SELECT token FROM voters ORDER BY id")).all()
    assert tokens == ["committed", "other thread"]
    sqlite_engine.dispose()


def test_sqlite_nested_write_sessions_fail_instead_of_hanging(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write session opened inside another one in the same thread cannot get the
    write lock; it must fail after the busy timeout, not wait on itself forever."""
    import shutil

    import arena.store.engine as engine_module

    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_S", 0.3)
    shutil.copy(sqlite_template, tmp_path / "arena.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'arena.db'}")
    writes = make_sessionmaker(engine)
    with writes.begin() as outer:
        outer.execute(text("INSERT INTO voters (token) VALUES ('outer')"))
        t0 = time.perf_counter()
        with pytest.raises(OperationalError, match="locked"), writes.begin() as inner:
            inner.execute(text("INSERT INTO voters (token) VALUES ('inner')"))
        assert time.perf_counter() - t0 < 5
    thread = _write_in_thread(writes, "after")
    thread.join(10)
    assert not thread.is_alive()
    engine.dispose()
