"""Fixtures of the web-app tests: a migrated SQLite database, fake models, the app's settings.

Each test gets its own database and models file through the environment variables the
app reads (``arena serve`` sets the same ones), so the app's cached service is a new one
per test (the cache is keyed by them) and the cache is cleared afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from arena.store import upgrade
from tests.service.conftest import FAKE_MODELS, SECRET_NAMES, write_models

APP = Path(__file__).resolve().parents[2] / "webapp" / "app.py"
PASSWORD = "correct horse battery staple"

__all__ = ["APP", "FAKE_MODELS", "PASSWORD", "SECRET_NAMES", "write_models"]


@pytest.fixture(scope="session")
def webapp_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("webapp-template") / "arena.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_path(tmp_path: Path, webapp_template: Path) -> Path:
    path = tmp_path / "arena.db"
    shutil.copy(webapp_template, path)
    return path


@pytest.fixture
def app_env(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Point the app at the test database and a models file; returns a function to change it."""

    def configure(models: str = FAKE_MODELS, **env: str) -> None:
        monkeypatch.setenv("ARENA_DATABASE_URL", f"sqlite:///{db_path}")
        monkeypatch.setenv("ARENA_MODELS_FILE", str(write_models(tmp_path, models)))
        monkeypatch.setenv("ARENA_RATE_LIMIT", "0")
        monkeypatch.setenv("ARENA_LEADERBOARD_TTL_S", "0")
        monkeypatch.delenv("ARENA_ADMIN_PASSWORD", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    configure()
    return configure


@pytest.fixture
def app(app_env: Callable[..., None]) -> Iterator[Callable[[], AppTest]]:
    """Make an AppTest of the whole app (one per test: AppTest is not thread-safe)."""
    import streamlit as st

    def make() -> AppTest:
        return AppTest.from_file(str(APP), default_timeout=60)

    yield make
    st.cache_resource.clear()
