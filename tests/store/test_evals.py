"""Evaluation results in the vote database: the 0002 migration, storing, replacing, reading,
and ``arena eval`` storing its run (or saying why it cannot)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from arena.errors import UserError
from arena.harness import EvalResults, MetricValue, TaskResult
from arena.store import (
    EVAL_RESULT_COLUMNS,
    StoreError,
    UnknownEvalRun,
    Vote,
    create_battle,
    eval_results_frame,
    list_eval_runs,
    make_engine,
    make_sessionmaker,
    record_vote,
    set_answers,
    store_eval_results,
    upgrade,
    upsert_models,
)
from arena.store.migrate import alembic_config, head_revision, locked_connection
from arena.store.schema import EvalResult

from .conftest import BACKENDS


def results(acc: float = 0.5, suite_sha256: str = "ab" * 32) -> EvalResults:
    """Two models on two tasks, one metric value missing (NaN: no sample answered)."""

    def task(model: str, name: str, value: float, failed: int = 0) -> TaskResult:
        metrics = {
            "acc": MetricValue(value, value - 0.1, value + 0.1, 0.05, "normal", 10),
            "acc_norm": MetricValue(math.nan, math.nan, math.nan, math.nan, "normal", 0),
        }
        return TaskResult(model, name, "multiple_choice", metrics, 10 + failed, failed, 1.0)

    provenance = {
        "created": "2025-03-01T12:00:10+00:00",
        "seconds": 10.0,
        "suite_sha256": suite_sha256,
        "options": {"limit": 10, "seed": 1234, "tasks": None, "chat_template": False},
        "packages": {"python": "3.11.9", "arena": "0.1.0", "torch": None},
    }
    return EvalResults(
        "smoke",
        (
            task("m1", "t1", acc),
            task("m1", "t2", 0.25, failed=2),
            task("m2", "t1", 0.75),
            task("m2", "t2", 0.125),
        ),
        provenance,
    )


def test_store_and_read_back(
    sessions: sessionmaker[Session], read_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions.begin() as session:
        record = store_eval_results(session, results(), tmp_path / "run")
    assert record.suite == "smoke" and record.n_results == 8
    assert record.models == ("m1", "m2")
    assert record.run_dir == str((tmp_path / "run").resolve())
    assert record.started_at == pd.Timestamp("2025-03-01T12:00:00+00:00")
    assert record.finished_at == pd.Timestamp("2025-03-01T12:00:10+00:00")
    with read_sessions() as session:
        (run,) = list_eval_runs(session)
        frame = eval_results_frame(session, run.id)
    assert run == record
    assert run.options["limit"] == 10 and run.packages["python"] == "3.11.9"
    assert tuple(frame.columns) == EVAL_RESULT_COLUMNS
    expected = results().table()
    pd.testing.assert_frame_equal(
        frame.drop(columns="run_id"),
        expected[list(EVAL_RESULT_COLUMNS[1:])],
        check_dtype=False,
    )
    acc_norm = frame[frame["metric"] == "acc_norm"]
    assert acc_norm["value"].isna().all() and (acc_norm["n"] == 0).all()
    assert frame.loc[(frame["model"] == "m1") & (frame["task"] == "t2"), "n_failed"].eq(2).all()


def test_storing_the_same_run_again_replaces_it(
    sessions: sessionmaker[Session], read_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    with sessions.begin() as session:
        first = store_eval_results(session, results(acc=0.5), run_dir)
    with sessions.begin() as session:  # e.g. after --resume: same directory, same suite
        again = store_eval_results(session, results(acc=0.9), run_dir)
    assert again.id == first.id and again.n_results == 8
    with sessions.begin() as session:  # another directory, or the suite changed: a new run
        other_dir = store_eval_results(session, results(), tmp_path / "other")
        other_suite = store_eval_results(session, results(suite_sha256="cd" * 32), run_dir)
    assert len({first.id, other_dir.id, other_suite.id}) == 3
    with read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(EvalResult)) == 24
        frame = eval_results_frame(session, first.id)
        assert list_eval_runs(session, suite="smoke")[0].id == other_suite.id
        assert len(eval_results_frame(session)) == 24
    value = frame.loc[
        (frame["model"] == "m1") & (frame["task"] == "t1") & (frame["metric"] == "acc")
    ]
    assert value["value"].tolist() == [0.9]


def test_unknown_run_and_results_without_a_suite_hash(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with sessions() as session, pytest.raises(UnknownEvalRun, match="no stored evaluation run"):
        eval_results_frame(session, 12345)
    bare = EvalResults("s", results().results, {})
    with sessions.begin() as session, pytest.raises(StoreError, match="no suite hash"):
        store_eval_results(session, bare, tmp_path)


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_migration_0002_up_and_down_keeps_the_votes(empty_url: str, tmp_path: Path) -> None:
    assert upgrade(empty_url, "0001").current == "0001"
    engine = make_engine(empty_url)
    try:
        assert not {"eval_runs", "eval_results"} & set(inspect(engine).get_table_names())
        with make_sessionmaker(engine).begin() as session:
            upsert_models(session, [{"name": "a"}, {"name": "b"}])
            battle = create_battle(session, "a", "b", "prompt")
            set_answers(session, battle.id, "x", "y")
            record_vote(session, battle.id, "model_a", "voter")
        state = upgrade(empty_url)
        assert (state.previous, state.current) == ("0001", head_revision())
        inspector = inspect(engine)
        assert {"eval_runs", "eval_results"} <= set(inspector.get_table_names())
        uniques = {u["name"] for u in inspector.get_unique_constraints("eval_results")}
        assert "uq_eval_results_run_id_model_task_metric" in uniques
        with make_sessionmaker(engine).begin() as session:
            store_eval_results(session, results(), tmp_path / "run")
            assert session.scalar(select(func.count()).select_from(Vote)) == 1
        with locked_connection(empty_url) as conn:
            command.downgrade(alembic_config(conn), "0001")
        engine.dispose()
        tables = set(inspect(engine).get_table_names())
        assert not {"eval_runs", "eval_results"} & tables and "votes" in tables
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Vote)) == 1
        assert upgrade(empty_url).current == head_revision()
    finally:
        engine.dispose()


# -- arena eval ---------------------------------------------------------------------------------


def run_eval(argv: list[str]) -> int:
    from arena.cli import eval as eval_cli

    parser = argparse.ArgumentParser(prog="arena")
    eval_cli.register(parser.add_subparsers())
    args = parser.parse_args(["eval", *argv])
    return int(args.func(args))


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text('[[models]]\nname = "f"\nbackend = "fake"\n')
    return path


def eval_argv(models_file: Path, output: Path, *extra: str) -> list[str]:
    return [
        "--suite",
        "smoke",
        "--task",
        "smoke_mc",
        "--models",
        str(models_file),
        "--model",
        "f",
        "--limit",
        "3",
        "-o",
        str(output),
        "--no-progress",
        *extra,
    ]


def test_arena_eval_stores_its_run_once(
    tmp_path: Path, models_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade(url)
    output = tmp_path / "run"
    assert run_eval(eval_argv(models_file, output, "--database", url)) == 0
    assert "stored as evaluation run 1 (2 results)" in capsys.readouterr().err
    assert run_eval(eval_argv(models_file, output, "--database", url, "--resume")) == 0
    assert "stored as evaluation run 1 (2 results)" in capsys.readouterr().err
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine, read_only=True)() as session:
            (run,) = list_eval_runs(session)
            frame = eval_results_frame(session, run.id)
    finally:
        engine.dispose()
    assert run.suite == "smoke" and run.run_dir == str(output.resolve())
    assert run.options["limit"] == 3 and run.packages["python"]
    assert run.started_at is not None and run.finished_at is not None
    assert run.started_at <= run.finished_at
    assert sorted(frame["metric"]) == ["acc", "acc_norm"] and (frame["n"] == 3).all()


def test_arena_eval_migrates_the_database_and_fails_fast(
    tmp_path: Path, models_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a fresh database, and one at the old schema, are migrated by the command itself
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert run_eval(eval_argv(models_file, tmp_path / "a", "--database", fresh)) == 0
    old = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(old, "0001")
    assert run_eval(eval_argv(models_file, tmp_path / "b", "--database", old)) == 0
    assert capsys.readouterr().err.count("stored as evaluation run 1") == 2
    # an unreachable database is reported before anything runs
    (tmp_path / "a-file").write_text("not a directory")
    unreachable = f"sqlite:///{tmp_path / 'a-file' / 'x.db'}"
    with pytest.raises(UserError):
        run_eval(eval_argv(models_file, tmp_path / "c", "--database", unreachable))
    assert not (tmp_path / "c").exists()
    assert (
        run_eval(eval_argv(models_file, tmp_path / "d", "--database", unreachable, "--no-store"))
        == 0
    )
    assert "stored as" not in capsys.readouterr().err
