"""Judge battles in the vote database: the 0003 migration, storing, replacing on a re-run,
reading back in the FastChat layout the ratings engine reads."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from arena.battles import from_frame
from arena.store import (
    JUDGE_BATTLE_COLUMNS,
    StoreError,
    Vote,
    create_battle,
    judge_battles_frame,
    list_judges,
    make_engine,
    make_sessionmaker,
    record_vote,
    set_answers,
    store_judge_battles,
    upgrade,
    upsert_models,
)
from arena.store.migrate import alembic_config, head_revision, locked_connection

from .conftest import BACKENDS


def battles(winner: str = "model_a", n: int = 3) -> list[dict[str, Any]]:
    """``n`` battles of a over b (and one of b over c), as ``run_judge`` gives them."""
    out: list[dict[str, Any]] = [
        {
            "model_a": "a",
            "model_b": "b",
            "winner": winner,
            "question_id": 81 + i,
            "turn": 1,
            "tstamp": 1_700_000_000.0 + i,
            "judge": "ignored: the judge is an argument",
        }
        for i in range(n)
    ]
    out.append({"model_a": "b", "model_b": "c", "winner": "tie", "question_id": "q3", "turn": 2})
    return out


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
def test_store_read_and_replace_on_rerun(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            assert list_judges(session) == []
            assert list(judge_battles_frame(session).columns) == list(JUDGE_BATTLE_COLUMNS)
            assert store_judge_battles(session, "/runs/one", "big", battles()) == 4
            assert store_judge_battles(session, "/runs/two", "small", battles("model_b", 1)) == 2
        with sessions() as session:
            assert list_judges(session) == ["big", "small"]
            frame = judge_battles_frame(session, "big")
            everything = judge_battles_frame(session)
        assert list(frame.columns) == list(JUDGE_BATTLE_COLUMNS)
        assert len(frame) == 4 and len(everything) == 6
        assert list(frame["winner"]) == ["model_a"] * 3 + ["tie"]
        assert list(frame["question_id"]) == ["81", "82", "83", "q3"]
        assert list(frame["turn"]) == [1, 1, 1, 2]
        assert frame["tstamp"].iloc[0] == 1_700_000_000.0 and frame["tstamp"].isna().iloc[3]
        assert set(frame["judge"]) == {"big"} and not frame["anony"].any()
        table = from_frame(frame, style=False)
        assert table.n_battles == 4 and set(table.models) == {"a", "b", "c"}

        # A resumed run stores again under its label: replaced, not duplicated.
        with sessions.begin() as session:
            store_judge_battles(session, "/runs/one", "big", battles("model_b", 2))
        with sessions() as session:
            frame = judge_battles_frame(session, "big")
            assert len(judge_battles_frame(session, "small")) == 2
        assert list(frame["winner"]) == ["model_b", "model_b", "tie"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bad_battles_are_refused_with_their_position(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            bad = [*battles(), {"model_a": "a", "model_b": "b", "winner": "A"}]
            with pytest.raises(StoreError, match="judge battle 5 of run 'r' has winner 'A'"):
                store_judge_battles(session, "r", "big", bad)
            with pytest.raises(StoreError, match="judge battle 1 of run 'r' has no model_b"):
                store_judge_battles(session, "r", "big", [{"model_a": "a", "winner": "tie"}])
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migration_0003_up_and_down_keeps_the_votes(empty_url: str) -> None:
    assert upgrade(empty_url, "0002").current == "0002"
    engine = make_engine(empty_url)
    try:
        assert "judge_battles" not in inspect(engine).get_table_names()
        with make_sessionmaker(engine).begin() as session:
            upsert_models(session, [{"name": "a"}, {"name": "b"}])
            battle = create_battle(session, "a", "b", "prompt")
            set_answers(session, battle.id, "x", "y")
            record_vote(session, battle.id, "model_a", "voter")
        state = upgrade(empty_url)
        assert (state.previous, state.current) == ("0002", head_revision())
        inspector = inspect(engine)
        assert "judge_battles" in inspector.get_table_names()
        checks = {c["name"] for c in inspector.get_check_constraints("judge_battles")}
        assert "ck_judge_battles_winner" in checks
        with make_sessionmaker(engine).begin() as session:
            store_judge_battles(session, "run", "big", battles())
        with locked_connection(empty_url) as conn:
            command.downgrade(alembic_config(conn), "0002")
        engine.dispose()
        tables = set(inspect(engine).get_table_names())
        assert "judge_battles" not in tables and {"votes", "eval_runs"} <= tables
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Vote)) == 1
        assert upgrade(empty_url).current == head_revision()
    finally:
        engine.dispose()
