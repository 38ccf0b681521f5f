"""Migration 0008 (the snapshot schedule slot) up and down, snapshots and votes kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import exc, inspect, text

from arena.store import make_engine, upgrade
from arena.store.migrate import alembic_config, locked_connection

INSERT = (
    "INSERT INTO leaderboard_snapshots (created_at, source, method, data_sha256, n_battles, "
    "n_models, provenance{slot_col}) VALUES (CURRENT_TIMESTAMP, 'web', 'bt', :sha, 1, 2, "
    "'{{}}'{slot_val})"
)


def test_slot_migration_keeps_snapshots_and_makes_a_slot_unique(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    assert upgrade(url, "0007_leaderboard_snapshots").current == "0007_leaderboard_snapshots"
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # a snapshot stored before 0008
            conn.execute(text(INSERT.format(slot_col="", slot_val="")), {"sha": "a" * 64})
        assert upgrade(url, "0008_snapshot_slot_unique").current == "0008_snapshot_slot_unique"
        with engine.begin() as conn:
            assert conn.execute(text("SELECT schedule_slot FROM leaderboard_snapshots")).all() == [
                (None,)
            ]
            insert = text(INSERT.format(slot_col=", schedule_slot", slot_val=", :slot"))
            conn.execute(insert, {"sha": "b" * 64, "slot": 1_800_000_000})
            conn.execute(insert, {"sha": "c" * 64, "slot": None})  # NULLs never collide
        with pytest.raises(exc.IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"sha": "d" * 64, "slot": 1_800_000_000})
        with locked_connection(url) as conn:
            command.downgrade(alembic_config(conn), "0007_leaderboard_snapshots")
        engine.dispose()
        columns = {c["name"] for c in inspect(engine).get_columns("leaderboard_snapshots")}
        assert "schedule_slot" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM leaderboard_snapshots")).scalar() == 3
        assert upgrade(url, "0008_snapshot_slot_unique").current == "0008_snapshot_slot_unique"
    finally:
        engine.dispose()
