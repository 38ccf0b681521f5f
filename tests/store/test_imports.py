"""Imported public battles: stored as counts, idempotent, skipped rows reported, read-only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from arena.battles import read_battles
from arena.errors import UserError
from arena.leaderboard import compute_leaderboard
from arena.store import (
    UnknownBattle,
    make_engine,
    make_sessionmaker,
    record_vote,
    upgrade,
    vote_stats,
)
from arena.store.imports import import_battles, imported_battles, list_sources, remove_source
from arena.store.migrate import alembic_config, locked_connection
from arena.store.schema import BattleImport, ImportedBattle

from .conftest import BACKENDS

#: Three models with known pair counts: A beats B 30-10, B beats C 30-10, A beats C 36-4.
COUNTS = pd.DataFrame(
    {
        "model_a": ["A", "B", "A"],
        "model_b": ["B", "C", "C"],
        "wins_a": [30, 30, 36],
        "wins_b": [10, 10, 4],
        "tie": [4, 0, 0],
        "tie_bothbad": [0, 2, 0],
    }
)


def counts_file(tmp_path: Path, name: str = "counts.csv") -> Path:
    path = tmp_path / name
    COUNTS.to_csv(path, index=False)
    return path


def stored_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count(ImportedBattle.id))) or 0)


def test_pair_counts_import_as_counts_and_rate_like_the_file(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = counts_file(tmp_path)
    with sessions.begin() as session:
        report = import_battles(session, path, "public")
    assert not report.already_imported
    assert report.n_battles == 126 and report.n_models == 3 and report.format == "paircounts"
    assert report.n_rows == 8  # one row per pair and outcome with a count, not 126
    assert stored_rows(sessions) == 8
    with sessions() as session:
        battles = imported_battles(session)
    assert battles is not None and battles.n_battles == 126 and not battles.ordered
    ours = compute_leaderboard(battles, ci="none").table.set_index("model")["rating"]
    direct = compute_leaderboard(read_battles(path), ci="none").table.set_index("model")["rating"]
    assert ours.to_dict() == pytest.approx(direct.to_dict(), abs=1e-9)
    assert list(ours.sort_values(ascending=False).index) == ["A", "B", "C"]


def test_the_same_file_twice_adds_nothing_and_says_so(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = counts_file(tmp_path)
    with sessions.begin() as session:
        import_battles(session, path, "public")
    with sessions.begin() as session:
        again = import_battles(session, path, "public")
    assert again.already_imported and again.n_battles == 126
    assert "already imported" in again.describe() and "nothing added" in again.describe()
    assert stored_rows(sessions) == 8
    with sessions() as session:
        assert list_sources(session)[0].files == 1


def test_the_same_battles_in_another_format_are_recognised(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    models = ["A", "B", "C"]
    doc = {
        "models": models,
        "X": [
            [models.index(a), models.index(b)]
            for a, b in zip(COUNTS.model_a, COUNTS.model_b, strict=True)
        ],
        "Y": COUNTS[["wins_a", "wins_b", "tie", "tie_bothbad"]].to_numpy().tolist(),
    }
    as_json = tmp_path / "counts.json"  # leaderbot's layout, other bytes, same battles
    as_json.write_text(json.dumps(doc))
    with sessions.begin() as session:
        import_battles(session, counts_file(tmp_path), "public")
    with sessions.begin() as session:
        assert import_battles(session, as_json, "public").already_imported
    with pytest.raises(UserError, match="would count them twice"), sessions.begin() as session:
        import_battles(session, as_json, "other")
    assert stored_rows(sessions) == 8


def test_bad_rows_are_skipped_with_reasons_and_line_numbers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "anony": True, "language": "en"},
        {"model_a": "x", "model_b": "x", "winner": "tie"},
        None,  # a blank line: numbering follows the file's lines
        {"model_a": "x", "model_b": "y", "winner": "banana"},
        {"model_a": "", "model_b": "y", "winner": "tie"},
        {"model_a": "y", "model_b": "x", "winner": "tie (bothbad)", "anony": "maybe"},
        {"model_a": "y" * 201, "model_b": "x", "winner": "tie"},
        {"model_a": "y", "model_b": "x", "winner": "model_b", "anony": False},
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join("" if r is None else json.dumps(r) for r in lines) + "\n")
    with sessions.begin() as session:
        report = import_battles(session, path, "log")
    assert report.n_battles == 2 and report.n_skipped == 5
    assert report.skipped["with the same model on both sides"] == {"rows": 1, "first": [2]}
    assert report.skipped["without a model name on both sides"]["first"] == [5]
    assert report.skipped["whose anony is not true or false"]["first"] == [6]
    assert report.skipped["with a model name over 200 characters"]["first"] == [7]
    unknown = next(v for k, v in report.skipped.items() if k.startswith("whose winner"))
    assert unknown["first"] == [4]
    assert "skipped 5 rows" in report.describe()
    with sessions() as session:
        stored = session.scalars(select(BattleImport)).one()
        assert stored.n_skipped == 5 and stored.skipped == report.skipped
        anonymous = imported_battles(session)
        everything = imported_battles(session, anonymous_only=False)
    assert anonymous is not None and anonymous.n_battles == 1  # anony false is left out
    assert everything is not None and everything.n_battles == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("model_a,model_b,wins_a,wins_b\nA,B,-3,1\n", "whole numbers of at least 0"),
        ("model_a,model_b,wins_a,wins_b\nA,B,1.5,1\n", "whole numbers of at least 0"),
        ("model_a,model_b,wins_a,wins_b\nA,B,lots,1\n", "whole numbers of at least 0"),
        ("model_a,model_b,wins_a,wins_b\nA,B,0,0\n", "all 0"),
        ("model_a,model_b,wins_a,wins_b\nA,B,1e300,1\n", "count above 2,147,483,647"),
        ("model_a,model_b,wins_a,wins_b\nA,B,inf,1\n", "whole numbers of at least 0"),
        ("model_a,model_b,winner\nA,A,tie\n", "same model"),
    ],
)
def test_a_file_with_no_usable_row_is_refused_and_stores_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(UserError, match=reason), sessions.begin() as session:
        import_battles(session, path, "bad")
    with sessions() as session:
        assert session.scalar(select(func.count(BattleImport.id))) == 0


def test_hostile_source_names_and_files_are_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = counts_file(tmp_path)
    for name in ("", "a b", "x;drop table votes", "../up", "é" * 3, "a" * 101):
        with pytest.raises(UserError, match="source name"), sessions.begin() as session:
            import_battles(session, path, name)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("[1, 2")
    with pytest.raises(UserError, match="not valid JSON"), sessions.begin() as session:
        import_battles(session, garbage, "x")


def test_imported_battles_are_read_only_and_cannot_be_voted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as session:
        import_battles(session, counts_file(tmp_path), "public")
    with pytest.raises(DBAPIError, match="read-only"), sessions.begin() as session:
        session.execute(update(ImportedBattle).values(count=1000))
    with pytest.raises(DBAPIError, match="read-only"), sessions.begin() as session:
        session.execute(text("UPDATE battle_imports SET n_battles = 0"))
    with sessions() as session:
        some_id = session.scalar(select(ImportedBattle.id))
    assert some_id is not None
    # the vote API knows only live battles
    with pytest.raises(UnknownBattle), sessions.begin() as session:
        record_vote(session, some_id, "model_a", "voter-1")
    with sessions() as session:
        assert vote_stats(session).n_votes == 0
        battles = imported_battles(session)
    assert battles is not None and battles.n_battles == 126


def test_sources_are_listed_and_removed_whole(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as session:
        import_battles(session, counts_file(tmp_path), "public")
    log = tmp_path / "log.json"
    log.write_text(json.dumps([{"model_a": "A", "model_b": "D", "winner": "model_b"}] * 3))
    with sessions.begin() as session:
        import_battles(session, log, "local")
    with sessions() as session:
        assert [(s.source, s.n_battles) for s in list_sources(session)] == [
            ("local", 3),
            ("public", 126),
        ]
        only_local = imported_battles(session, ["local"])
    assert only_local is not None and set(only_local.models) == {"A", "D"}
    with sessions.begin() as session:
        assert remove_source(session, "public") == 126
    missing = pytest.raises(UserError, match="no imported source named 'public'")
    with missing, sessions.begin() as session:
        remove_source(session, "public")
    with sessions() as session:
        left = imported_battles(session)
    assert left is not None and left.n_battles == 3
    assert np.array_equal(np.sort(left.count), [3])


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migration_0005_up_and_down(empty_url: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    script = ScriptDirectory.from_config(alembic_config()).get_revision("0005_battle_sources")
    assert script is not None and script.down_revision == "0004_rate_limits"
    assert upgrade(empty_url, "0004_rate_limits").current == "0004_rate_limits"
    assert upgrade(empty_url, "0005_battle_sources").current == "0005_battle_sources"
    engine = make_engine(empty_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            import_battles(session, counts_file(tmp_path), "public")
        with locked_connection(empty_url) as conn:
            command.downgrade(alembic_config(conn), "0004_rate_limits")
        engine.dispose()
        assert not {"battle_imports", "imported_battles"} & set(inspect(engine).get_table_names())
        again = upgrade(empty_url, "0005_battle_sources")  # and up again, triggers too
        assert again.current == "0005_battle_sources"
        with pytest.raises(DBAPIError, match="read-only"), make_sessionmaker(engine).begin() as s:
            import_battles(s, counts_file(tmp_path), "public")
            s.execute(update(ImportedBattle).values(count=1))
    finally:
        engine.dispose()


def test_names_that_are_not_text_are_skipped(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [
        {"model_a": 5, "model_b": "y", "winner": "tie"},
        {"model_a": None, "model_b": "y", "winner": "tie"},
        {"model_a": ["x"], "model_b": "y", "winner": 1},
        {"model_a": " x ", "model_b": "y", "winner": " Model_A "},
    ]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(rows))
    with sessions.begin() as session:
        report = import_battles(session, path, "odd")
    assert report.n_battles == 1 and report.n_skipped == 3
    assert report.skipped["without a model name on both sides"]["first"] == [1, 2, 3]
    with sessions() as session:
        battles = imported_battles(session)
    assert battles is not None and set(battles.models) == {"x", "y"}  # names stripped
