"""Fixtures of the service tests: fake models files, migrated databases, a service per test.

The PostgreSQL fixtures are the store tests' own (a private server started once per
session from Debian's binaries; skipped with the reason when they are not installed).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from arena.service import ArenaService, ServiceConfig
from arena.store import upgrade

try:  # one PostgreSQL server for the whole test session, shared with the store tests
    from tests.store.conftest import pg_server
except ImportError:  # pragma: no cover - the store tests' fixtures moved

    @pytest.fixture(scope="session")
    def pg_server() -> Iterator[str]:
        from arena.store.pgtemp import PostgresUnavailable, find_postgres_bin, temporary_postgres

        if find_postgres_bin() is None:
            pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
        try:
            with temporary_postgres(durable=False) as url:
                yield url
        except PostgresUnavailable as error:
            pytest.skip(str(error))


#: Three fake models: two public, one preview ("kestrel"), plus the leak-prone names.
FAKE_MODELS = """
[[models]]
name = "fake-alpha"
backend = "fake"
display_name = "Alpha Chat"
organization = "Alpha Labs"
seed = 1

[[models]]
name = "fake-beta"
backend = "fake"
display_name = "Beta Chat"
organization = "Beta Works"
seed = 2

[[models]]
name = "fake-gamma"
backend = "fake"
display_name = "Gamma Chat"
organization = "Gamma Inc"
codename = "kestrel"
seed = 3
"""

#: Every name a visitor must not see before the vote (names, display names, makers).
SECRET_NAMES = (
    "fake-alpha",
    "Alpha Chat",
    "Alpha Labs",
    "fake-beta",
    "Beta Chat",
    "Beta Works",
    "fake-gamma",
    "Gamma Chat",
    "Gamma Inc",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a load test of a minute or more (run by default; -m 'not slow' skips)"
    )


def write_models(folder: Path, text: str = FAKE_MODELS, name: str = "models.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    return write_models(tmp_path)


_pg_names = itertools.count()


def new_pg_database(server_url: str) -> str:
    """Create and migrate a fresh database on the test server; return its URL."""
    import psycopg
    from psycopg import sql

    base = server_url.rsplit("/", 1)[0]
    name = f"service{next(_pg_names)}"
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{base}/{name}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("service-template") / "arena.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "arena.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def make_service(sqlite_url: str, models_file: Path) -> Iterator[Callable[..., ArenaService]]:
    """Open services on the test database (closed at the end); options override the config."""
    opened: list[ArenaService] = []

    def make(models: Path | None = None, url: str | None = None, **config: object) -> ArenaService:
        settings = {"rate_limit": None, "secret": b"test-secret", **config}
        svc = ArenaService.open(url or sqlite_url, models or models_file, ServiceConfig(**settings))  # type: ignore[arg-type]
        opened.append(svc)
        return svc

    yield make
    for svc in opened:
        svc.close()


@pytest.fixture
def service(make_service: Callable[..., ArenaService]) -> ArenaService:
    return make_service()


def battle_id(ticket: str) -> int:
    """The battle id inside a ticket (tests only: the web app never needs it)."""
    return int(ticket.split("-", 1)[0][1:])
