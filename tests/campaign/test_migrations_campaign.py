"""Migrations 0006 (models.family) and 0007 (leaderboard snapshots) up and down, data kept."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import func, inspect, select

from arena.store import (
    Vote,
    create_battle,
    list_models,
    make_engine,
    make_sessionmaker,
    record_vote,
    set_answers,
    start_generation,
    upgrade,
    upsert_models,
)
from arena.store.migrate import alembic_config, head_revision, locked_connection


def test_family_and_snapshot_migrations_keep_the_votes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    assert upgrade(url, "0005_battle_sources").current == "0005_battle_sources"
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session:  # written before 0006 exists
            upsert_models(session, [{"name": "a"}, {"name": "b"}])
            battle = create_battle(session, "a", "b", "prompt")
            start_generation(session, battle.id)
            set_answers(session, battle.id, "x", "y")
            record_vote(session, battle.id, "model_a", "voter")
        assert upgrade(url, "0007_leaderboard_snapshots").current == "0007_leaderboard_snapshots"
        columns = {c["name"] for c in inspect(engine).get_columns("models")}
        assert "family" in columns
        with make_sessionmaker(engine).begin() as session:
            upsert_models(session, [{"name": "a", "family": "fam"}, {"name": "b"}])
        with make_sessionmaker(engine)() as session:
            assert {m.name: m.family for m in list_models(session)} == {"a": "fam", "b": None}
        with locked_connection(url) as conn:
            command.downgrade(alembic_config(conn), "0005_battle_sources")
        engine.dispose()
        inspector = inspect(engine)
        assert "family" not in {c["name"] for c in inspector.get_columns("models")}
        assert "leaderboard_snapshots" not in inspector.get_table_names()
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Vote)) == 1
        assert upgrade(url).current == head_revision()
    finally:
        engine.dispose()
