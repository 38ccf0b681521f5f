"""``arena db`` and ``arena votes`` (parsed and run the way ``arena.cli.main`` does)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from arena.cli import db as db_cli
from arena.cli import votes as votes_cli
from arena.errors import UserError
from arena.store import ENV_VAR, create_battle, record_vote, set_answers, upsert_models
from arena.store.migrate import head_revision

from .conftest import BACKENDS


def arena(argv: Sequence[str]) -> int:
    """Mirror of ``arena.cli.main.main`` with the two store command groups registered."""
    parser = argparse.ArgumentParser(prog="arena")
    sub = parser.add_subparsers(dest="command", required=True)
    db_cli.register(sub)
    votes_cli.register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as error:
        print(f"arena: error: {error}", file=sys.stderr)
        return 2


@pytest.mark.parametrize("empty_url", BACKENDS, indirect=True)
def test_db_upgrade_and_current(empty_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = head_revision()
    if empty_url.startswith("postgresql"):
        assert arena(["db", "current", "--database", empty_url]) == 1
        assert f"none (head is {head}: run `arena db upgrade`)" in capsys.readouterr().out
    assert arena(["db", "upgrade", "--database", empty_url]) == 0
    assert f"upgraded from an empty database to revision {head}" in capsys.readouterr().out
    assert arena(["db", "upgrade", "--database", empty_url]) == 0
    assert f"already at revision {head} (head)" in capsys.readouterr().out
    assert arena(["db", "current", "--database", empty_url]) == 0
    assert capsys.readouterr().out.strip() == f"{head} (head)"


def test_db_commands_use_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, f"sqlite:///{tmp_path / 'env' / 'votes.db'}")
    assert arena(["db", "current"]) == 2
    assert "run `arena db upgrade`" in capsys.readouterr().err
    assert arena(["db", "upgrade"]) == 0
    assert (tmp_path / "env" / "votes.db").is_file()
    assert not (tmp_path / "data").exists()


def test_bad_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert arena(["votes", "--database", "postgresql://arena:pw@127.0.0.1:1/arena"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("arena: error: cannot connect") and err.count("\n") == 1
    assert "pw@" not in err


@pytest.fixture
def url_with_votes(db_url: str, sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as session:
        upsert_models(session, [{"name": "a"}, {"name": "b"}])
        for i, outcome in enumerate(("model_a", "model_b", "tie")):
            battle = create_battle(session, "a", "b", f"prompt, {i}", language="English")
            set_answers(session, battle.id, f'answer "a" {i}', f"answer\nb {i}")
            record_vote(session, battle.id, outcome, f"voter{i}")
    return db_url


def test_votes_to_stdout(url_with_votes: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert arena(["votes", "--database", url_with_votes]) == 0
    captured = capsys.readouterr()
    frame = pd.read_csv(io.StringIO(captured.out))
    assert list(frame["winner"]) == ["model_a", "model_b", "tie"]
    assert json.loads(frame["conversation_b"][1])[1]["content"] == "answer\nb 1"
    assert "exported 3 votes" in captured.err

    assert arena(["votes", "--database", url_with_votes, "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["voter"] for line in lines] == ["voter0", "voter1", "voter2"]


def test_votes_to_files(
    url_with_votes: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out.parquet"
    assert arena(["votes", "--database", url_with_votes, "--output", str(target)]) == 0
    assert "wrote 3 votes to" in capsys.readouterr().err
    assert len(pd.read_parquet(target)) == 3
    jsonl = tmp_path / "out.txt"
    argv = ["votes", "--database", url_with_votes, "--output", str(jsonl), "--format", "jsonl"]
    assert arena(argv) == 0
    assert len(jsonl.read_text().splitlines()) == 3
    # the format follows the suffix: .ndjson is JSON Lines, .PQ Parquet, an unknown one CSV
    readers: list[tuple[str, Callable[[Path], pd.DataFrame]]] = [
        ("v.ndjson", lambda p: pd.read_json(p, lines=True)),
        ("v.PQ", pd.read_parquet),
        ("v.dat", pd.read_csv),
    ]
    for name, read in readers:
        assert arena(["votes", "--database", url_with_votes, "--output", str(tmp_path / name)]) == 0
        assert list(read(tmp_path / name)["winner"]) == ["model_a", "model_b", "tie"]


def test_votes_cli_offers_exactly_the_stores_formats() -> None:
    from arena.store.export import EXPORT_FORMATS

    assert votes_cli.VOTE_FORMATS == EXPORT_FORMATS


def test_votes_errors(
    url_with_votes: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert arena(["votes", "--database", url_with_votes, "--format", "parquet"]) == 2
    assert "give --output PATH" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "folder" / "v.csv"
    assert arena(["votes", "--database", url_with_votes, "--output", str(missing)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert arena(["votes", "--database", f"sqlite:///{tmp_path / 'none.db'}"]) == 2
    assert "run `arena db upgrade`" in capsys.readouterr().err


def test_votes_stats(url_with_votes: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert arena(["votes", "--database", url_with_votes, "--stats"]) == 0
    out = capsys.readouterr().out
    assert "votes: 3 from 3 voters" in out
    assert "model_a 1, model_b 1, tie 1, tie (bothbad) 0" in out
