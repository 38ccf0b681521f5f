"""Migrations: a fresh database comes up at head, matches the models, and concurrent
upgrades from many processes queue instead of failing."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from arena.store import SchemaNotCurrent, make_engine, open_engine, schema_state, upgrade
from arena.store.migrate import VERSION_TABLE, alembic_config, head_revision, locked_connection
from arena.store.schema import Base

from ._workers import WorkerPool
from .conftest import BACKENDS

VOTE_TABLES = {"models", "conversations", "voters", "battles", "votes"}
EVAL_TABLES = {"eval_runs", "eval_results", "judge_battles"}
IMPORT_TABLES = {"battle_imports", "imported_battles"}
HISTORY_TABLES = {"leaderboard_snapshots", "leaderboard_snapshot_rows"}
TABLES = VOTE_TABLES | EVAL_TABLES | IMPORT_TABLES | HISTORY_TABLES | {VERSION_TABLE, "rate_limits"}
HEAD = head_revision()  # (each migration has its own up-and-down test)


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_upgrade_fresh_database(empty_url: str) -> None:
    state = upgrade(empty_url)
    assert state.previous is None
    assert state.current == head_revision() == HEAD
    engine = make_engine(empty_url)
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == TABLES
        uniques = {u["name"] for u in inspector.get_unique_constraints("votes")}
        assert "uq_votes_battle_id" in uniques
        indexes = {i["name"] for i in inspector.get_indexes("votes")}
        assert {"ix_votes_created_at", "ix_votes_voter_id"} <= indexes
        assert "ix_battles_status_created_at" in {
            i["name"] for i in inspector.get_indexes("battles")
        }
        checks = {c["name"] for c in inspector.get_check_constraints("votes")}
        assert "ck_votes_outcome" in checks
        assert schema_state(engine).is_current
    finally:
        engine.dispose()
    # Upgrading again is a no-op.
    again = upgrade(empty_url)
    assert again.previous == again.current == HEAD


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migrations_build_exactly_the_models(empty_url: str) -> None:
    upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_downgrade_then_upgrade(empty_url: str) -> None:
    upgrade(empty_url)
    with locked_connection(empty_url) as conn:
        command.downgrade(alembic_config(conn), "base")
    engine = make_engine(empty_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {VERSION_TABLE}
        assert schema_state(engine).current is None
    finally:
        engine.dispose()
    assert upgrade(empty_url).current == HEAD


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_unmigrated_database_is_refused_with_a_hint(empty_url: str) -> None:
    if empty_url.startswith("sqlite"):
        with pytest.raises(SchemaNotCurrent, match="arena db upgrade"):
            open_engine(empty_url)  # missing file: not created behind the user's back
        assert not Path(empty_url.removeprefix("sqlite:///")).exists()
        make_engine(empty_url, create=True).dispose()
    with pytest.raises(SchemaNotCurrent, match="run `arena db upgrade`"):
        open_engine(empty_url)
    upgrade(empty_url)
    open_engine(empty_url).dispose()


def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(SchemaNotCurrent, match="newer than this version of arena"):
        open_engine(url)


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_concurrent_upgrades_queue(empty_url: str, worker_pool: WorkerPool) -> None:
    """32 processes run ``arena db upgrade`` at once: one migrates, none fails."""
    results = worker_pool.run("upgrade", [{"url": empty_url}] * worker_pool.size)
    assert results == [{"revision": HEAD}] * worker_pool.size
    engine = make_engine(empty_url)
    try:
        assert schema_state(engine).is_current
    finally:
        engine.dispose()
