"""Fixtures of the vote-store tests: a fresh migrated database per test, SQLite and PostgreSQL.

The PostgreSQL server is real: started once per session from Debian's binaries in a
temporary folder (see ``arena.store.pgtemp``), stopped and deleted at the end. Tests
on it are skipped, with the reason, only when the server binaries are not installed.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arena.store import make_engine, make_sessionmaker, upgrade
from arena.store.pgtemp import PostgresUnavailable, find_postgres_bin, temporary_postgres

from ._workers import WorkerPool

BACKENDS = ("sqlite", "postgresql")
_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of the ``arena`` database of a private PostgreSQL server (not migrated)."""
    if find_postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    try:
        with temporary_postgres(durable=False) as url:
            yield url
    except PostgresUnavailable as error:
        if "not found" in str(error) or "refuses root" in str(error):
            pytest.skip(str(error))
        raise


def _admin(server_url: str) -> str:
    return server_url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://")


def pg_database(server_url: str) -> str:
    """Create a new, empty database on the test server; return its URL."""
    import psycopg
    from psycopg import sql

    name = f"t{next(_names)}"
    with psycopg.connect(_admin(server_url) + "/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_admin(url) + "/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def pg_migrated(pg_server: str) -> str:
    """URL of a migrated database that :func:`db_url` empties before each test."""
    url = pg_database(pg_server)
    upgrade(url)
    return url


def _empty_tables(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(
            "TRUNCATE judge_battles, eval_results, eval_runs, votes, battles, conversations, "
            "voters, models, imported_battles, battle_imports RESTART IDENTITY CASCADE"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "arena.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a database that does not exist yet (SQLite) or is empty (PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'arena.db'}"
        return
    url = pg_database(request.getfixturevalue("pg_server"))
    yield url
    drop_pg_database(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database at the newest schema, once per back end."""
    if request.param == "sqlite":
        path = tmp_path / "arena.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    _empty_tables(url)
    return url


@pytest.fixture(scope="session")
def worker_pool() -> Iterator[WorkerPool]:
    """32 spawned worker processes shared by the concurrency tests."""
    pool = WorkerPool(32)
    yield pool
    pool.close()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def read_sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine, read_only=True)
